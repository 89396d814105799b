"""shop.sessions: Django's cached_db sessions, a new key drawn without a lookup."""

from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase, UpdateError
from django.contrib.sessions.backends.cached_db import SessionStore as DjangosCachedDbStore
from django.contrib.sessions.backends.db import SessionStore as DjangosDbStore
from django.contrib.sessions.models import Session
from django.core import signing
from django.core.cache import caches
from django.utils import timezone
from django.utils.functional import empty

from accounts.tests.factories import UserFactory
from shop.middleware import sessionless_guest
from shop.sessions import SessionStore

pytestmark = pytest.mark.django_db


def test_a_new_session_is_one_insert_without_a_lookup(django_assert_num_queries):
    session = SessionStore()
    session["cart_id"] = 7
    # The INSERT alone: no savepoint around it (a taken key writes no row, raises nothing).
    with django_assert_num_queries(1):
        session.save()
    assert SessionStore(session_key=session.session_key)["cart_id"] == 7


def test_a_taken_key_is_never_shared_another_is_drawn():
    ann = SessionStore()
    ann["cart_id"] = 1
    ann.save()
    taken, fresh = ann.session_key, "b" * 32
    bob = SessionStore()
    bob["cart_id"] = 2
    with mock.patch.object(SessionStore, "_get_new_session_key", side_effect=[taken, fresh]):
        bob.save()
    assert bob.session_key == fresh
    assert SessionStore(session_key=taken)["cart_id"] == 1
    assert Session.objects.count() == 2


def test_a_new_session_is_written_to_the_cache_once(django_assert_num_queries):
    session = SessionStore()
    session["cart_id"] = 7
    with mock.patch.object(session._cache, "set", wraps=session._cache.set) as cache_set:
        session.save()
    assert cache_set.call_count == 1
    # Read back from the cache alone (no query), as every later request reads it.
    with django_assert_num_queries(0):
        assert SessionStore(session_key=session.session_key)["cart_id"] == 7
    # A later change is written through to the database and the cache, as before.
    session["cart_id"] = 8
    session.save()
    assert Session.objects.get().get_decoded()["cart_id"] == 8
    assert SessionStore(session_key=session.session_key)["cart_id"] == 8


def test_a_new_session_saved_before_anything_is_read_is_written_as_it_is(
    django_assert_num_queries,
):
    """As the test client and a sign-in make one: saved before any of it is read, with no
    lookup of a session that cannot exist yet."""
    session = SessionStore()
    with django_assert_num_queries(1):
        session.save()
    assert Session.objects.filter(session_key=session.session_key).exists()
    assert SessionStore(session_key=session.session_key).load() == {}


def a_request(rf, *, session_key=None):
    from django.contrib.auth.middleware import AuthenticationMiddleware
    from django.contrib.sessions.middleware import SessionMiddleware

    request = rf.get("/")
    if session_key:
        request.COOKIES[settings.SESSION_COOKIE_NAME] = session_key
    SessionMiddleware(lambda r: None).process_request(request)
    AuthenticationMiddleware(lambda r: None).process_request(request)
    return request


@pytest.mark.django_db
def test_a_visitor_without_a_session_is_a_guest_known_without_reading_it(rf):
    request = a_request(rf)
    assert sessionless_guest(request)
    assert request.session.accessed  # the answer depends on the session: Vary: Cookie
    assert request.user._wrapped is empty  # the user was not made


@pytest.mark.django_db
def test_a_visitor_with_a_session_or_a_user_is_not_taken_for_a_sessionless_guest(rf):
    session = SessionStore()
    session["anything"] = 1
    session.create()
    assert not sessionless_guest(a_request(rf, session_key=session.session_key))
    started = a_request(rf)
    started.session["cart_id"] = 1  # a session started in this request
    assert not sessionless_guest(started)
    made = a_request(rf)
    assert not made.user.is_authenticated  # the lazy user made: it is asked instead
    assert not sessionless_guest(made)
    given = a_request(rf)
    given.user = UserFactory()  # set by a view (login): asked instead
    assert not sessionless_guest(given)


def test_a_changed_session_is_one_update_and_reaches_the_cache(django_assert_num_queries):
    session = SessionStore()
    session["cart_id"] = 7
    session.save()
    session["cart_id"] = 8
    # The UPDATE alone: no transaction or savepoint of its own around it.
    with django_assert_num_queries(1):
        session.save()
    assert Session.objects.get().get_decoded()["cart_id"] == 8
    with django_assert_num_queries(0):
        assert SessionStore(session_key=session.session_key)["cart_id"] == 8


def test_a_session_deleted_meanwhile_is_not_written_again():
    """Signed out in another tab (or cleared) while this request ran: Django's UpdateError,
    which its middleware answers with SessionInterrupted, and no row comes back."""
    session = SessionStore()
    session["cart_id"] = 7
    session.save()
    Session.objects.all().delete()
    session["cart_id"] = 8
    with pytest.raises(UpdateError):
        session.save()
    assert not Session.objects.exists()


@pytest.fixture
def redis_sessions():
    from django.core.cache import caches
    from django_redis.client import DefaultClient

    sessions_cache = caches[settings.SESSION_CACHE_ALIAS]
    if type(getattr(sessions_cache, "client", None)) is not DefaultClient:
        pytest.skip("needs Redis (REDIS_URL)")
    return sessions_cache


def test_the_cache_is_read_and_written_without_the_librarys_pool(redis_sessions):
    """A session's cache read and write go on the thread's own connection (catalog.cache.
    own_round_trip), as django-redis would have stored and read them."""
    pool = redis_sessions.client.get_client().connection_pool
    session = SessionStore()
    session["cart_id"] = 7
    with mock.patch.object(pool, "get_connection", side_effect=AssertionError):
        session.save()
        again = SessionStore(session_key=session.session_key)
        with mock.patch.object(Session.objects, "get", side_effect=AssertionError):
            assert again["cart_id"] == 7  # from the cache, not the database
    key = session.cache_key_prefix + session.session_key
    assert redis_sessions.get(key) == {"cart_id": 7}
    assert 0 < redis_sessions.ttl(key) <= settings.SESSION_COOKIE_AGE


def test_a_redis_error_goes_the_librarys_way(redis_sessions, monkeypatch):
    """A failed round trip on the thread's own connection is retried through django-redis
    (which reconnects, or with IGNORE_EXCEPTIONS reads a miss): the session is still read."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    from catalog import cache as catalog_cache

    session = SessionStore()
    session["cart_id"] = 8
    session.save()

    def dropped(*args, **kwargs):
        raise RedisConnectionError

    monkeypatch.setattr(catalog_cache, "own_round_trip", dropped)
    assert SessionStore(session_key=session.session_key)["cart_id"] == 8


def test_a_session_written_here_is_djangos_and_djangos_is_read_here(django_assert_num_queries):
    """This store writes the row (_insert, _update) and the cache entry (_write_cache,
    through the thread's own Redis connection) itself: Django's stock stores read what it
    writes, from the cache and from the database, and it reads what they write. An upgrade
    of Django or django-redis that changes the row, the entry, its key or its encoding
    fails here."""

    def read_by_djangos_stores(key: str):
        with django_assert_num_queries(0):  # the cache's entry
            from_cache = DjangosCachedDbStore(session_key=key)["cart_id"]
        expected = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
        assert abs(Session.objects.get(pk=key).expire_date - expected) < timedelta(seconds=5)
        return from_cache, DjangosDbStore(session_key=key)["cart_id"]  # and the row's

    ours = SessionStore()
    ours["cart_id"] = 7
    ours.save()  # a new session (_insert)
    assert read_by_djangos_stores(ours.session_key) == (7, 7)
    ours["cart_id"] = 8
    ours.save()  # a changed one (_update)
    assert read_by_djangos_stores(ours.session_key) == (8, 8)
    theirs = DjangosCachedDbStore()
    theirs["cart_id"] = 9
    theirs.save()
    with django_assert_num_queries(0):
        assert SessionStore(session_key=theirs.session_key)["cart_id"] == 9
    caches[settings.SESSION_CACHE_ALIAS].delete(theirs.cache_key)
    assert SessionStore(session_key=theirs.session_key)["cart_id"] == 9


def test_a_sessions_data_is_signed_as_djangos_and_without_a_signer_made_for_it(monkeypatch):
    """The same text Django's encode() writes in the same second, read back by Django's
    decode(); the signer is made once per process, where Django's made one for each."""
    data = {"cart_id": 7, "_auth_user_id": "12", "note": "“茶”" * 40}  # long enough to compress
    session = SessionStore()
    session.encode(data)  # the process's signer made
    monkeypatch.setattr(signing, "TimestampSigner", lambda **kwargs: 1 / 0)
    with (
        mock.patch("time.time", return_value=1_790_000_000.5),
        mock.patch("shop.cookies.time", return_value=1_790_000_000.5),
    ):
        ours = session.encode(data)
        monkeypatch.undo()
        djangos = SessionBase.encode(session, data)
    assert ours == djangos
    assert SessionBase.decode(session, ours) == data
