"""CPU time, queries and cache round trips of the cached pages (home, category, product) and
the bare view, asked through the WSGI application as gunicorn calls it, for two visitors:

- `new`: a first visit, no cookie at all (as wrk asks);
- `returning`: a guest coming back as most shoppers do, with their CSRF cookie, a session
  holding a cart of one line, and the recently viewed products' cookie.

Each figure is the mean CPU time (`time.process_time()`) of one request in the best of
`--batches` batches of `--requests`, the least disturbed by what else the machine runs. With
`--profile` each page is profiled too (cProfile on the CPU clock), its top functions printed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop_bench REDIS_URL=redis://127.0.0.1:6379/2 \
        .venv/bin/python bench/cached_cpu.py --requests 500 --batches 3

In-process CPU leaves out gunicorn and the socket (the same for every page): it says what
the shop's Python costs a request. The Test client is not used for the measured requests:
its cookie handling and signals are not in a served request.

With `--callgrind OUT` the figure is instructions a request instead, the same whatever else
the machine runs: each batch is run inside `operator.call` (a C function nothing on a
request's path calls), which callgrind collects alone and dumps on its exit to `OUT.<n>`:

    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=_operator_call \
        --dump-after=_operator_call --callgrind-out-file=/tmp/cg/out \
        .venv/bin/python bench/cached_cpu.py --visitors new --requests 100 --batches 1 \
        --callgrind /tmp/cg/out
"""

import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# The script's folder holds bench/profile.py, which would shadow the standard library's
# `profile` that cProfile imports.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != BASE_DIR / "bench"]

import argparse  # noqa: E402
import cProfile  # noqa: E402
import importlib.util  # noqa: E402
import io  # noqa: E402
import operator  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from functools import partial  # noqa: E402

# bench/profile.py (it sets up Django, DEBUG off) by its path: `import profile` would find
# the standard library's module of that name once cProfile has loaded it.
_spec = importlib.util.spec_from_file_location("bench_profile", BASE_DIR / "bench" / "profile.py")
bench_profile = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_profile)
_spec = importlib.util.spec_from_file_location("gunicorn_conf", BASE_DIR / "gunicorn.conf.py")
gunicorn_conf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gunicorn_conf)

from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402

from catalog import cache as catalog_cache  # noqa: E402
from shop.wsgi import application  # noqa: E402

PAGES = {
    "bare": "/livez",
    "home": "/",
    "home-zh": "/zh-hans/",
    "category": "/c/clothing/",
    "price": "/c/clothing/?sort=price",
    "-price": "/c/clothing/?sort=-price",
    "newest": "/c/clothing/?sort=newest",
    "page-2": "/c/clothing/?page=2",
    "subcategory": "/c/men-shirts/",
    "sub-zh": "/zh-hans/c/men-shirts/?sort=price",
    "product": "/p/demo-000010/",
}


def environ(address: str, cookie: str) -> dict:
    """A GET of `address` (a path and maybe a query string) as gunicorn hands it to the
    application."""
    path, _, query = address.partition("?")
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "HTTP_ACCEPT": "text/html",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **({"HTTP_COOKIE": cookie} if cookie else {}),
    }


def ask(path: str, cookie: str) -> int:
    """One request through the application, its body read as a server sends it."""
    status = []
    body = application(environ(path, cookie), lambda s, headers, exc=None: status.append(s))
    try:
        for _chunk in body:
            pass
    finally:
        body.close()
    return int(status[0].split()[0])


def returning_cookie() -> str:
    """The cookies of a guest who came before: CSRF, a session with a cart of one line, the
    products they viewed."""
    guest = bench_profile.Guest()
    guest.get("/")
    variant = bench_profile.sellable_variants(1)[0]
    guest.post("/cart/add/", {"variant": variant, "quantity": 1})
    for path in ("/p/demo-000011/", "/p/demo-000012/", PAGES["product"]):
        guest.get(path)
    cookies = guest.client.cookies
    assert {"csrftoken", "sessionid", "recently_viewed"} <= set(cookies), set(cookies)
    return "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())


class Counted:
    """Queries and cache round trips of one request: connections taken from django-redis's
    pool, and the commands sent on the thread's own connection (catalog.cache.
    own_round_trip: the cached pages' MGET, the sessions' reads and writes; a failed one
    that goes to the pool is counted once)."""

    def __init__(self):
        self.queries = 0
        self.round_trips = 0
        self.inside = False

    def __enter__(self):
        client = cache.client.get_client() if hasattr(cache, "client") else None
        self.patched = client.connection_pool if client is not None else None
        counter = self
        if self.patched is not None:
            original = type(self.patched).get_connection

            def get_connection(pool, *args, **kwargs):
                counter.round_trips += not counter.inside
                return original(pool, *args, **kwargs)

            self.patched.get_connection = get_connection.__get__(self.patched)
        self.own_round_trip = catalog_cache.own_round_trip

        def own_round_trip(*args):
            counter.round_trips += 1
            counter.inside = True
            try:
                return self.own_round_trip(*args)
            finally:
                counter.inside = False

        catalog_cache.own_round_trip = own_round_trip
        self.wrapper = connection.execute_wrapper(self.note)
        self.wrapper.__enter__()
        return self

    def note(self, execute, sql, params, many, context):
        self.queries += 1
        return execute(sql, params, many, context)

    def __exit__(self, *exc):
        self.wrapper.__exit__(*exc)
        catalog_cache.own_round_trip = self.own_round_trip
        if self.patched is not None:
            del self.patched.get_connection


def cpu_ms(path: str, cookie: str, requests: int) -> float:
    started = time.process_time()
    for _ in range(requests):
        ask(path, cookie)
    return (time.process_time() - started) / requests * 1000


def instructions(path: str, cookie: str, requests: int, out: str) -> float:
    """Millions of instructions a request, as callgrind counted them (see --callgrind)."""
    return instructions_of(partial(ask, path, cookie), requests, out)


def instructions_of(request: Callable[[], object], requests: int, out: str) -> float:
    """Millions of instructions of one `request()`, `requests` of them run inside
    `operator.call` (which callgrind alone collects and dumps to `OUT.<n>`)."""
    dumps = set(Path(out).parent.glob(f"{Path(out).name}.*"))
    operator.call(lambda: [request() for _ in range(requests)])
    (dump,) = set(Path(out).parent.glob(f"{Path(out).name}.*")) - dumps
    return int(re.search(r"^totals: (\d+)", dump.read_text(), re.M).group(1)) / requests / 1e6


def top(path: str, cookie: str, requests: int, lines: int) -> str:
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(requests):
        ask(path, cookie)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(lines)
    stats.sort_stats("tottime").print_stats(lines)
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated of: " + ",".join(PAGES))
    parser.add_argument("--visitors", default="new,returning")
    parser.add_argument("--profile", type=int, default=0, help="top N functions per page")
    parser.add_argument("--label", default=os.environ.get("BENCH_LABEL", ""))
    parser.add_argument("--callgrind", metavar="OUT", help="instructions: run under callgrind")
    args = parser.parse_args()
    pages = {n: p for n, p in PAGES.items() if not args.only or n in args.only.split(",")}
    cookies = {"new": "", "returning": returning_cookie() if "returning" in args.visitors else ""}
    visitors = [v for v in args.visitors.split(",") if v]
    for path in pages.values():  # rendered and cached, loaders and connections warm
        for cookie in cookies.values():
            for _ in range(20):
                assert ask(path, cookie) == 200, path
    gunicorn_conf.settle_collector()  # as a served worker's collector runs
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    unit = "M instructions" if args.callgrind else "ms CPU"
    measure = partial(instructions, out=args.callgrind) if args.callgrind else cpu_ms
    print(f"{args.label} load {load}: {unit} a request (best batch of {args.batches})")
    for name, path in pages.items():
        for visitor in visitors:
            cookie = cookies[visitor]
            with Counted() as counted:
                ask(path, cookie)
            best = min(measure(path, cookie, args.requests) for _ in range(args.batches))
            print(
                f"  {name:<11} {visitor:<10} {best:6.3f} {unit.split()[0]:<2}  "
                f"{counted.queries} queries  "
                f"{counted.round_trips} cache round trips",
                flush=True,
            )
            if args.profile:
                print(top(path, cookie, args.requests, args.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
