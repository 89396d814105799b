"""CSRF tokens for the forms of cached pages: Django's tokens, made with one read of the
system's random source instead of sixty-four.

Django's get_token draws each of a token's characters with `secrets.choice` (one `os.urandom`
call each): 32 for a new visitor's secret and 32 for the mask of every token, a seventh of a
cached page's time. `get_token` here makes the same token (a secret kept in the CSRF cookie,
a fresh mask, the secret enciphered with it, CSRF_ALLOWED_CHARS only) and leaves the same
marks on the request for CsrfViewMiddleware, so Django's middleware checks it as one of its
own. Characters come from `os.urandom` bytes below 248 = 4 x 62, so each of the 62 is exactly
as likely as with Django's.
"""

import os

from django.middleware import csrf

_CHARS = csrf.CSRF_ALLOWED_CHARS
_INDEX = {char: index for index, char in enumerate(_CHARS)}
#: Bytes from here up are dropped, so that `byte % 62` favours no character.
_LIMIT = 256 - 256 % len(_CHARS)
#: byte -> its character (`byte % 62`), for bytes.translate(): the bytes drawn become
#: characters in C, not one by one in Python; bytes from _LIMIT up are deleted.
_TO_CHARS = bytes(ord(_CHARS[byte % len(_CHARS)]) for byte in range(256))
_DROPPED = bytes(range(_LIMIT, 256))


def random_string(length: int) -> str:
    """`length` characters of CSRF_ALLOWED_CHARS, uniformly drawn from the system's source."""
    drawn = b""
    while len(drawn) < length:  # a byte is dropped 1 time in 32: one read nearly always does
        drawn += os.urandom(2 * length).translate(_TO_CHARS, _DROPPED)
    return drawn[:length].decode("ascii")


def get_token(request) -> str:
    """django.middleware.csrf.get_token: the visitor's secret (a new one, sent as their
    cookie, when they have none), masked afresh."""
    if "CSRF_COOKIE" in request.META:
        secret = request.META["CSRF_COOKIE"]
        request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True  # renews the cookie, as Django does
    else:
        secret = random_string(csrf.CSRF_SECRET_LENGTH)
        request.META.update({"CSRF_COOKIE": secret, "CSRF_COOKIE_NEEDS_UPDATE": True})
    mask = random_string(csrf.CSRF_SECRET_LENGTH)
    cipher = "".join(
        _CHARS[(_INDEX[char] + _INDEX[key]) % len(_CHARS)]
        for char, key in zip(secret, mask, strict=True)
    )
    return mask + cipher
