"""Sessions: Django's `cached_db` store (read from the cache, written through to the
database, so losing Redis signs nobody out), read from the cache as cached pages are,
drawing a new session's key without looking it up first, writing a new session in one
statement and to the cache once, and a changed one in one statement."""

import logging
from functools import cache

from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDbSessionStore
from django.db import DatabaseError, connections, router
from django.db.models import Model
from django_redis.client import DefaultClient
from redis.exceptions import RedisError

from catalog import cache as catalog_cache
from shop.cookies import held_signer
from shop.csrf import random_string
from shop.sql import quoted

logger = logging.getLogger("django.contrib.sessions")


class _SessionCache:
    """The sessions' cache, its get() and set() on this thread's own connection with
    django-redis (catalog.cache.own_round_trip): a session is read from the cache on every
    request that brings one, and written on every change; through django-redis's and
    redis-py's command paths each cost about three times the round trip's own CPU. A Redis
    error goes the library's way (retried, then IGNORE_EXCEPTIONS: a miss, a write lost),
    as before. Anything else is the cache's own."""

    def __init__(self, cache):
        self.cache = cache

    def get(self, key: str, default=None):
        client = getattr(self.cache, "client", None)
        if type(client) is not DefaultClient:
            return self.cache.get(key, default)
        try:
            value = catalog_cache.own_round_trip(client, "GET", client.make_key(key))
        except RedisError:
            return self.cache.get(key, default)
        return default if value is None else client.decode(value)

    def set(self, key: str, value, timeout: int) -> None:
        """As django-redis's set(): the value for `timeout` seconds (none: dropped)."""
        client = getattr(self.cache, "client", None)
        if type(client) is not DefaultClient or timeout <= 0:
            return self.cache.set(key, value, timeout)
        try:
            catalog_cache.own_round_trip(
                client, "SET", client.make_key(key), client.encode(value), "PX", timeout * 1000
            )
        except RedisError:
            self.cache.set(key, value, timeout)
        return None

    def __contains__(self, key: str) -> bool:
        return key in self.cache

    def __getattr__(self, name: str):
        return getattr(self.cache, name)


class SessionStore(CachedDbSessionStore):
    def __init__(self, session_key=None):
        super().__init__(session_key)
        self._cache = _SessionCache(self._cache)

    def _get_new_session_key(self) -> str:
        """A new random key, not looked up. Django asks the cache and then the database
        whether a new key is taken (a cache round trip and a query on every new session:
        every guest's first add to the cart, every sign-in), then create() INSERTs it
        anyway with must_create, which fails on a taken key and draws another: the
        database's unique key alone decides, as it must under concurrency. Drawn as
        Django's (32 of its characters, each as likely) in one read of the random source."""
        return random_string(32, VALID_KEY_CHARS)

    def encode(self, session_dict: dict) -> str:
        """Django's encode() (signing.dumps(), which Django's decode() reads), signed with
        a signer made once (shop.cookies.held_signer): Django's makes one and
        derives its HMAC key for every session written."""
        return held_signer(self.key_salt).sign_object(
            session_dict, serializer=self.serializer, compress=True
        )

    def save(self, must_create: bool = False) -> None:
        """Django's cached_db writes a new session to the cache twice: create() saves it
        (the INSERT, then the cache), and the save that called create() writes the cache
        again. Here a new session is create()'s alone: one cache round trip less on every
        guest's first add to the cart and every sign-in."""
        if self.session_key is None:
            return self.create()
        if must_create:
            return self._insert()
        return self._update()

    def _insert(self) -> None:
        """A new session's row, as Django's save(must_create=True) writes it, in one
        statement: `INSERT ... ON CONFLICT DO NOTHING` says a taken key by the rows it
        wrote (none) where Django's INSERT raised inside a savepoint of its own (three
        statements in a transaction, four round trips and the ORM's model save: a fifth of
        a guest's first add to the cart). Committed on its own, waiting for the disk as
        every session's write does (and with it every earlier commit, such as the new cart
        the session is made for); inside a transaction, with it. Then the cache."""
        # The data first, as Django's save() reads it: asked for before it, the expiry would
        # load the session (a cache miss and a query) and, not finding it, drop its key.
        data = self._get_session(no_load=True)
        expire_date = self.get_expiry_date()
        using = router.db_for_write(self.model)
        connection = connections[using]
        field = self.model._meta.get_field("expire_date")
        with connection.cursor() as cursor:
            cursor.execute(
                _insert_sql(using, self.model),
                [
                    self.session_key,
                    self.encode(data),
                    field.get_db_prep_value(expire_date, connection),
                ],
            )
            if cursor.rowcount != 1:
                raise CreateError
        self._write_cache(data, expire_date)

    def _update(self) -> None:
        """A changed session's row, as Django's save() writes it (the data and the expiry by
        the key), in one statement: Django's model save ran it in a transaction of its own
        (BEGIN, the UPDATE, COMMIT: two round trips and the ORM's save, a tenth of the
        checkout's details posted and of placing the order). A session no longer in the
        database (deleted meanwhile: signed out elsewhere, expired and cleared) raises
        UpdateError, as Django's forced update did. Then the cache."""
        data = self._get_session()
        expire_date = self.get_expiry_date()
        using = router.db_for_write(self.model)
        connection = connections[using]
        field = self.model._meta.get_field("expire_date")
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    _update_sql(using, self.model),
                    [
                        self.encode(data),
                        field.get_db_prep_value(expire_date, connection),
                        self.session_key,
                    ],
                )
                updated = cursor.rowcount
        except DatabaseError as error:
            raise UpdateError from error
        if updated != 1:
            raise UpdateError
        self._write_cache(data, expire_date)

    def _write_cache(self, data: dict, expire_date) -> None:
        try:
            self._cache.set(self.cache_key, data, self.get_expiry_age(expiry=expire_date))
        except Exception:
            logger.exception("Error saving to cache (%s)", self._cache)


@cache
def _insert_sql(using: str, session: type[Model]) -> str:
    """The session's INSERT, with the model's own table and column names (every value a
    parameter); PostgreSQL and SQLite both write nothing on a taken key."""
    table, *columns = quoted(using, session, "session_key", "session_data", "expire_date")
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES (%s, %s, %s) "  # noqa: S608 # nosec B608
        "ON CONFLICT DO NOTHING"
    )


@cache
def _update_sql(using: str, session: type[Model]) -> str:
    """The session's UPDATE of its data and expiry by its key."""
    table, key, data, expire_date = quoted(
        using, session, "session_key", "session_data", "expire_date"
    )
    return f"UPDATE {table} SET {data} = %s, {expire_date} = %s WHERE {key} = %s"  # noqa: S608 # nosec B608
