"""Signed, expiring, single-use links (activation, email change).

The link carries a fingerprint of the user's state (password hash, active flag, email): once
the link has done its work that state has changed, so it cannot be used twice.
"""

from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.errors import TokenInvalid


def fingerprint(user) -> str:
    state = f"{user.pk}|{user.password}|{user.is_active}|{user.email}"
    return salted_hmac("accounts.tokens.fingerprint", state).hexdigest()[:24]


def make_token(*, user, salt: str, **data) -> str:
    return signing.dumps({"u": user.pk, "f": fingerprint(user), **data}, salt=salt, compress=True)


def read_token(*, token: str, salt: str, max_age: int) -> dict:
    """The payload of a valid, unexpired token, or TokenInvalid."""
    try:
        data = signing.loads(token, salt=salt, max_age=max_age)
    except signing.BadSignature:  # SignatureExpired is one
        raise TokenInvalid from None
    if not isinstance(data, dict) or "u" not in data or "f" not in data:
        raise TokenInvalid
    return data


def matches(*, user, data: dict) -> bool:
    return constant_time_compare(fingerprint(user), data["f"])


def salted_digest(value: str) -> str:
    """A keyed digest for cache keys that must not hold an address in clear."""
    return salted_hmac("accounts.tokens.key", value).hexdigest()[:32]
