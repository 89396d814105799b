"""Sessions: Django's `cached_db` store (read from the cache, written through to the
database, so losing Redis signs nobody out), drawing a new session's key without looking
it up first, and writing a new session to the cache once."""

from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDbSessionStore

from shop.csrf import random_string


class SessionStore(CachedDbSessionStore):
    def _get_new_session_key(self) -> str:
        """A new random key, not looked up. Django asks the cache and then the database
        whether a new key is taken (a cache round trip and a query on every new session:
        every guest's first add to the cart, every sign-in), then create() INSERTs it
        anyway with must_create, which fails on a taken key and draws another: the
        database's unique key alone decides, as it must under concurrency. Drawn as
        Django's (32 of its characters, each as likely) in one read of the random source."""
        return random_string(32, VALID_KEY_CHARS)

    def save(self, must_create: bool = False) -> None:
        """Django's cached_db writes a new session to the cache twice: create() saves it
        (the INSERT, then the cache), and the save that called create() writes the cache
        again. Here a new session is create()'s alone: one cache round trip less on every
        guest's first add to the cart and every sign-in."""
        if self.session_key is None:
            return self.create()
        return super().save(must_create)
