"""CSRF tokens for the forms of cached pages: Django's tokens, made with one read of the
system's random source instead of sixty-four (and random_string() for a new session's key);
and Django's CsrfViewMiddleware, a posted form's token unmasked in C.

Django's get_token draws each of a token's characters with `secrets.choice` (one `os.urandom`
call each): 32 for a new visitor's secret and 32 for the mask of every token, a seventh of a
cached page's time. `get_token` here makes the same token (a secret kept in the CSRF cookie,
a fresh mask, the secret enciphered with it, CSRF_ALLOWED_CHARS only) and leaves the same
marks on the request for CsrfViewMiddleware, so Django's middleware checks it as one of its
own. Characters come from `os.urandom` bytes below 248 = 4 x 62, so each of the 62 is exactly
as likely as with Django's.
"""

import os
from functools import cache

from django.conf import settings
from django.core.checks import Tags, register
from django.core.checks.security import csrf as csrf_checks
from django.http import UnreadablePostError
from django.middleware import csrf
from django.utils.crypto import constant_time_compare

from shop.middleware import vary_on

_CHARS = csrf.CSRF_ALLOWED_CHARS
#: (secret's character, mask's character) -> the token's, as Django's _mask_cipher_secret
#: adds their places: 62 x 62 pairs, so that a token is enciphered by one map() in C.
_CIPHER = {
    (char, key): _CHARS[(i + j) % len(_CHARS)]
    for i, char in enumerate(_CHARS)
    for j, key in enumerate(_CHARS)
}

#: (token's character, mask's character) -> the secret's, as Django's _unmask_cipher_token
#: subtracts their places: _CIPHER turned round.
_DECIPHER = {(cipher, key): char for (char, key), cipher in _CIPHER.items()}


@cache
def _tables(chars: str) -> tuple[bytes, bytes]:
    """byte -> its character (`byte % len(chars)`), for bytes.translate(): the bytes drawn
    become characters in C, not one by one in Python; and the bytes dropped (from the
    largest multiple of len(chars) up), so that no character is favoured."""
    limit = 256 - 256 % len(chars)
    return bytes(ord(chars[byte % len(chars)]) for byte in range(256)), bytes(range(limit, 256))


def random_string(length: int, chars: str = _CHARS) -> str:
    """`length` characters of `chars` (ASCII; CSRF_ALLOWED_CHARS unless given), uniformly
    drawn from the system's source in one read (Django's get_random_string reads it once a
    character)."""
    to_chars, dropped = _tables(chars)
    drawn = b""
    while len(drawn) < length:  # few bytes are dropped: one read nearly always does
        drawn += os.urandom(2 * length).translate(to_chars, dropped)
    return drawn[:length].decode("ascii")


def get_token(request) -> str:
    """django.middleware.csrf.get_token: the visitor's secret (a new one, sent as their
    cookie, when they have none; drawn with the mask in one read), masked afresh."""
    length = csrf.CSRF_SECRET_LENGTH
    if "CSRF_COOKIE" in request.META:
        secret = request.META["CSRF_COOKIE"]
        request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True  # renews the cookie, as Django does
        mask = random_string(length)
    else:
        drawn = random_string(2 * length)
        secret, mask = drawn[:length], drawn[length:]
        request.META.update({"CSRF_COOKIE": secret, "CSRF_COOKIE_NEEDS_UPDATE": True})
    return mask + "".join(map(_CIPHER.__getitem__, zip(secret, mask, strict=True)))


class CsrfViewMiddleware(csrf.CsrfViewMiddleware):
    """Django's, a posted form's token unmasked by one map() in C (_DECIPHER): Django's
    _unmask_cipher_token finds each character's place in Python, about 110,000 instructions
    on every form posted (a fortieth of an add to the cart). Django calls it from its private
    _check_token (the same since Django 4.0), so that is what this overrides, and only to say
    yes sooner: a form's token of Django's masked kind that unmasks to the visitor's secret
    passes here; anything else (no cookie, a token missing, malformed, wrong, or from the
    header) goes to Django's own check, which accepts or rejects it with its own reason.
    shop/tests/test_csrf.py posts tokens of every kind to both."""

    def _check_token(self, request):
        try:
            secret = self._get_secret(request)
            token = request.POST.get("csrfmiddlewaretoken", "") if request.method == "POST" else ""
        except (csrf.InvalidTokenFormat, UnreadablePostError):
            secret = token = None
        if not (secret and token and _unmasks_to(token, secret)):
            super()._check_token(request)

    def _set_csrf_cookie(self, request, response):
        """Django's (private, the same since Django 4.1), the Vary it adds written by
        shop.middleware.vary_on: Django's patch_vary_headers splits a Vary already there (a
        product page's), 14,000 to 31,000 instructions on each page that shows a form.
        shop/tests/test_csrf.py compares the headers with Django's."""
        if settings.CSRF_USE_SESSIONS:
            super()._set_csrf_cookie(request, response)
            return
        response.set_cookie(
            settings.CSRF_COOKIE_NAME,
            request.META["CSRF_COOKIE"],
            max_age=settings.CSRF_COOKIE_AGE,
            domain=settings.CSRF_COOKIE_DOMAIN,
            path=settings.CSRF_COOKIE_PATH,
            secure=settings.CSRF_COOKIE_SECURE,
            httponly=settings.CSRF_COOKIE_HTTPONLY,
            samesite=settings.CSRF_COOKIE_SAMESITE,
        )
        vary_on(response, "Cookie")


def _unmasks_to(token: str, secret: str) -> bool:
    """Whether `token` is a masked token (Django's length and characters) of `secret`."""
    if len(token) != csrf.CSRF_TOKEN_LENGTH:
        return False
    mask, cipher = token[: csrf.CSRF_SECRET_LENGTH], token[csrf.CSRF_SECRET_LENGTH :]
    try:
        unmasked = "".join(map(_DECIPHER.__getitem__, zip(cipher, mask, strict=True)))
    except KeyError:  # a character Django's tokens never hold
        return False
    return constant_time_compare(unmasked, secret)


DJANGOS = "django.middleware.csrf.CsrfViewMiddleware"
OURS = f"{__name__}.CsrfViewMiddleware"


@register(Tags.security, deploy=True)
def check_csrf_middleware(app_configs, **kwargs):
    """Django's deploy checks security.W003 (no CSRF middleware) and W016 (its cookie not
    secure-only) look for Django's middleware by its dotted path, so the settings silence
    W003 and this asks both of either middleware."""
    if not {DJANGOS, OURS} & set(settings.MIDDLEWARE):
        return [csrf_checks.W003]
    if OURS in settings.MIDDLEWARE and not (
        settings.CSRF_USE_SESSIONS or settings.CSRF_COOKIE_SECURE is True
    ):
        return [csrf_checks.W016]  # Django's own says it when its middleware is there
    return []
