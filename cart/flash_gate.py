"""Buy now's crowd told "sold out" before Django (shop/wsgi.py puts this in front of it).

In a flash sale's first second hundreds of shoppers press "Buy now" (POST
/flash/<sale>/buy/) for a few units; once every unit is held, everyone but a holder is told
"sold out" (409, cart.views.buy_flash). Through Django that answer costs about 2 ms of CPU
(every middleware, the CSRF check, the template, the log line); on two cores shared with
the winners' checkouts the crowd waited seconds for it. Here it costs a tenth of that.

For POST /[language/]flash/<sale>/buy/ only, the gate asks, without a query:
- the sale, from the cached schedule (kept in the process for SALE_SECONDS);
- the shopper's user id, from their session as Django's session store keeps it in the
  cache (the session cookie's key is unguessable: nobody can pass for a holder with it, and a
  key the cache does not know, forged, lapsed or kept only in the database, goes to Django);
- flash.sold_out_to(): every unit taken and this customer holds none (one Lua call, exact:
  a hold that lapsed a moment ago is swept first, so its unit is offered again at once).
When all three say "sold out", it answers the page Django would (the same template, back
link and headers) and logs it as Django would (a django.request warning); otherwise, or
when anything is unsure (a sale not in the schedule or not running, Redis away, a host
Django refuses, plain HTTP where the shop redirects to HTTPS, a query string), the request
goes to Django unchanged, which answers as before: a holder pressing again goes on to
checkout, units left are held there, Redis down falls back to the database path (never
oversold).

CSRF: the gate answers without the CSRF check Django's middleware makes on a POST. That is
safe because a "sold out" refusal changes nothing: no hold, no cart line, no session or
database write, no cookie; a forged cross-site POST gets a page that tells what /flash/
tells anyone. Every request that could change something goes through Django and its check.
"""

import io
import time
from functools import lru_cache
from http import HTTPStatus
from importlib import import_module
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.cache import caches
from django.core.exceptions import DisallowedHost, SuspiciousOperation
from django.core.handlers.base import BaseHandler
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.template.loader import get_template, render_to_string
from django.urls import Resolver404, resolve, reverse
from django.utils import translation
from django.utils.html import escape
from django.utils.log import log_response

from cart.views import safe_next
from promotions import flash
from promotions.errors import FlashRejected, flash_message

#: How long a process trusts the sale it read from the schedule. A sale edited or switched
#: off is seen at most this late here (the answer is "sold out" a second longer); whether it
#: is running and sold out is asked on every request.
SALE_SECONDS = 1.0
#: Stands for the back link in a page rendered ahead (escape() leaves it as it is).
BACK = "__flash_back__"
#: Pages kept per (sale, language); a process starts afresh past this many (sales edited).
KEPT_PAGES = 64
#: The page cart.views.buy_flash renders for a refusal.
REFUSED_TEMPLATE = "promotions/flash_refused.html"


class FlashSoldOutGate:
    """WSGI middleware: "sold out" to Buy now's crowd without running Django, everything
    else to `app` (Django's WSGI handler) untouched."""

    def __init__(self, app):
        self.app = app
        #: settings.MIDDLEWARE around an empty 409, made here (as the worker starts) because
        #: making it costs what making Django's handler costs: about 0.4 s of CPU, nearly all
        #: WhiteNoise reading the static files. Made at a worker's first refusal, it held
        #: every worker at once when a sale sold out, just as the crowd was to be answered.
        self._middleware = _Middleware()
        get_template(REFUSED_TEMPLATE)  # compiled now too (the cached loader keeps it)
        #: sale id -> (read at, Sale or None), per SALE_SECONDS.
        self._sales: dict[int, tuple[float, flash.Sale | None]] = {}
        #: (sale, language) -> (page with BACK, the language's /flash/).
        self._pages: dict[tuple[flash.Sale, str], tuple[str, str]] = {}
        #: (language, HTTPS) -> the headers Django's middleware gives the refused page.
        self._headers: dict[tuple[str, bool], list[tuple[str, str]]] = {}

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] == "POST" and environ.get("PATH_INFO", "").endswith("/buy/"):
            answer = self.sold_out_answer(environ)
            if answer is not None:
                headers, body = answer
                start_response("409 Conflict", headers)
                return [body]
        return self.app(environ, start_response)

    def sold_out_answer(self, environ) -> tuple[list[tuple[str, str]], bytes] | None:
        """The headers and body of the sold-out page for this request, or None: Django
        answers it."""
        found = buy_now_of(environ.get("PATH_INFO", ""))
        if found is None or environ.get("QUERY_STRING"):
            return None
        language, sale_id = found
        request = WSGIRequest(environ)
        try:
            request.get_host()  # Django answers a host it does not serve (400)
        except DisallowedHost:
            return None
        secure = request.is_secure()
        if settings.SECURE_SSL_REDIRECT and not secure:
            return None  # Django redirects to HTTPS
        sale = self.sale(sale_id)
        user_id = session_user_id(request)
        if sale is None or user_id is None or not flash.sold_out_to(sale=sale, user_id=user_id):
            return None
        page, default_back = self.page(sale, language)
        headers = self.headers(environ, language, secure)
        try:
            back = safe_next(request) or default_back
        except (SuspiciousOperation, MultiPartParserError):  # a body Django would refuse
            back = default_back
        body = page.replace(BACK, escape(back)).encode()
        log_refused(request)
        return [*headers, ("Content-Length", str(len(body)))], body

    def sale(self, sale_id: int) -> flash.Sale | None:
        now = time.monotonic()
        kept = self._sales.get(sale_id)
        if kept is None or now - kept[0] > SALE_SECONDS:
            kept = self._sales[sale_id] = (now, flash.sale_by_pk(sale_id))
        return kept[1]

    def page(self, sale: flash.Sale, language: str) -> tuple[str, str]:
        """The refused page of `sale` in `language` with BACK for its back link, and the
        language's /flash/ (the back link when the form sent none), as the view renders them."""
        kept = self._pages.get((sale, language))
        if kept is None:
            if len(self._pages) >= KEPT_PAGES:
                self._pages.clear()
            with translation.override(language):
                context = {
                    "sale": sale,
                    "message": flash_message(FlashRejected.SOLD_OUT, sale=sale),
                    "back": BACK,
                    "shop_name": settings.SHOP_NAME,
                }
                html = render_to_string(REFUSED_TEMPLATE, context)
                kept = self._pages[(sale, language)] = (html, reverse("promotions:flash"))
        return kept

    def headers(self, environ, language: str, secure: bool) -> list[tuple[str, str]]:
        """The headers Django's middleware puts on the refused page, found once per language
        and scheme by running a response through the middleware itself (Django's code, not
        a copy: CSP, Permissions-Policy, private no-store, language, Vary)."""
        key = (language, secure)
        if key not in self._headers:
            self._headers[key] = _middleware_headers(self._middleware, environ)
        return self._headers[key]


@lru_cache(maxsize=256)
def buy_now_of(path: str) -> tuple[str, int] | None:
    """(language, sale id) when `path` is Buy now's (cart:flash-buy), else None. The language
    is the URL's prefix (English unprefixed), as the shop's LocaleMiddleware reads it."""
    language = translation.get_language_from_path(path) or settings.LANGUAGE_CODE
    with translation.override(language):
        try:
            match = resolve(path)
        except Resolver404:
            return None
    if match.view_name != "cart:flash-buy":
        return None
    return language, match.kwargs["sale_id"]


def session_user_id(request) -> str | None:
    """The signed-in user's id in the request's session as the cache holds it ("" without a
    session or user); None when only Django can tell (a session the cache does not hold, or a
    session engine without a cache)."""
    key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if not key:
        return ""
    prefix = getattr(import_module(settings.SESSION_ENGINE).SessionStore, "cache_key_prefix", None)
    if prefix is None:
        return None
    data = caches[settings.SESSION_CACHE_ALIAS].get(prefix + key)
    return None if data is None else data.get(SESSION_KEY, "")


def log_refused(request) -> None:
    """Log the refusal as Django's handler logs every 4xx it answers (django.request, a
    warning "Conflict: <path>" with the status code and the request), through Django's own
    log_response: the crowd's refusals stay in the log, whoever answered them."""
    refused = SimpleNamespace(status_code=HTTPStatus.CONFLICT.value)
    log_response(
        "%s: %s", HTTPStatus.CONFLICT.phrase, request.path, response=refused, request=request
    )


class _Middleware(BaseHandler):
    """settings.MIDDLEWARE around an empty 409 instead of URL resolving and a view, as the
    refused page goes through it (the view reads the session: Vary: Cookie)."""

    def __init__(self):
        super().__init__()
        self.load_middleware()

    def _get_response(self, request):
        request.resolver_match = resolve(request.path_info)
        request.session.get(SESSION_KEY)
        response = HttpResponse(status=409)
        response._has_been_logged = True  # only its headers are wanted: no shopper's request
        return response


def _middleware_headers(middleware: _Middleware, environ) -> list[tuple[str, str]]:
    """The headers Django's middleware gives the refused page for a request like `environ`
    (its host, scheme and path; no cookie, no body: nothing of the shopper's is read and no
    cookie set), but Content-Length, which is the body's."""
    quiet = {k: v for k, v in environ.items() if k not in ("HTTP_COOKIE", "CONTENT_LENGTH")}
    quiet["wsgi.input"] = io.BytesIO()
    with translation.override(settings.LANGUAGE_CODE):
        response = middleware.get_response(WSGIRequest(quiet))
    return [(k, v) for k, v in response.items() if k != "Content-Length"]
