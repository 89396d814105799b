"""Pages of the shop as a whole: home, health checks and error pages."""

import logging
import secrets
import sys

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpResponse, HttpResponseServerError, JsonResponse
from django.template import loader
from django.urls import reverse
from django.views.decorators.cache import cache_control, never_cache

logger = logging.getLogger(__name__)


@cache_control(max_age=60 * 60)
def robots_txt(request):
    """Crawlers may read the catalog, not carts, accounts or the admin, in any language.

    Sign-in and registration stay open (and say so in their meta descriptions): a shopper
    searching for "<shop> sign in" should find them. The longer `Allow` rule wins.
    """
    private = ["/cart/", "/checkout/", "/account/", "/accounts/", "/orders/", "/payments/"]
    private.append("/search/")
    public = [reverse("accounts:login"), reverse("accounts:register")]
    # English pages are unprefixed, the others under their language's prefix (shop/urls.py).
    prefixes = [""]
    prefixes += [f"/{code}" for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]
    lines = [
        "User-agent: *",
        *(f"Allow: {prefix}{path}$" for prefix in prefixes for path in public),
        "Disallow: /admin/",
        *(f"Disallow: {prefix}{path}" for prefix in prefixes for path in private),
        # From the configured address, never the request's Host header (this is cached).
        f"Sitemap: {settings.SHOP_URL.rstrip('/')}{reverse('sitemap-index')}",
    ]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain")


@never_cache
def livez(request):
    """Liveness: the process answers. Touches neither database nor cache.

    It is also the benchmark's baseline, the ceiling of a Django view on the same server.
    """
    return HttpResponse("ok", content_type="text/plain")


@never_cache
def healthz(request):
    """Readiness: 200 while the database answers (a lost cache only degrades), else 503."""
    database = _database_status()
    cache_state = _cache_status()
    if database != "ok":
        status = "down"
    elif cache_state != "ok":
        status = "degraded"
    else:
        status = "ok"
    return JsonResponse(
        {"status": status, "database": database, "cache": cache_state},
        status=503 if status == "down" else 200,
    )


def _database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.exception("Health check: the database does not answer")
        return "down"
    return "ok"


def _cache_status() -> str:
    # A round trip with a fresh value: with IGNORE_EXCEPTIONS a dead Redis reads as a miss.
    token = secrets.token_hex(8)
    try:
        cache.set("healthz", token, timeout=10)
        answered = cache.get("healthz") == token
    except Exception:  # any backend failure is an answer here, not a crash
        logger.exception("Health check: the cache failed")
        answered = False
    return "ok" if answered else "down"


#: Raised when the database cannot answer at all: down, restarting, failing over, or the
#: connection dropped mid-request. The request may succeed a moment later.
DATABASE_UNREACHABLE = (OperationalError, InterfaceError)
#: Seconds a client is asked to wait: about what a PostgreSQL restart takes.
RETRY_AFTER_SECONDS = 10


def server_error(request):
    """The 500 page, rendered without context processors: they may be what failed.

    Django calls this while handling the uncaught exception, so `sys.exc_info()` holds it.
    When the database could not be reached, the shopper gets a 503 page that says to try
    again shortly (and clients a Retry-After), not "something went wrong"."""
    context = {"shop_name": settings.SHOP_NAME}
    if isinstance(sys.exc_info()[1], DATABASE_UNREACHABLE):
        page = loader.get_template("503.html").render(context)
        response = HttpResponse(page, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return HttpResponseServerError(loader.get_template("500.html").render(context))
