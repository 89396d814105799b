"""Uncached searches in-process: CPU, SQL and wall time of a request, and the full ordered
list of what a query lists (to compare two versions of the code on one database).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop_bench REDIS_URL=redis://127.0.0.1:6379/2 \
        .venv/bin/python bench/search_cpu.py cpu --requests 20 --batches 3
    ... bench/search_cpu.py orders --out /tmp/new.json    # then compare two such files

`cpu` asks each page through the WSGI application as gunicorn calls it; each figure is the
mean of one request in the best of `--batches` batches (`time.process_time()` for the CPU,
the least disturbed by what else the machine runs). "unseen" rotates through bench/run.py's
1,000 distinct queries, from `--start` on, so that no batch asks what another asked.
`orders` writes, for bench/run.py's queries and a few of every kind (broad, phrases, `-word`,
`or`), every product the search lists, in its order (the listing index's answer, whole).
"""

import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# The script's folder holds bench/profile.py, which would shadow the standard library's
# `profile` that cProfile imports.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != BASE_DIR / "bench"]

import argparse  # noqa: E402
import cProfile  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import time  # noqa: E402

sys.path.insert(0, str(BASE_DIR))
os.environ.update(
    DEBUG="false",
    SECRET_KEY=os.environ.get("SECRET_KEY", "bench-only-secret-key-not-for-production-0123456789"),
    ALLOWED_HOSTS="testserver",
    SECURE_SSL_REDIRECT="false",
    LOG_LEVEL="WARNING",
    DJANGO_SETTINGS_MODULE="shop.settings",
)

import django  # noqa: E402

django.setup()

import urllib.parse  # noqa: E402

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from catalog import selectors  # noqa: E402
from shop.wsgi import application  # noqa: E402

sys.path.append(str(BASE_DIR / "bench"))
import run as bench_run  # noqa: E402

#: Queries of every kind, besides bench/run.py's: broad words, phrases, exclusions, "or",
#: Chinese, hyphenated, nothing found.
KINDS = [
    "comfort",
    "design",
    "quality value",
    "linen shirt",
    '"linen shirt"',
    "shirt -linen",
    "lamp or kettle",
    "classic",
    "t-shirt",
    "新品",
    "iphnoe",
    "comfort -design",
]


def environ(path: str) -> dict:
    path, _, query = path.partition("?")
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
    }


def ask(path: str) -> int:
    status = []
    body = application(environ(path), lambda s, headers, exc=None: status.append(s))
    try:
        for _chunk in body:
            pass
    finally:
        body.close()
    return int(status[0].split()[0])


class SqlClock:
    """Statements and their wall time."""

    def __init__(self):
        self.queries = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        self.queries += 1
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


def search_path(query: str) -> str:
    return "/search/?q=" + urllib.parse.quote_plus(query.replace("+", " "))


def batch(paths: list[str]) -> tuple[float, float, float, int]:
    """CPU, SQL wall and wall ms a request, and queries a request."""
    clock = SqlClock()
    with connection.execute_wrapper(clock):
        cpu, wall = time.process_time(), time.perf_counter()
        for path in paths:
            assert ask(path) == 200, path
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    n = len(paths)
    return cpu / n * 1000, clock.seconds / n * 1000, wall / n * 1000, clock.queries // n


def unseen_queries() -> list[str]:
    client = Client()
    return bench_run.search_queries(
        bench_run.UNSEEN_SEARCHES, get=lambda path: client.get(path).content.decode()
    )


def cpu(args) -> None:
    queries = unseen_queries()
    pages = {
        "bare": ["/livez"],
        "comfort": [search_path("comfort")],
        "linen shirt": [search_path("linen shirt")],
    }
    only = [name for name in args.only.split(",") if name]
    start = args.start
    for name, paths in pages.items():
        if only and name not in only:
            continue
        for _ in range(5):
            ask(paths[0])
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{args.label} load {load}: a request's ms (best batch of {args.batches})", flush=True)
    for name in [*pages, "unseen"]:
        if only and name not in only:
            continue
        results = []
        for _ in range(args.batches):
            if name == "unseen":
                paths = [search_path(q) for q in queries[start : start + args.requests]]
                start += args.requests
            else:
                paths = pages[name] * args.requests
            results.append(batch(paths))
        best = min(results)
        print(
            f"  {name:<12} CPU {best[0]:7.2f}  SQL {best[1]:7.2f}  wall {best[2]:7.2f}  "
            f"queries {best[3]}  (CPU of the batches: "
            f"{', '.join(f'{r[0]:.2f}' for r in results)})",
            flush=True,
        )
        if args.profile:
            profiler = cProfile.Profile(time.process_time)
            paths = (
                [search_path(q) for q in queries[start : start + args.requests]]
                if name == "unseen"
                else pages[name] * args.requests
            )
            start += args.requests if name == "unseen" else 0
            profiler.enable()
            for path in paths:
                ask(path)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(args.profile)
            stats.sort_stats("tottime").print_stats(args.profile)
            print(out.getvalue())


def orders(args) -> None:
    """Every listed product of each query, in order, as the listing index answers it."""
    queries = [*KINDS, *unseen_queries()[: args.count]]
    found = {}
    for query in queries:
        query = selectors.clean_query(query.replace("+", " "))
        matches = selectors.search_ids(query)
        listing = selectors.listing(
            base=selectors.card_queryset,
            filters=selectors.ListingFilters(),
            sort="relevance",
            offset=0,
            limit=10**7,
            category_ids=selectors.category_tree().active_ids,
            matches=matches,
        )
        found[query] = listing.cards.ids
    Path(args.out).write_text(json.dumps(found))
    print(f"{len(found)} queries, {sum(map(len, found.values()))} products listed in all")


def compare(args) -> None:
    one, other = (json.loads(Path(name).read_text()) for name in (args.one, args.other))
    differ = [q for q in one if one[q] != other.get(q)]
    print(
        f"{len(one)} queries, {sum(map(len, one.values()))} products listed; "
        f"{len(differ)} lists differ: {differ[:10]}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    timing = commands.add_parser("cpu")
    timing.add_argument("--requests", type=int, default=20)
    timing.add_argument("--batches", type=int, default=3)
    timing.add_argument("--only", default="", help="bare,comfort,linen shirt,unseen")
    timing.add_argument("--start", type=int, default=0, help="first unseen query")
    timing.add_argument("--profile", type=int, default=0, help="top N functions")
    timing.add_argument("--label", default="")
    listed = commands.add_parser("orders")
    listed.add_argument("--out", required=True)
    listed.add_argument("--count", type=int, default=200, help="of bench/run.py's queries")
    both = commands.add_parser("compare")
    both.add_argument("one")
    both.add_argument("other")
    args = parser.parse_args()
    {"cpu": cpu, "orders": orders, "compare": compare}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
