"""Responses whose cookies cost less to set: cached pages' (a new visitor's CSRF cookie and,
on a product page, the recently viewed one).

Django's set_cookie() fills a standard library Morsel attribute by attribute, works the
expiry date out with http_date(), and the Morsel writes its Set-Cookie line by sorting and
walking its attributes: some 110,000 instructions a cookie, as much as a tenth of a bare
view. Here the line is Django's own, made once per process for each cookie's attributes
(the same set_cookie() on a placeholder value and date), and each response only puts the
visitor's value and the date in; the date is worked out once a second.

Signed cookies (the recently viewed one, the messages') are signed by a signer made once per
process (held_cookie_signer), as Django's get_cookie_signer() makes one for each cookie: the
same signature, which Django's own signer reads, and which reads Django's.
"""

from functools import cache, lru_cache
from http.cookies import Morsel
from time import time

from django.core import signing
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.utils.crypto import salted_hmac
from django.utils.encoding import force_bytes
from django.utils.http import http_date

_VALUE = "shop-cookie-value"
_EXPIRES = "shop-cookie-expires"


class _Written(Morsel):
    """A Morsel whose Set-Cookie line is already written (`line`, every attribute printed).
    Changed afterwards, copied or unpickled, it has none and writes its own, as any Morsel."""

    line = None

    def OutputString(self, attrs=None):
        line = self.line if attrs is None else None
        return line if line is not None else super().OutputString(attrs)

    def __setitem__(self, key, value):
        self.line = None
        super().__setitem__(key, value)

    def set(self, key, val, coded_val):
        self.line = None
        super().set(key, val, coded_val)

    def update(self, values):
        self.line = None
        super().update(values)


@lru_cache(maxsize=32)  # a few cookies, each set with the same attributes every time
def _template(key: str, max_age: int | None, *attributes) -> tuple[dict, tuple[str, str, str]]:
    """The cookie's attributes and its Set-Cookie line around the value and the expiry
    date, as Django's set_cookie() and the Morsel write them (`attributes`: its path,
    domain, secure, httponly and samesite arguments). A cookie without a max age (the
    browser's session) has no date: its line's last two parts are empty."""
    response = HttpResponse()
    response.set_cookie(key, _VALUE, max_age, None if max_age is None else _EXPIRES, *attributes)
    morsel = response.cookies[key]
    before, rest = morsel.OutputString().split(_VALUE, 1)
    middle, after = rest.split(_EXPIRES, 1) if max_age is not None else (rest, "")
    return dict(morsel), (before, middle, after)


@lru_cache(maxsize=8)  # a second's date for the few max ages in use
def _expires(at: int) -> str:
    return http_date(at)


def set_cookie(
    response: HttpResponseBase,
    key,
    value="",
    max_age=None,
    expires=None,
    path="/",
    domain=None,
    secure=False,
    httponly=False,
    samesite=None,
) -> None:
    """`response.set_cookie(...)` for a cookie with a max age or none (the CSRF cookie, the
    shop's own, the messages'), at a fifth of Django's cost (its line's writing included),
    with the very same Morsel and Set-Cookie line; a cookie given an expiry date is
    Django's."""
    attributes = (path, domain, secure, httponly, samesite)
    if expires is not None or (max_age is not None and max_age.__class__ is not int):
        return HttpResponseBase.set_cookie(response, key, value, max_age, expires, *attributes)
    items, (before, middle, after) = _template(key, max_age, *attributes)
    real, coded = response.cookies.value_encode(value)
    date = "" if max_age is None else _expires(int(time()) + max_age)
    # Not Morsel() and its set() and update(), which check each name again (three
    # quarters of the cost): the attributes were checked making the template, and the
    # key and value are put in as an unpickled Morsel's are (its __setstate__).
    morsel = _Written.__new__(_Written)
    dict.update(morsel, items)
    if date:
        dict.__setitem__(morsel, "expires", date)
    morsel.__setstate__({"key": key, "value": real, "coded_value": coded})
    morsel.line = before + coded + middle + date + after
    response.cookies[key] = morsel
    return None


class CookieResponse(HttpResponse):
    """HttpResponse whose set_cookie() is the one above."""

    set_cookie = set_cookie


class HeldKeySigner(signing.TimestampSigner):
    """Django's TimestampSigner with each key's HMAC set up once: Signer.signature() derives
    the HMAC key from the salt and the secret (a SHA-256) and sets up the HMAC on every call;
    here each signature copies the one set up for its key (salted_hmac() of no message), so
    the signature is the same. The timestamp (the second, in base 62) is written once a
    second."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._keyed = {}
        #: (this second's timestamp, {value: its signed value at that second}).
        self._signed: tuple[str, dict[str, str]] = ("", {})

    def timestamp(self):
        return _base62(int(time()))

    def sign(self, value):
        """TimestampSigner.sign(), a value signed again within the same second taken as it
        was signed then (the same string): every first visit to a product page signs the
        same recently viewed list, that product alone (a third of remembering the view)."""
        timestamp = self.timestamp()
        held = self._signed
        if held[0] != timestamp:
            held = self._signed = (timestamp, {})
        signed = held[1].get(value)
        if signed is None:
            stamped = f"{value}{self.sep}{timestamp}"
            signed = held[1][value] = f"{stamped}{self.sep}{self.signature(stamped)}"
        return signed

    def signature(self, value, key=None):
        key = key or self.key
        keyed = self._keyed.get(key)
        if keyed is None:
            keyed = self._keyed[key] = salted_hmac(
                self.salt + "signer", b"", key, algorithm=self.algorithm
            )
        mac = keyed.copy()
        mac.update(force_bytes(value))
        return signing.b64_encode(mac.digest()).decode()


@lru_cache(maxsize=2)  # this second's, and the last one's for a request crossing a second
def _base62(seconds: int) -> str:
    return signing.b62_encode(seconds)


@cache
def held_cookie_signer(salt: str) -> HeldKeySigner:
    """The signer Django's get_cookie_signer(salt=salt) makes (its key, fallback keys, salt
    and algorithm), made once per process: making it was a third of a first visit's
    signing, deriving the HMAC key another."""
    made = signing.get_cookie_signer(salt=salt)
    return HeldKeySigner(
        key=made.key,
        fallback_keys=list(made.fallback_keys),  # a map in Django's: read once only
        salt=made.salt,
        algorithm=made.algorithm,
    )


@cache
def held_signer(salt: str) -> HeldKeySigner:
    """The signer Django's signing.dumps(salt=salt) makes for each call (the SECRET_KEY,
    Django's default algorithm), made once per process: a new session's data is signed so
    on every guest's first add to the cart."""
    return HeldKeySigner(salt=salt)


@receiver(setting_changed)
def _forget_signers(setting, **kwargs) -> None:
    if setting in {"SECRET_KEY", "SECRET_KEY_FALLBACKS", "SIGNING_BACKEND"}:
        held_cookie_signer.cache_clear()
        held_signer.cache_clear()
