"""The products a visitor viewed last, kept in a small signed cookie of their own.

Not in the session: product pages are served from the cache to visitors without one, and
opening a session (a database and cache write, then a read on every request) for every
anonymous visitor who looks at a product would cost more than the list is worth. The cookie
holds at most KEPT product ids (about 120 bytes with its signature); it is signed so that
what comes back was written by us, and pages still show only published products from it.
"""

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

COOKIE = "recently_viewed"
SALT = "catalog.recently-viewed"
KEPT = 12
MAX_AGE = timedelta(days=30)


def viewed_product_ids(request: HttpRequest) -> list[int]:
    """The product ids of the cookie, latest first; [] when missing, forged or expired.
    Read once a request (the page's section and remember_view() both ask)."""
    cookie = request.COOKIES.get(COOKIE)
    read = getattr(request, "_recently_viewed", None)
    if read is not None and read[0] == cookie:
        return read[1]
    raw = request.get_signed_cookie(COOKIE, default="", salt=SALT, max_age=MAX_AGE)
    ids = list(dict.fromkeys(int(part) for part in raw.split(".") if part.isdigit()))[:KEPT]
    request._recently_viewed = (cookie, ids)
    return ids


def remember_view(request: HttpRequest, response: HttpResponse, *, product_id: int) -> None:
    """Put `product_id` first in the visitor's list (no new cookie when it already is)."""
    patch_vary_headers(response, ["Cookie"])  # the page shows the list it read
    ids = viewed_product_ids(request)
    if ids[:1] == [product_id]:
        return
    ids = [product_id, *(pk for pk in ids if pk != product_id)][:KEPT]
    response.set_signed_cookie(
        COOKIE,
        ".".join(map(str, ids)),
        salt=SALT,
        max_age=int(MAX_AGE.total_seconds()),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
