"""The products a visitor viewed last, kept in a small signed cookie of their own.

Not in the session: product pages are served from the cache to visitors without one, and
opening a session (a database and cache write, then a read on every request) for every
anonymous visitor who looks at a product would cost more than the list is worth. The cookie
holds at most KEPT product ids (about 120 bytes with its signature); it is signed so that
what comes back was written by us, and pages still show only published products from it.

Signed and read as Django's get_signed_cookie()/set_signed_cookie() do, with a signer made
once per process (shop.cookies.held_cookie_signer): the same cookie, either way.
"""

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse

from shop.cookies import HeldKeySigner, held_cookie_signer
from shop.middleware import vary_on

COOKIE = "recently_viewed"
SALT = "catalog.recently-viewed"
KEPT = 12
MAX_AGE = timedelta(days=30)


def _signer() -> HeldKeySigner:
    """The cookie's signer, as Django's set_signed_cookie() makes one for each cookie. Leans
    on Django's private _cookie_signer_salt() (the salt set_signed_cookie gives the cookie),
    so that both sign alike; catalog/tests/test_recently_viewed.py checks it."""
    return held_cookie_signer(signing._cookie_signer_salt(COOKIE, SALT))


def _unsigned(request: HttpRequest, cookie: str) -> str:
    """The `cookie`'s value, "" when forged or expired. A signature the process's signer
    refuses goes on to Django's get_signed_cookie(), which also reads cookies signed before
    its salts changed (SIGNED_COOKIE_LEGACY_SALT_FALLBACK)."""
    try:
        return _signer().unsign(cookie, max_age=MAX_AGE)
    except signing.SignatureExpired:
        return ""
    except signing.BadSignature:
        return request.get_signed_cookie(COOKIE, default="", salt=SALT, max_age=MAX_AGE)


def viewed_product_ids(request: HttpRequest) -> list[int]:
    """The product ids of the cookie, latest first; [] when missing, forged or expired.
    Read once a request (the page's section and remember_view() both ask)."""
    cookie = request.COOKIES.get(COOKIE)
    if cookie is None:  # a first visit
        return []
    read = getattr(request, "_recently_viewed", None)
    if read is not None and read[0] == cookie:
        return read[1]
    raw = _unsigned(request, cookie)
    ids = list(dict.fromkeys(int(part) for part in raw.split(".") if part.isdigit()))[:KEPT]
    request._recently_viewed = (cookie, ids)
    return ids


def remember_view(request: HttpRequest, response: HttpResponse, *, product_id: int) -> None:
    """Put `product_id` first in the visitor's list (no new cookie when it already is)."""
    vary_on(response, "Cookie")  # the page shows the list it read
    ids = viewed_product_ids(request)
    if ids[:1] == [product_id]:
        return
    ids = [product_id, *(pk for pk in ids if pk != product_id)][:KEPT]
    response.set_cookie(
        COOKIE,
        _signer().sign(".".join(map(str, ids))),
        max_age=int(MAX_AGE.total_seconds()),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
