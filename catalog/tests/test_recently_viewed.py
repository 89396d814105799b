"""The recently viewed cookie: signed and read by a signer each process makes once, the very
cookie Django's set_signed_cookie() and get_signed_cookie() write and read, so that cookies
already in browsers keep working and a forged one is never read."""

from types import SimpleNamespace

import pytest
from django.core import signing
from django.http import HttpResponse

from catalog import recently_viewed
from catalog.recently_viewed import COOKIE, MAX_AGE, SALT
from shop import cookies

#: A moment in seconds since the epoch (signatures carry their time).
NOW = 1_796_000_000


@pytest.fixture
def clock(monkeypatch):
    """Django's signing clock and the cookie's, set by the test (signatures carry the time,
    and age)."""
    now = {"time": NOW}
    clock = SimpleNamespace(time=lambda: now["time"])
    monkeypatch.setattr(signing, "time", clock)
    monkeypatch.setattr(cookies, "time", clock.time)
    return now


def signed_by_django(value: str) -> str:
    response = HttpResponse()
    response.set_signed_cookie(COOKIE, value, salt=SALT)
    return response.cookies[COOKIE].value


def remembered(rf, product_id: int, cookie: str | None = None) -> str:
    """The cookie remember_view() sends a visitor who brought `cookie`."""
    request = rf.get("/")
    if cookie is not None:
        request.COOKIES[COOKIE] = cookie
    response = HttpResponse()
    recently_viewed.remember_view(request, response, product_id=product_id)
    return response.cookies[COOKIE].value


def read(rf, cookie: str) -> list[int]:
    request = rf.get("/")
    request.COOKIES[COOKIE] = cookie
    return recently_viewed.viewed_product_ids(request)


def test_the_cookie_is_the_one_django_signs_and_reads(rf, clock):
    cookie = remembered(rf, 7, signed_by_django("3.5"))
    assert cookie == signed_by_django("7.3.5")
    request = rf.get("/")
    request.COOKIES[COOKIE] = cookie
    assert request.get_signed_cookie(COOKIE, salt=SALT, max_age=MAX_AGE) == "7.3.5"


def test_a_view_makes_no_signer_and_asks_django_nothing(rf, monkeypatch):
    """The signer is made once per process: neither a first visit's signing nor a returning
    visitor's reading makes one (Django's path made one for each, and derived its key)."""
    cookie = remembered(rf, 3)
    made = []
    monkeypatch.setattr(
        signing, "get_cookie_signer", lambda **kwargs: made.append(kwargs) or pytest.fail()
    )
    assert read(rf, remembered(rf, 5, cookie)) == [5, 3]
    assert read(rf, remembered(rf, 9)) == [9]
    assert made == []


def test_a_forged_or_expired_cookie_is_not_read(rf, clock):
    cookie = remembered(rf, 7)
    value, timestamp, signature = cookie.split(":")
    assert read(rf, f"8.{value}:{timestamp}:{signature}") == []
    assert read(rf, f"{value}:{timestamp}:{signature[:-2]}xx") == []
    other = signing.get_cookie_signer(salt=signing._cookie_signer_salt("sessionid", SALT))
    assert read(rf, other.sign("7")) == []  # another cookie's signature
    clock["time"] = NOW + MAX_AGE.total_seconds() - 1
    assert read(rf, cookie) == [7]
    clock["time"] = NOW + MAX_AGE.total_seconds() + 1
    assert read(rf, cookie) == []


def test_cookies_signed_before_djangos_new_salts_are_still_read(rf):
    legacy = signing.get_cookie_signer(salt=signing._cookie_signer_legacy_salt(COOKIE, SALT))
    assert read(rf, legacy.sign("4.2")) == [4, 2]


def test_a_cookie_signed_with_a_retired_key_is_read_and_signed_anew(rf, settings):
    settings.SECRET_KEY = "the-old-secret-key-of-this-shop-0123456789-abcdefghijklmnop"
    cookie = remembered(rf, 4)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the-new-secret-key-of-this-shop-0123456789-abcdefghijklmnop"
    assert read(rf, cookie) == [4]
    renewed = remembered(rf, 6, cookie)
    assert renewed == signed_by_django(renewed.split(":")[0])
    settings.SECRET_KEY_FALLBACKS = []
    assert read(rf, cookie) == []
    assert read(rf, renewed) == [6, 4]


def test_a_list_signed_again_within_a_second_is_the_signature_made_first(rf, clock, monkeypatch):
    """Every first visit to a product page signs the same list (that product alone): within
    a second its signature is made once, and it is Django's; the next second's is made anew,
    with that second's time."""
    signer = recently_viewed._signer()
    signed = []
    signature = signer.signature
    monkeypatch.setattr(signer, "signature", lambda value: signed.append(value) or signature(value))
    first = remembered(rf, 7)
    assert remembered(rf, 7) == first == signed_by_django("7")
    assert remembered(rf, 8) == signed_by_django("8")
    assert len(signed) == 2
    clock["time"] += 1
    assert remembered(rf, 7) == signed_by_django("7") != first
    assert len(signed) == 3
