"""Cached catalog pages, invalidated by versioned keys.

A cached entry's key holds the versions of what it shows: a product page the product's
version; a category listing its category's version; pages that may show any product (home,
all products, search, the category menu) the catalog's version. A change bumps exactly those
versions, and entries under old keys simply stop being read (and expire). A version that the
cache lost starts again from the clock, so an old entry can never come back to life.

Only shopper-neutral HTML is cached: the header (cart count, account links) is rendered for
each request, and CSRF tokens in cached HTML are a placeholder swapped for the visitor's own.
A cache outage (Redis down with IGNORE_EXCEPTIONS) reads as a miss: pages render uncached.

Versions move when a write commits (bump() defers to transaction.on_commit), so every write
path that calls bump(), products_changed() or categories_changed() invalidates on commit.
"""

import hashlib
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import TypeVar

from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.translation import get_language

#: A safety net behind the versions: nothing cached lives longer than this (seconds).
PAGE_TIMEOUT = 15 * 60
CSRF_PLACEHOLDER = "__csrf_token_placeholder__"
#: A context key: true when this rendering must not be kept (it answers a made-up address).
UNCACHED = "uncached"

CATALOG = "catalog"
T = TypeVar("T")


def product_scope(product_id: int) -> str:
    return f"product:{product_id}"


def category_scope(category_id: int) -> str:
    return f"category:{category_id}"


def _version_key(scope: str) -> str:
    return f"catalog:version:{scope}"


def versions(scopes: Iterable[str]) -> dict[str, int]:
    """The current version of each scope, in one cache round trip."""
    keys = {_version_key(scope): scope for scope in scopes}
    found = cache.get_many(list(keys))
    missing = {key: time.time_ns() for key in keys if key not in found}
    if missing:
        # add(), not set(): two processes starting a lost version agree on the first one.
        for key, value in missing.items():
            cache.add(key, value, timeout=None)
        found.update(cache.get_many(list(missing)) or {})
        for key, value in missing.items():
            found.setdefault(key, value)
    return {scope: found[key] for key, scope in keys.items()}


#: name -> (catalog version, value): the last shared value of each name in this process.
_held: dict[str, tuple[int, object]] = {}


def shared(name: str, build: Callable[[], T]) -> T:
    """A small value every page reads (the category tree, the option types) for the
    catalog's current version: kept in this process and in the cache, rebuilt only when the
    version moves. Saves a cache round trip and an unpickling on every request; callers must
    treat the value as read-only, it is shared between requests.

    Kept per language: the value holds names (categories, tags, option values) the merchant
    translates, read in the active language.
    """
    version = versions([CATALOG])[CATALOG]
    name = f"{name}:{get_language() or ''}"
    held = _held.get(name)
    if held is not None and held[0] == version:
        return held[1]
    key = f"catalog:shared:{name}:{version}"
    value = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, timeout=PAGE_TIMEOUT)
    _held[name] = (version, value)
    return value


def cached_data(name: str, *, scopes: Iterable[str], build: Callable[[], T], timeout: int) -> T:
    """A value (small, picklable) for the current versions of `scopes` and the language,
    built on a miss: invalidated exactly as cached pages are."""
    scope_versions = versions(scopes)
    parts = [name, get_language() or ""]
    parts += [f"{scope}={version}" for scope, version in sorted(scope_versions.items())]
    key = "catalog:data:" + hashlib.sha256("|".join(parts).encode()).hexdigest()
    value = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, timeout=timeout)
    return value


def bump(scopes: Iterable[str]) -> None:
    """Give these scopes new versions when the current transaction commits (at once outside
    a transaction; never if it rolls back).

    Not before the commit: a request between a bump and the commit would render the old rows
    and cache them under the new version, to be served until the page times out. After it,
    a page cached from the old rows is under a version nobody reads any more.
    """
    scopes = sorted(set(scopes))
    if scopes:
        # robust: a cache that fails must not turn a committed write into an error page.
        transaction.on_commit(partial(_new_versions, scopes), robust=True)


def _new_versions(scopes: list[str]) -> None:
    now = time.time_ns()
    cache.set_many({_version_key(scope): now for scope in scopes}, timeout=None)


def products_changed(*, product_ids: Iterable[int], category_paths: Iterable[str]) -> None:
    """Invalidate every page that shows these products.

    `category_paths` are the `subtree_path`s of the products' categories: the listing of each
    of those categories and of all their ancestors shows the products.
    """
    scopes = {CATALOG, *(product_scope(pk) for pk in product_ids)}
    for path in category_paths:
        scopes.update(category_scope(int(pk)) for pk in path.strip("/").split("/") if pk)
    bump(scopes)


def categories_changed() -> None:
    """A category's name, place or visibility changed: the menu, listings and home show it."""
    bump([CATALOG])


#: Parts of a page that differ between visitors, left as markers in the cached HTML and
#: rendered for each request. Templates print `<!--hole:NAME-->` where `cached_render` is set.
SITE_HOLES = {
    "site-actions": "shop/_site_actions.html",
    "messages": "shop/_messages.html",
}


def cached_page(
    request,
    *,
    template: str,
    scopes: Iterable[str],
    context: Callable[[], dict],
    holes: dict[str, Callable[[], str]] | None = None,
    vary: str,
) -> HttpResponse:
    """Render `template`, or take it from the cache while the versions of `scopes` stand.

    `context()` is only called on a miss: that is where the queries go. Everything the
    template shows must be the same for every visitor, except the holes. `vary` names the
    variant of the page (sort, page number): callers cache only the few variants that are
    hot, so that made-up query strings cannot fill the cache; a context with UNCACHED true
    is rendered and not kept.
    """
    scope_versions = versions(scopes)
    parts = [template, request.path, get_language() or "", vary]
    parts += [f"{scope}={version}" for scope, version in sorted(scope_versions.items())]
    key = "catalog:page:" + hashlib.sha256("|".join(parts).encode()).hexdigest()
    html = cache.get(key)
    if html is None:
        shared = {**context(), "cached_render": True, "csrf_token": CSRF_PLACEHOLDER}
        html = render_to_string(template, shared, request=request)
        if not shared.get(UNCACHED):
            cache.set(key, html, timeout=PAGE_TIMEOUT)
    fillers = {
        name: partial(render_to_string, name_, request=request)
        for name, name_ in SITE_HOLES.items()
    }
    fillers.update(holes or {})
    if not get_messages(request):  # most requests have none: no template to render
        fillers["messages"] = lambda: ""
    for name, fill in fillers.items():
        marker = f"<!--hole:{name}-->"
        if marker in html:
            html = html.replace(marker, fill())
    if CSRF_PLACEHOLDER in html:
        html = html.replace(CSRF_PLACEHOLDER, get_token(request))
    return HttpResponse(html)
