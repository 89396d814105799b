import os
from http.cookies import Morsel

import pytest
from django.contrib import messages
from django.contrib.messages.storage.cookie import CookieStorage as DjangosCookieStorage
from django.contrib.messages.storage.fallback import FallbackStorage as DjangosFallbackStorage
from django.contrib.sessions.backends.base import SessionBase
from django.core import signing
from django.http import HttpResponse

from shop.messages import CookieStorage, FallbackStorage


def stored(rf, storage_class, *texts, cookie=None):
    request = rf.get("/")
    request.session = SessionBase()
    if cookie is not None:
        request.COOKIES[CookieStorage.cookie_name] = cookie
    storage = storage_class(request)
    for text in texts:
        storage.add(messages.SUCCESS, text)
    response = HttpResponse()
    storage.update(response)
    return response.cookies[CookieStorage.cookie_name], storage


def shown(rf, storage_class, cookie):
    request = rf.get("/")
    request.session = SessionBase()
    request.COOKIES[CookieStorage.cookie_name] = cookie
    return [str(message) for message in storage_class(request)]


def test_the_cookie_is_djangos_both_ways(rf):
    ours, _ = stored(rf, FallbackStorage, "Added “Tea”.", "Saved.")
    djangos, _ = stored(rf, DjangosFallbackStorage, "Added “Tea”.", "Saved.")
    # The same attributes; values differ only in time and compression's framing, not format.
    assert {k: v for k, v in ours.items() if v} == {k: v for k, v in djangos.items() if v}
    assert shown(rf, DjangosFallbackStorage, ours.value) == ["Added “Tea”.", "Saved."]
    assert shown(rf, FallbackStorage, djangos.value) == ["Added “Tea”.", "Saved."]
    assert shown(rf, FallbackStorage, ours.value[:-2] + "xx") == []  # forged: not shown


def test_a_request_with_messages_makes_no_signer(rf, monkeypatch):
    """The signer is made once per process; Django's storage made one for each request that
    added or showed a message."""
    stored(rf, FallbackStorage, "warm")
    monkeypatch.setattr(signing, "get_cookie_signer", lambda **kwargs: 1 / 0)
    cookie, storage = stored(rf, FallbackStorage, "Saved.")
    assert isinstance(storage.storages[0], CookieStorage)
    assert shown(rf, FallbackStorage, cookie.value) == ["Saved."]


def test_messages_too_large_for_the_cookie_go_to_the_session(rf):
    texts = [os.urandom(400).hex() for _ in range(4)]  # 3,200 characters, not compressible
    cookie, storage = stored(rf, FallbackStorage, *texts)
    in_cookie = shown(rf, DjangosCookieStorage, cookie.value)
    in_session = [str(message) for message in storage.storages[1]._get()[0]]
    assert in_cookie and in_session
    assert in_cookie + in_session == texts


def test_the_cookies_line_is_written_once_per_process(rf, monkeypatch):
    """The Set-Cookie line comes from shop.cookies' template, not the standard library's
    Morsel (Django's set_cookie() and the Morsel's writing of its line)."""
    stored(rf, FallbackStorage, "warm")
    monkeypatch.setattr(Morsel, "OutputString", lambda self, attrs=None: 1 / 0)
    cookie, _ = stored(rf, FallbackStorage, "Saved.")
    assert cookie.output().startswith("Set-Cookie: messages=")


def test_the_storage_holds_what_djangos_holds_with_the_signer_made_once(rf):
    """Our __init__ is BaseStorage's and the held signer in place of Django's own
    CookieStorage.__init__: anything else an upgrade of Django sets there fails here."""
    request = rf.get("/")
    ours, djangos = CookieStorage(request), DjangosCookieStorage(request)
    assert vars(ours).keys() == vars(djangos).keys()
    assert type(djangos.signer) is signing.TimestampSigner  # what the held one stands for
    assert (ours.signer.key, ours.signer.salt, ours.signer.algorithm) == (
        djangos.signer.key,
        djangos.signer.salt,
        djangos.signer.algorithm,
    )


@pytest.mark.parametrize(
    "session_cookie",
    [
        {},
        {
            "SESSION_COOKIE_DOMAIN": "shop.example.com",
            "SESSION_COOKIE_SECURE": True,
            "SESSION_COOKIE_HTTPONLY": False,
            "SESSION_COOKIE_SAMESITE": "Strict",
        },
    ],
)
def test_the_cookies_attributes_follow_the_settings_as_djangos_do(rf, settings, session_cookie):
    """_update_cookie() passes Django's arguments itself: they must stay Django's."""
    for name, value in session_cookie.items():
        setattr(settings, name, value)
    ours, _ = stored(rf, FallbackStorage, "Saved.")
    djangos, _ = stored(rf, DjangosFallbackStorage, "Saved.")
    assert {k: v for k, v in ours.items() if k != "expires"} == {
        k: v for k, v in djangos.items() if k != "expires"
    }
