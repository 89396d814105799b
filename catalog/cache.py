"""Cached catalog pages, invalidated by versioned keys.

A cached entry depends on the versions of what it shows: a product page the product's
version; a category listing its category's version; pages that may show any product (home,
all products, search, the category menu) the catalog's version. A change bumps exactly those
versions, and entries of old versions simply stop being read (and expire, or are
replaced). A version that the cache lost starts again from the clock, so an old entry can
never come back to life.

Only shopper-neutral HTML is cached: the header (cart count, account links) is rendered for
each request, and CSRF tokens in cached HTML are a placeholder swapped for the visitor's own.
A cache outage (Redis down with IGNORE_EXCEPTIONS) reads as a miss: pages render uncached.

A cached page costs at most one cache round trip: the versions it depends on and the page
itself come in one MGET, the page's entry holding the versions it was rendered at (served
only while they are the current ones). Within a request the versions read are kept (a
request shows one moment of the catalog), so the category tree, the option types and the
page share one read. A process holds the pages it served last: for those the round trip
asks the versions alone, and none at all while the process trusts the versions it read
(_TrustedVersions: another process's change shows within TRUST_SECONDS).

A page is kept as UTF-8 bytes cut where each visitor's parts go (its holes, the CSRF
token): serving it joins bytes, without searching, decoding or encoding the page.

Versions move when a write commits (bump() defers to transaction.on_commit), so every write
path that calls bump(), products_changed() or categories_changed() invalidates on commit.
"""

import hashlib
import math
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from functools import cache as once
from functools import partial
from typing import NamedTuple, TypeVar

from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils.module_loading import import_string
from django.utils.translation import get_language
from django_redis.client import DefaultClient
from redis.exceptions import RedisError

from shop.cookies import CookieResponse
from shop.csrf import get_token
from shop.held import held_per_version, last_held

#: A safety net behind the versions: nothing cached lives longer than this (seconds).
PAGE_TIMEOUT = 15 * 60
CSRF_PLACEHOLDER = "__csrf_token_placeholder__"
_CSRF_BYTES = CSRF_PLACEHOLDER.encode()
#: A context key: true when this rendering must not be kept (it answers a made-up address).
UNCACHED = "uncached"

CATALOG = "catalog"
#: The catalog's version but for products selling out or coming back (bumped with CATALOG by
#: every other change): what shows no product's stock reads it (the category tree, the menu,
#: the layouts, a product page's body), so that a sell-out, a storm of them in a flash sale,
#: keeps them; what shows cards (listings, search, recommendations) reads CATALOG.
CATALOG_EXCEPT_STOCK = "catalog-except-stock"
T = TypeVar("T")


def product_scope(product_id: int) -> str:
    return f"product:{product_id}"


def category_scope(category_id: int) -> str:
    return f"category:{category_id}"


def stock_scope(product_id: int) -> str:
    """The product's stock labels ("Only 3 left"): moved by a sale that relabels a variant
    without selling it out or bringing it back (catalog.stock), read by the product page's
    stock holes only, so that such a sale keeps the page itself."""
    return f"stock:{product_id}"


#: Scopes whose version a lower app keeps under a key of its own (read_with_every_request).
_OWN_KEYS: dict[str, str] = {}


def _version_key(scope: str) -> str:
    return _OWN_KEYS.get(scope) or f"catalog:version:{scope}"


#: The versions read during the current request, per thread: {scope: version}, or None
#: outside a request (a task, a command, a test calling a service), where nothing is kept;
#: and whether the request only reads (GET, HEAD), which may take the versions this process
#: trusts (_TrustedVersions).
_in_request = threading.local()
READING_METHODS = frozenset({"GET", "HEAD"})


def request_started(*, environ: dict | None = None, **kwargs) -> None:
    """Connected to Django's request_started: a request starts with no version read, and
    trusts this process's versions if its method only reads (WSGI's environ; an ASGI
    request, which has none, never does)."""
    _in_request.versions = {}
    _in_request.reading = (environ or {}).get("REQUEST_METHOD") in READING_METHODS


def request_finished(**kwargs) -> None:
    """Connected to Django's request_finished: what a request read is not kept after it."""
    _in_request.versions = None


def _kept() -> dict[str, int] | None:
    return getattr(_in_request, "versions", None)


#: Moved whenever a version is (_new_versions, own_version_moved): the versions a process
#: read stand while the mark it read with them does. Never missing for long: a process that
#: finds it gone (the cache emptied, restarted, out of reach) trusts nothing and starts it
#: again.
MARK_KEY = "catalog:version:mark"
#: How long a process trusts the versions it read without reading the mark again (seconds):
#: another process's change reaches a page it holds within this.
TRUST_SECONDS = 1.0
#: How long a version is trusted after it was read, whatever the mark says (seconds): the
#: backstop for a writer that does not move the mark (a process of an earlier release, while
#: a rolling deploy replaces them).
SCOPE_TRUST_SECONDS = 60.0
#: Versions a process trusts at most (a scope each: products, categories, stock labels);
#: all are given up when full, the hot ones read again at once (about 200 bytes each).
TRUSTED_LIMIT = 20_000


class _TrustedVersions:
    """The versions this process read from the cache, with the mark read with them: a
    request that only reads takes them without a round trip while the mark was read less
    than TRUST_SECONDS ago, and every round trip for versions reads the mark again (it
    moved: all are given up). A change made in this process is seen at once (forget()), one
    made in another within TRUST_SECONDS. A cached page held by the process is then served
    with no round trip at all: the MGET of its versions was a seventh of a category page's
    instructions, and Redis's own work beside.

    Requests that write (POSTs: adding to the cart, placing an order) read every version
    from the cache, as tasks and commands do."""

    def __init__(self):
        self.lock = threading.Lock()  # forget() and learn() (a threaded server's requests)
        self.generation = 0
        self.forget()

    def forget(self) -> None:
        with self.lock:
            # scope -> (version, when it was read: monotonic)
            self.versions: dict[str, tuple[int, float]] = {}
            self.mark = None
            self.checked = -math.inf  # (monotonic) when the mark was last read
            # What was asked before this is older than the change that led here: never learnt.
            self.generation += 1

    def known(self, scopes: list[str]) -> dict[str, int]:
        """Those of `scopes` trusted now."""
        now = time.monotonic()
        if now - self.checked > TRUST_SECONDS:
            return {}
        since, versions, known = now - SCOPE_TRUST_SECONDS, self.versions, {}
        for scope in scopes:
            held = versions.get(scope)
            if held is not None and held[1] >= since:
                known[scope] = held[0]
        return known

    def learn(self, mark, found: dict[str, int], *, generation: int, asked_at: float) -> None:
        """Versions `found` in the cache with `mark`, in a round trip sent at `asked_at`
        (monotonic) when forget() had been called `generation` times."""
        with self.lock:
            if generation != self.generation:
                return
            if mark != self.mark or len(self.versions) >= TRUSTED_LIMIT:
                self.versions = {}
                self.mark = mark
            self.versions.update({scope: (version, asked_at) for scope, version in found.items()})
            self.checked = asked_at


_trusted = _TrustedVersions()


def forget_versions() -> None:
    """This process reads every version from the cache again (after the cache was emptied)."""
    _trusted.forget()


#: Scopes nearly every request reads: the catalog's (the menu, the category tree) and those
#: higher apps add (read_with_every_request). A request's first round trip for versions
#: asks for all of them too, so that the later reads cost none.
_EVERY_REQUEST = {CATALOG, CATALOG_EXCEPT_STOCK}


def read_with_every_request(scope: str, *, key: str | None = None) -> None:
    """Read `scope`'s version in the first round trip of every request (an app whose value
    the layout shows on every page, as promotions' flash sales' link in the header). `key`:
    where the version is kept, for an app below catalog that keeps it itself (the tax rates'
    version, taxes.selectors.VERSION_KEY: that app calls own_version_moved() when it moves
    it); a version lost there starts again from the clock, as that app's own reading starts
    it."""
    _EVERY_REQUEST.add(scope)
    if key is not None:
        _OWN_KEYS[scope] = key


def own_version_moved() -> None:
    """An app moved a version it keeps itself (read_with_every_request's `key`): every
    process reads the versions again."""
    _new_versions([])


def _unread(scopes: list[str], kept: dict[str, int] | None) -> list[str]:
    """The scopes to ask the cache for: those of `scopes` this request has not read yet,
    and with them, on its first round trip, those every request reads."""
    if kept is None:
        return scopes
    unread = [scope for scope in scopes if scope not in kept]
    if unread:
        unread += [scope for scope in sorted(_EVERY_REQUEST) if scope not in kept]
    return list(dict.fromkeys(unread))


def versions(scopes: Iterable[str]) -> dict[str, int]:
    """The current version of each scope, in one cache round trip (none for the scopes this
    request has already read, or, in a request that only reads, that this process trusts)."""
    scopes = list(scopes)
    kept = _kept()
    if kept is not None and all(scope in kept for scope in scopes):
        # Most asks, once the page's round trip has read them (the flash sales' twice a
        # page): a third of what the general path below costs.
        return {scope: kept[scope] for scope in scopes}
    return _read([], scopes, kept)[1]


def read_with_versions(key: str, scopes: Iterable[str]) -> tuple[object, dict[str, int]]:
    """The cache's value at `key` (None if none) and the current versions of `scopes`, in
    one round trip (the versions this request has read are not asked again)."""
    found, current = read_many_with_versions([key], scopes)
    return found.get(key), current


def read_many_with_versions(keys: list[str], scopes: Iterable[str]) -> tuple[dict, dict[str, int]]:
    """read_with_versions() for several keys: {key: value} of those the cache has."""
    return _read(keys, sorted(set(scopes)), _kept())


def _read(
    keys: list[str], scopes: list[str], kept: dict[str, int] | None
) -> tuple[dict, dict[str, int]]:
    """{key: value} of the `keys` the cache has, and the versions of `scopes`: those the
    request read, those this process trusts (a request that only reads), the rest asked with
    the keys, in one round trip (none when nothing is left to ask)."""
    unread = _unread(scopes, kept)
    reading = kept is not None and getattr(_in_request, "reading", False)
    current = _trusted.known(unread) if reading else {}
    asked = [scope for scope in unread if scope not in current]
    found = {}
    if keys or asked:
        generation, asked_at = _trusted.generation, time.monotonic()
        version_keys = [_version_key(scope) for scope in asked]
        found = _get_many([*keys, *version_keys, *([MARK_KEY] if asked else [])])
        read = _read_versions(asked, found)
        if asked:
            _learn(found, read, generation=generation, asked_at=asked_at)
        current.update(read)
    if kept is not None:
        kept.update(current)
        current = {scope: kept[scope] for scope in scopes}
    return {key: found[key] for key in keys if key in found}, current


def _learn(found: dict, read: dict[str, int], *, generation: int, asked_at: float) -> None:
    """Trust the versions `read` that were `found` in the cache (one started again from the
    clock is not: with the cache out of reach, every read starts them), with the mark found
    beside them; with none, trust nothing and start the mark again."""
    mark = found.get(MARK_KEY)
    if mark is None:
        cache.add(MARK_KEY, time.time_ns(), timeout=None)
        _trusted.forget()
        return
    present = {scope: version for scope, version in read.items() if _version_key(scope) in found}
    _trusted.learn(mark, present, generation=generation, asked_at=asked_at)


def _get_many(keys: list[str]) -> dict:
    """cache.get_many(keys), the one round trip of a cached page: with django-redis, one MGET
    sent on this thread's own connection (made with the pool's settings, kept for the
    thread). Around that MGET, django-redis's get_many and redis-py's command path (retries,
    metrics hooks) cost three times the MGET itself (80 against 25 us of CPU a call at load
    9), and taking a connection from the pool and giving it back (its metrics, a poll of the
    socket for data left unread) was another sixth of the round trip. Nothing is ever left
    unread on the thread's connection: any failure disconnects it. A Redis error goes the
    library's way instead (it retries, then IGNORE_EXCEPTIONS reads it as a miss), so an
    outage still degrades to uncached pages."""
    client = getattr(cache, "client", None)
    if type(client) is not DefaultClient:
        return cache.get_many(keys)
    made = {client.make_key(key): key for key in keys}
    try:
        values = own_round_trip(client, "MGET", *made)
    except RedisError:
        return cache.get_many(keys)
    return {
        key: client.decode(value)
        for key, value in zip(made.values(), values, strict=True)
        if value is not None
    }


def own_round_trip(client: DefaultClient, *command):
    """Redis's answer to `command`, sent on this thread's own connection to the server of
    django-redis's `client` (why: _get_many). A Redis error is raised, for the caller to go
    the library's way; any failure disconnects the connection first."""
    connection = _own_connection(client.get_client(write=False).connection_pool)
    try:
        connection.send_command(*command)
        return connection.read_response()
    except BaseException:
        # An answer half read, or still on the way when interrupted (a worker's timeout),
        # must not reach the next command.
        connection.disconnect()
        raise


#: This thread's connection for own_round_trip: (the pool it copies, the process, the
#: connection).
_own = threading.local()


def _own_connection(pool):
    """This thread's connection to the server of `pool`, made with its settings (connected
    on first use); a new one after a fork (the parent's socket is never shared) or when
    django-redis made a new pool."""
    held = getattr(_own, "held", None)
    if held is None or held[0] is not pool or held[1] != os.getpid():
        held = _own.held = (pool, os.getpid(), pool.connection_class(**pool.connection_kwargs))
    return held[2]


def _read_versions(scopes: list[str], found: dict) -> dict[str, int]:
    """The versions of `scopes` from `found` (a get_many's answer), the lost ones started
    again from the clock."""
    keys = {_version_key(scope): scope for scope in scopes}
    found = {key: found[key] for key in keys if key in found}
    missing = {key: time.time_ns() for key in keys if key not in found}
    if missing:
        # add(), not set(): two processes starting a lost version agree on the first one.
        for key, value in missing.items():
            cache.add(key, value, timeout=None)
        found.update(cache.get_many(list(missing)) or {})
        for key, value in missing.items():
            found.setdefault(key, value)
    return {scope: found[key] for key, scope in keys.items()}


def shared(name: str, build: Callable[[], T]) -> T:
    """A small value every page reads (the category tree, the option types) for the
    catalog's current version: kept in this process and in the cache, rebuilt only when the
    version moves. Saves a cache round trip and an unpickling on every request; callers must
    treat the value as read-only, it is shared between requests.

    Kept per language: the value holds names (categories, tags, option values) the merchant
    translates, read in the active language.
    """
    version = versions([CATALOG_EXCEPT_STOCK])[CATALOG_EXCEPT_STOCK]
    return held_per_version(_shared_name(name), version, build, timeout=PAGE_TIMEOUT)


def _shared_name(name: str) -> str:
    return f"catalog:shared:{name}:{get_language() or ''}"


def held_shared(name: str) -> tuple[object, int] | None:
    """The value shared() last gave this process for `name` (in the active language) and
    the catalog's version it was for, or None: without asking the cache."""
    held = last_held(_shared_name(name))
    return None if held is None else (held[1], held[0])


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


def bump(scopes: Iterable[str], *, stock_only: bool = False) -> None:
    """Give these scopes new versions when the current transaction commits (at once outside
    a transaction; never if it rolls back). CATALOG's bump moves CATALOG_EXCEPT_STOCK too,
    unless the change is `stock_only` (products selling out or coming back).

    Not before the commit: a request between a bump and the commit would render the old rows
    and cache them under the new version, to be served until the page times out. After it,
    a page cached from the old rows is under a version nobody reads any more.
    """
    scopes = set(scopes)
    if CATALOG in scopes and not stock_only:
        scopes.add(CATALOG_EXCEPT_STOCK)
    scopes = sorted(scopes)
    if scopes:
        # robust: a cache that fails must not turn a committed write into an error page.
        transaction.on_commit(partial(_new_versions, scopes), robust=True)


def _new_versions(scopes: list[str]) -> None:
    now = time.time_ns()
    cache.set_many({**{_version_key(scope): now for scope in scopes}, MARK_KEY: now}, timeout=None)
    _trusted.forget()  # after: a round trip asked before the versions moved is not learnt
    if _kept() is not None:  # the rest of this request reads the new versions
        _in_request.versions = {}


def products_changed(
    *, product_ids: Iterable[int], category_paths: Iterable[str], stock_only: bool = False
) -> None:
    """Invalidate every page that shows these products.

    `category_paths` are the `subtree_path`s of the products' categories: the listing of each
    of those categories and of all their ancestors shows the products. `stock_only`: only
    whether they are in stock changed (see CATALOG_EXCEPT_STOCK).
    """
    scopes = {CATALOG, *(product_scope(pk) for pk in product_ids)}
    for path in category_paths:
        scopes.update(category_scope(int(pk)) for pk in path.strip("/").split("/") if pk)
    bump(scopes, stock_only=stock_only)


def categories_changed(*, category_ids: Iterable[int]) -> None:
    """A category's name, place or visibility changed: the menu, listings and home show it.
    Every category's listing too (`category_ids`: all of them): each is kept under its own
    version, with the menu in its header."""
    bump([CATALOG, *(category_scope(pk) for pk in category_ids)])


#: Parts of a page that differ between visitors, left as markers in the cached HTML and
#: filled for each request by these functions (request -> HTML; dotted paths, imported when
#: first used: the layout's holes are the shop's). Templates print `<!--hole:NAME-->` where
#: `cached_render` is set.
SITE_HOLES = {
    "site-actions": "shop.holes.site_actions",
    "messages": "shop.holes.messages",
}
#: Holes of the product page that higher apps fill (promotions: its flash sales), name ->
#: function(request, product_id) -> HTML, added by product_hole() when the app is ready:
#: catalog imports none of them. A marker nobody fills stays an HTML comment.
PRODUCT_HOLES: dict[str, Callable[..., str]] = {}


def product_hole(name: str, fill: Callable[..., str]) -> None:
    """Fill every product page's `<!--hole:NAME-->` with `fill(request, product_id)`."""
    PRODUCT_HOLES[name] = fill


#: The page's entries are kept under this prefix: an entry is (versions, Parts). Not the
#: "catalog:page-entry:" of the earlier (versions, HTML) entries, nor the "catalog:page-parts:"
#: of product pages with their stock labels in them (kept under the product's version only),
#: so that processes of two releases sharing a cache never read each other's.
PAGE_PREFIX = "catalog:pages:"
#: A page as kept: its UTF-8 bytes between the places each visitor's parts go, named by str
#: items (a hole's name, or CSRF_PLACEHOLDER for the token).
Parts = tuple[bytes | str, ...]
_CUTS = re.compile(r"<!--hole:([\w-]+)-->|" + CSRF_PLACEHOLDER)
#: Bytes of pages each process holds (the pages it served last), their fragments with them:
#: about 300 pages of 25 to 40 KB, the hot ones (home, the top categories, the best
#: sellers), and a product page's fragments (its recommendations some 10 KB, its stock
#: labels a few hundred bytes); a page or fragment it no longer holds costs its bytes in
#: the round trip and an unpickling.
HELD_PAGES_BYTES = 12 * 2**20


@once  # the dotted paths are the shop's, fixed: imported once, not on every request
def _site_hole(name: str) -> Callable:
    return import_string(SITE_HOLES[name])


def cut(html: str) -> Parts:
    """`html` as kept: UTF-8 bytes cut at its hole markers and CSRF placeholders."""
    parts: list[bytes | str] = []
    start = 0
    for found in _CUTS.finditer(html):
        parts += [html[start : found.start()].encode(), found.group(1) or CSRF_PLACEHOLDER]
        start = found.end()
    parts.append(html[start:].encode())
    return tuple(parts)


class _HeldPages:
    """The pages this process served last, by key: (the entry, when it was kept), at most
    HELD_PAGES_BYTES of them, the least recently served given up first. An entry is served
    only while its versions are the current ones, as the cache's is, and no longer than
    PAGE_TIMEOUT after it was kept (the same safety net). Fragments are held the same way, in
    the same bytes: a page served again finds its fragments held with it (with a budget of
    their own, 1 MiB, a process going round 300 product pages held their pages and read
    every page's recommendations from the cache: 0.19 M instructions and 9.5 KB from Redis
    a request)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.size = 0
        self.entries: OrderedDict[str, tuple[tuple, Parts, float]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> tuple[tuple, Parts] | None:
        held = self.entries.get(key)
        if held is None or time.monotonic() - held[2] > PAGE_TIMEOUT:
            return None
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
        return held[0], held[1]

    def keep(self, key: str, stamp: tuple, parts: Parts | dict[str, bytes]) -> None:
        size = _bytes_of(parts)
        with self.lock:
            self._forget(key)
            self.entries[key] = (stamp, parts, time.monotonic())
            self.size += size
            while self.size > self.limit and self.entries:
                self._forget(next(iter(self.entries)))

    def _forget(self, key: str) -> None:
        held = self.entries.pop(key, None)
        if held is not None:
            self.size -= _bytes_of(held[1])


def _bytes_of(held: Parts | dict[str, bytes]) -> int:
    """The bytes a held page (its parts) or fragment (hole name -> HTML) keeps."""
    if held.__class__ is dict:
        return sum(len(name) + len(html) for name, html in held.items())
    return sum(len(part) for part in held if part.__class__ is bytes)


_held_pages = _HeldPages(HELD_PAGES_BYTES)


class Fragment(NamedTuple):
    """Holes of a cached page that move more often than the page (a product's stock
    labels, its recommendations): one value, hole name -> HTML, built by `build()` and kept
    for the versions of the page's scopes and of its own `scopes`, in the cache and in each
    process, as pages are. When only its own scopes move, the page is kept and only this is
    built again. `name` names it among the fragments and is its key as it is (a product's
    id: short, no spaces; a sha256 of it cost 8,000 instructions a fragment); a NamedTuple,
    made for half a frozen dataclass's cost."""

    name: str
    scopes: tuple[str, ...]
    build: Callable[[], dict[str, str]]


FRAGMENT_PREFIX = "catalog:fragment:"


def cached_page(
    request,
    *,
    template: str,
    scopes: Iterable[str],
    context: Callable[[], dict],
    holes: dict[str, Callable[[], str]] | None = None,
    vary: str,
    confirm: Callable[[dict[str, int]], bool] | None = None,
    fragments: Iterable[Fragment] = (),
) -> HttpResponse | None:
    """Render `template`, or take it from the cache while the versions of `scopes` stand.

    `context()` is only called on a miss: that is where the queries go. Everything the
    template shows must be the same for every visitor, except the holes. `vary` names the
    variant of the page (sort, page number): callers cache only the few variants that are
    hot, so that made-up query strings cannot fill the cache; a context with UNCACHED true
    is rendered and not kept.

    One cache round trip on a hit: the versions this request has not read yet, with the
    page's entry unless this process holds it, in one get_many. The entry's key names the
    page, not its versions; the entry holds the versions it was rendered at and is served
    only while they are all current, so a change still reaches the page at once (the next
    request renders and replaces it, or takes what another process put in its place).

    `confirm(versions)`, when given, is asked once the versions are read, before anything is
    served or rendered: False (the scopes were a guess those versions disprove) returns None.

    `fragments`' holes are filled from their values (see Fragment), whose versions and, when
    this process does not hold them, entries come in the same round trip.
    """
    scopes = sorted(set(scopes))
    fragments = tuple(fragments)
    # The language LocaleMiddleware read from the path (nothing switches it before a page
    # is built): get_language() reads it through asgiref's Local, 15,000 instructions.
    language = request.LANGUAGE_CODE
    parts = [template, request.path, language, vary, *scopes]
    key = PAGE_PREFIX + hashlib.sha256("|".join(parts).encode()).hexdigest()
    held = _held_pages.get(key)
    wanted = [] if held is not None else [key]
    read = {*scopes}
    fragment_keys, held_fragments = [], []
    for fragment in fragments:
        read.update(fragment.scopes)
        fragment_key = f"{FRAGMENT_PREFIX}{fragment.name}:{language}"
        held_fragment = _held_pages.get(fragment_key)
        if held_fragment is None:
            wanted.append(fragment_key)
        fragment_keys.append(fragment_key)
        held_fragments.append(held_fragment)
    found, current = read_many_with_versions(wanted, read) if wanted else ({}, versions(read))
    if confirm is not None and not confirm(current):
        return None
    stamp = tuple(current[scope] for scope in scopes)
    page = _kept_value(key, stamp, held, found.get(key))
    if page is None:
        shared = {**context(), "cached_render": True, "csrf_token": CSRF_PLACEHOLDER}
        page = cut(render_to_string(template, shared, request=request))
        if not shared.get(UNCACHED):
            _keep(key, stamp, page)
    filled = {}
    for fragment, fragment_key, held_fragment in zip(
        fragments, fragment_keys, held_fragments, strict=True
    ):
        fragment_stamp = tuple(current[scope] for scope in sorted({*scopes, *fragment.scopes}))
        holes_html = _kept_value(
            fragment_key, fragment_stamp, held_fragment, found.get(fragment_key)
        )
        if holes_html is None:
            holes_html = {name: html.encode() for name, html in fragment.build().items()}
            _keep(fragment_key, fragment_stamp, holes_html)
        filled.update(holes_html)
    return CookieResponse(fill(request, page, holes=holes, filled=filled))


def _kept_value(key: str, stamp: tuple, held, found):
    """The value kept at `key` for `stamp`, else None: this process's (`held`, what
    _held_pages had), the one read with the versions (`found`), or, when what this process
    holds is of other versions, the cache's (another process may have made it at these)."""
    entry = held if held is not None else found
    if held is not None and held[0] != stamp:
        entry = cache.get(key)
    if not (isinstance(entry, tuple) and len(entry) == 2 and entry[0] == stamp):
        return None
    if entry is not held:
        _held_pages.keep(key, stamp, entry[1])
    return entry[1]


def _keep(key: str, stamp: tuple, value) -> None:
    cache.set(key, (stamp, value), timeout=PAGE_TIMEOUT)
    _held_pages.keep(key, stamp, value)


def fill(
    request,
    page: Parts,
    *,
    holes: dict[str, Callable[[], str]] | None = None,
    filled: dict[str, bytes] | None = None,
) -> bytes:
    """`page` kept for every visitor, with this visitor's parts: the layout's holes
    (SITE_HOLES) and `holes` filled, and the CSRF placeholder (in the page or in what the
    holes gave) swapped for their token, made once. `filled`: holes whose HTML is ready (a
    fragment's: the same for every visitor, its forms' tokens the placeholder)."""
    fillers = _fillers(request, holes)
    token = None
    filled = dict(filled or {})
    out = []
    for part in page:
        if part.__class__ is bytes:
            out.append(part)
        elif part == CSRF_PLACEHOLDER:
            token = token or get_token(request)
            out.append(token.encode())
        elif part in filled:
            html = filled[part]
            if _CSRF_BYTES in html:
                token = token or get_token(request)
                html = filled[part] = html.replace(_CSRF_BYTES, token.encode())
            out.append(html)
        elif part in fillers:
            html = fillers[part]()
            if CSRF_PLACEHOLDER in html:
                token = token or get_token(request)
                html = html.replace(CSRF_PLACEHOLDER, token)
            out.append(filled.setdefault(part, html.encode()))
        else:  # a marker nothing fills is left as it was printed
            out.append(f"<!--hole:{part}-->".encode())
    return b"".join(out)


def kept_layout_parts(request, template: str) -> Parts:
    """`template` rendered as the layout of a page whose body is a visitor's own (the cart,
    a checkout step), as fill() takes it (cut()): the same for every visitor of its address
    and language, kept cut per catalog version in each process (shared()) with its holes and
    the CSRF placeholder, so serving it joins bytes, without searching, decoding or encoding
    the layout. A query string (the language links keep it) is rendered each time, never
    kept."""
    if request.GET:
        return cut(_layout(request, template))
    name = f"layout-parts:{template}:{request.path}"
    return shared(name, lambda: cut(_layout(request, template)))


def _layout(request, template: str) -> str:
    context = {"cached_render": True, "csrf_token": CSRF_PLACEHOLDER}
    return render_to_string(template, context, request=request)


def _fillers(request, holes: dict[str, Callable[[], str]] | None) -> dict[str, Callable]:
    fillers = {name: partial(_site_hole(name), request) for name in SITE_HOLES}
    fillers.update(holes or {})
    return fillers
