"""Six-digit one-time codes sent by text message, stored hashed in the cache.

Limits (per number): a code lives 5 minutes and allows 5 tries; at most one send per minute
and 5 per hour, so a number cannot be bombed and a code cannot be guessed (5 tries of 10^6).
Fails closed: if the cache cannot store or count, no code is sent or accepted.
"""

import secrets

from django.conf import settings
from django.core.cache import cache
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from accounts import throttle
from accounts.errors import (
    CodeAttemptsExhausted,
    CodeExpired,
    CodeInvalid,
    CodeSentTooRecently,
    CodeServiceUnavailable,
    TooManyCodes,
)
from accounts.sms import send_sms

CODE_LIFETIME = 5 * 60  #: long enough to read a text message, short for guessing
MAX_TRIES = 5
SEND_INTERVAL = 60
SENDS_PER_HOUR = 5

#: What a code may be for; a code for one purpose does not work for another.
PURPOSES = ("sign-in", "phone-change", "delete")


def _hash(*, phone: str, purpose: str, code: str) -> str:
    # Keyed with SECRET_KEY: a leaked cache does not give codes away (10^6 plain hashes would).
    return salted_hmac("accounts.codes", f"{purpose}|{phone}|{code}").hexdigest()


def _code_keys(phone: str, purpose: str) -> tuple[str, str]:
    return f"accounts:code:{purpose}:{phone}", f"accounts:code-tries:{purpose}:{phone}"


def _cache_answers() -> bool:
    token = secrets.token_hex(8)
    cache.set("accounts:code-probe", token, 10)
    return cache.get("accounts:code-probe") == token


def send_code(*, request, phone: str, purpose: str) -> None:
    """Text a new code to `phone` (E.164); the previous code for this purpose stops working.
    Besides the number's own limits, the client's and the shop's hourly caps apply."""
    assert purpose in PURPOSES
    minute_key = f"accounts:code-sent-recently:{phone}"
    hour_key = f"accounts:code-sends:{phone}"
    if not cache.add(minute_key, 1, SEND_INTERVAL):
        if cache.get(minute_key) is None:
            raise CodeServiceUnavailable
        raise CodeSentTooRecently
    cache.add(hour_key, 0, 60 * 60)
    try:
        sent = cache.incr(hour_key)
    except ValueError:
        sent = None
    if not sent:
        raise CodeServiceUnavailable
    if sent > SENDS_PER_HOUR:
        raise TooManyCodes
    throttle.check_text_allowed(request=request)
    code = f"{secrets.randbelow(10**6):06d}"
    code_key, tries_key = _code_keys(phone, purpose)
    cache.set_many(
        {code_key: _hash(phone=phone, purpose=purpose, code=code), tries_key: 0}, CODE_LIFETIME
    )
    if cache.get(code_key) is None:
        raise CodeServiceUnavailable
    send_sms(to=phone, body=_body(purpose) % {"code": code, "shop": settings.SHOP_NAME})


def _body(purpose: str) -> str:
    if purpose == "delete":
        # Says what the code does: a shopper who did not ask to close the account knows
        # not to give it to anyone.
        return _(
            "%(code)s is your code to delete your %(shop)s account. It expires in 5 minutes. "
            "Never share it. Did not ask? Ignore this message."
        )
    return _("%(code)s is your %(shop)s code. It expires in 5 minutes. Never share it.")


def verify_code(*, phone: str, purpose: str, code: str) -> None:
    """Accept `code` once, or raise CodeInvalid / CodeExpired / CodeAttemptsExhausted /
    CodeServiceUnavailable."""
    code_key, tries_key = _code_keys(phone, purpose)
    stored = cache.get(code_key)
    if stored is None:
        if not _cache_answers():
            raise CodeServiceUnavailable
        raise CodeExpired
    try:
        tries = cache.incr(tries_key)
    except ValueError:  # the code expired a moment ago
        raise CodeExpired from None
    if not tries:  # the count could not be kept: refuse rather than allow unlimited tries
        raise CodeServiceUnavailable
    if tries > MAX_TRIES:
        cache.delete(code_key)
        raise CodeAttemptsExhausted
    if not constant_time_compare(stored, _hash(phone=phone, purpose=purpose, code=code)):
        if tries >= MAX_TRIES:
            cache.delete_many([code_key, tries_key])
            raise CodeAttemptsExhausted
        raise CodeInvalid
    cache.delete_many([code_key, tries_key])  # single use
