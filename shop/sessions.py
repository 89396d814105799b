"""Sessions: Django's `cached_db` store (read from the cache, written through to the
database, so losing Redis signs nobody out), drawing a new session's key without looking
it up first."""

from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDbSessionStore
from django.utils.crypto import get_random_string


class SessionStore(CachedDbSessionStore):
    def _get_new_session_key(self) -> str:
        """A new random key, not looked up. Django asks the cache and then the database
        whether a new key is taken (a cache round trip and a query on every new session:
        every guest's first add to the cart, every sign-in), then create() INSERTs it
        anyway with must_create, which fails on a taken key and draws another: the
        database's unique key alone decides, as it must under concurrency."""
        return get_random_string(32, VALID_KEY_CHARS)
