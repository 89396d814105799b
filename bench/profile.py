"""Where a page's time goes: each page asked in-process (Django's test client) against the
database and cache of the environment, profiled with pyinstrument, written to
bench/results/profile-<page>.md (mean time, queries, top functions by own and total time).

Run it on a seeded catalog (`make bench` seeds one), with DEBUG off as the bench serves:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop_bench REDIS_URL=redis://127.0.0.1:6379/2 \
        .venv/bin/python bench/profile.py --only cart-3,purchase

In-process timings leave out gunicorn and the socket; they say where the time goes, `make
bench` says how fast it is.
"""

import argparse
import os
import re
import sys
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS = BASE_DIR / "bench" / "results"
#: Functions listed in each table: enough to see the three or four costs that matter.
TOP = 25

os.environ.update(
    DEBUG="false",
    SECRET_KEY=os.environ.get("SECRET_KEY", "bench-only-secret-key-not-for-production-0123456789"),
    ALLOWED_HOSTS="testserver",
    SECURE_SSL_REDIRECT="false",
    LOG_LEVEL="WARNING",
    DJANGO_SETTINGS_MODULE="shop.settings",
)
sys.path.insert(0, str(BASE_DIR))

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from pyinstrument import Profiler  # noqa: E402

sys.path.insert(0, str(BASE_DIR / "bench"))
import purchase as purchase_bench  # noqa: E402
import run as bench_run  # noqa: E402


class Guest:
    """A test client that reads the CSRF token off each page, as a browser's form does."""

    def __init__(self):
        self.client = Client()
        self.token = ""

    def get(self, path: str):
        response = self.client.get(path)
        self._read_token(response)
        return response

    def post(self, path: str, data: dict):
        response = self.client.post(path, {**data, "csrfmiddlewaretoken": self.token})
        self._read_token(response)
        # The page a browser is sent to next shows the messages ("Added ...") and they
        # leave its cookies; kept here they grew with every post (the cookie, then the
        # session past the cookie's 2 KB), which no shopper's requests carry.
        self.client.cookies.pop("messages", None)
        return response

    def _read_token(self, response) -> None:
        if match := re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', response.content):
            self.token = match.group(1).decode()


def sellable_variants(count: int) -> list[int]:
    html = Client().get("/products/?per_page=96").content.decode()
    html += Client().get("/products/?per_page=96&page=2").content.decode()
    return [int(i) for i in re.findall(r'name="variant" value="(\d+)"', html)][:count]


def cart_of(lines: int) -> Guest:
    guest = Guest()
    guest.get("/cart/")
    for variant in sellable_variants(lines):
        guest.post("/cart/add/", {"variant": variant, "quantity": 1})
    guest.get("/cart/")
    return guest


def scenarios() -> dict[str, Callable[[], Callable[[int], None]]]:
    """name -> setup giving the request to profile (called with the round's number)."""

    def page(path: str):
        def setup():
            client = Client()
            return lambda _n: client.get(path)

        return setup

    def cart(lines: int):
        def setup():
            guest = cart_of(lines)
            return lambda _n: guest.get("/cart/")

        return setup

    def add():
        guest = cart_of(3)
        variants = sellable_variants(150)
        return lambda n: guest.post(
            "/cart/add/", {"variant": variants[n % len(variants)], "quantity": 1, "next": "/cart/"}
        )

    def update():
        guest = cart_of(3)
        html = guest.get("/cart/").content.decode()
        lines = re.findall(r'name="quantity-(\d+)"', html)

        def change(n):
            data = {f"quantity-{pk}": 1 + (n + i) % 2 for i, pk in enumerate(lines)}
            data.update({f"selected-{pk}": "on" for pk in lines})
            guest.post("/cart/update/", data)

        return change

    def search():
        client = Client()
        queries = bench_run.search_queries(500, get=lambda path: client.get(path).content.decode())
        return lambda n: client.get(f"/search/?q={queries[n % len(queries)]}")

    def buy():
        paths = product_paths()
        return lambda n: purchase_in_process(paths[n % len(paths)])

    return {
        "bare": page("/livez"),
        "home": page("/"),
        "category": page("/c/clothing/"),
        "product": page("/p/demo-000010/"),
        "search": search,
        "cart-3": cart(3),
        "cart-20": cart(20),
        "add-to-cart": add,
        "quantity-update": update,
        "purchase": buy,
    }


def product_paths() -> list[str]:
    html = Client().get("/products/").content.decode()
    return list(dict.fromkeys(re.findall(r'href="(/p/[^"/]+/)"', html)))


#: One request handler for every purchasing guest: a new Client builds its own and loads the
#: middleware again on its first request, and WhiteNoise's then reads every static file's
#: headers (some 90 ms of CPU a purchase, which no server spends: it loads them once).
_handler = Client().handler


class PurchasingGuest(purchase_bench.Guest):
    """bench/purchase.py's guest, asking the test client instead of a server. A new
    guest's own cookies (a new Client), the server's one handler."""

    def __init__(self):
        super().__init__(port=0)
        self.client = Client()
        self.client.handler = _handler

    def request(self, method: str, path: str, data: dict | None = None):
        if data is None:
            response = self.client.get(path)
        else:
            # A form as bench/purchase.py (and a browser) posts it, not the test client's
            # default multipart body, whose parsing cost a posted step ~1 ms of CPU.
            response = self.client.post(
                path,
                urllib.parse.urlencode({**data, "csrfmiddlewaretoken": self.token}),
                content_type="application/x-www-form-urlencoded",
            )
        html = response.content.decode()
        if match := re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html):
            self.token = match.group(1)
        return response.status_code, response.get("Location", ""), html


def purchase_in_process(product_path: str) -> None:
    """bench/purchase.py's six requests, through the test client."""
    if purchase_bench.purchase(PurchasingGuest(), product_path) is False:
        raise SystemExit(f"a purchase of {product_path} failed")


def top_functions(session) -> tuple[list, list]:
    """(own time, total time) per function over the profile, largest first."""
    own: dict[str, float] = defaultdict(float)
    total: dict[str, float] = defaultdict(float)

    def walk(frame, on_stack: set[str]) -> None:
        name = f"{frame.function} ({frame.file_path_short}:{frame.line_no})"
        own[name] += frame.total_self_time
        # The shop's own functions (not the bench's), once each up a recursive stack.
        if frame.is_application_code and "bench/" not in frame.file_path and name not in on_stack:
            total[name] += frame.time
        for child in frame.children:
            if not child.is_synthetic:  # pyinstrument's "[self]" leaves: in total_self_time
                walk(child, on_stack | {name})

    walk(session.root_frame(), set())
    by = lambda table: sorted(table.items(), key=lambda kv: -kv[1])[:TOP]  # noqa: E731
    return by(own), by(total)


def cpu_ms(run, rounds: int, first: int) -> float:
    """CPU time of one request, on average: less moved than wall-clock time by what else
    the machine runs (the database's and the cache's work is not in it)."""
    started = time.process_time()
    for n in range(first, first + rounds):
        run(n)
    return (time.process_time() - started) / rounds * 1000


def profile(name: str, setup, rounds: int) -> tuple[str, float]:
    """The report of one page, and its CPU milliseconds per request."""
    run = setup()
    for n in range(5):  # warm caches, connections, template loaders
        run(n)
    queries: list[str] = []

    def note(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    # Not CaptureQueriesContext: each request's start empties the connection's query log.
    with connection.execute_wrapper(note):
        run(5)
    cpu = cpu_ms(run, rounds, first=6)
    # Sampling on a thread of its own: this machine's clock is too slow to be read at
    # every call (pyinstrument warns of 40 µs), which would distort the profile.
    profiler = Profiler(interval=0.001, use_timing_thread=True)
    profiler.start()
    for n in range(6 + rounds, 6 + 2 * rounds):
        run(n)
    profiler.stop()
    own, total = top_functions(profiler.last_session)
    seconds = profiler.last_session.duration
    share = lambda t: f"{t / seconds:.0%}"  # noqa: E731
    lines = [
        f"# Profile: {name}",
        "",
        f"{rounds} requests in-process: {cpu:.2f} ms of CPU each on average, "
        f"{len(queries)} queries a request; then {rounds} more sampled by pyinstrument.",
        "",
        ## Own time",
        "",
        "| function | share |",
        "| --- | ---: |",
        *(f"| `{fn}` | {share(t)} |" for fn, t in own),
        "",
        "## Total time of the shop's functions (with what they call)",
        "",
        "| function | share |",
        "| --- | ---: |",
        *(f"| `{fn}` | {share(t)} |" for fn, t in total),
        "",
        "## Queries of one request",
        "",
        *(f"1. `{sql[:160]}`" for sql in queries),
        "",
    ]
    return "\n".join(lines), cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100, help="profiled requests per page")
    parser.add_argument("--only", default="", help="comma-separated page names")
    args = parser.parse_args()
    chosen = [name for name in args.only.split(",") if name]
    RESULTS.mkdir(exist_ok=True)
    for name, setup in scenarios().items():
        if chosen and name not in chosen:
            continue
        rounds = max(1, args.rounds // 6) if name == "purchase" else args.rounds
        report, cpu = profile(name, setup, rounds)
        (RESULTS / f"profile-{name}.md").write_text(report)
        print(f"{name}: {cpu:.2f} ms CPU", "\n".join(report.splitlines()[2:3]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
