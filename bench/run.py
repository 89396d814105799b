"""Load-test the shop as it runs in production and write the figures to bench/results/latest.md.

gunicorn (2 x cores + 1 sync workers, DEBUG off) on PostgreSQL and Redis, driven by wrk on
loopback. Each page is compared with /livez, a bare Django view on the same server (the
framework's ceiling), asked in turn with it: --rounds slices of the bare view then of the page,
--duration seconds each, and the page's share is its requests over the bare view's in those
slices, so that both saw the same machine (on this shared host its speed drifts by a factor
of two within minutes). The bare view is also asked alone at the start of the run and again
after the pages: how far the machine's speed moved.

Pages are asked as shoppers ask them, many different addresses rather than one repeated: the
cached rows go round hundreds of pages of their kind (each asked once before, so that the run
measures the kept page), the cold rows ask pages nobody asked before (what a crawler or a
sale's first minute costs) and say how many they asked of how many distinct (fewer: none
twice). The bench reads the addresses from the database, so it works at any catalog size,
and empties its Redis database first: nothing is kept from an earlier run.

    make bench                                   # defaults below
    make bench BENCH_ARGS="--duration 2 --rounds 2 --products 1000"
    make bench BENCH_ARGS="--searches --seeded --database postgres://…/shop_100k"

`--searches` measures the searches alone (issue 19's goals), each with one connection (solo)
and under the load of --connections, and writes bench/results/searches-latest.md.
"""

import argparse
import concurrent.futures
import datetime
import http.client
import http.cookies
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import purchase as purchase_bench  # bench/purchase.py: the whole purchase as orders/second
import redis  # django-redis's client, in the shop's requirements

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS = BASE_DIR / "bench" / "results"
PORT = 8765  # --port changes it
#: gunicorn kills a worker after this many seconds: above the web statement timeout (5 s,
#: DATABASE_STATEMENT_TIMEOUT), so that PostgreSQL cancels a runaway query and the shopper
#: gets the shop's own answer before gunicorn would kill the worker (and leave the query).
GUNICORN_TIMEOUT = 20
#: A bare Django view (the shop's middleware and nothing else): the framework's ceiling.
BARE_VIEW = "/livez"
BASELINE = "baseline: bare Django view"
BASELINE_AGAIN = "baseline again, after the pages"


def pages() -> list[tuple[str, str]]:
    """The pages measured at one address each, besides the baseline: (name, path)."""
    return [
        ("all products, page 40 (uncached)", "/products/?page=40"),
        # "comfort" is in the descriptions of about a third of the demo catalog (3,400 of
        # 9,791 published products at 10,000): a broad search, as issue 19 asks.
        ("search, a third of the catalog (uncached)", "/search/?q=comfort"),
        ("search, a few products (uncached)", "/search/?q=linen+shirt"),
        ("search with a typo (uncached)", "/search/?q=iphnoe"),
        ("health check", "/healthz"),
    ]


#: The home page in each of the shop's languages (English unprefixed, Chinese under
#: /zh-hans/, as shop/urls.py serves them).
HOME_PATHS = ["/", "/zh-hans/"]
#: The kept variations of each category's listing that shoppers ask: its own address, the
#: two price sorts, the newest and the second page. Listings keep their first pages per sort
#: (catalog.views.CACHED_PAGES); a page size or a filter is never kept, so it is not here.
CATEGORY_VARIATIONS = ["", "?sort=price", "?sort=-price", "?sort=newest", "?page=2"]
#: Product pages the cached row goes round, spread over the catalog; every third at a
#: ?variant= (a shopper who picked another colour or size: a page kept of its own).
PRODUCT_PAGES = 300
#: Filter sets the uncached filtered row goes round, and the never-asked ones of the cold
#: row (more than a run of this length asks).
FILTER_SETS = 12
COLD_FILTER_SETS = 5000
SORTS = ["relevance", "price", "-price", "newest", "best-selling", "top-rated"]
#: What the filtered rows show of their addresses.
FILTERED_SHOWN = "/c/…/?brand=…&colour=…&price_min=…&sort=…"
PRICE_BANDS = [("0", "50"), ("20", "100"), ("50", "200"), ("100", "500"), ("200", "")]


def catalog_rows(database: str, sql: str) -> list[list[str]]:
    """The rows `sql` reads from the bench's catalog, each a list of its columns' text."""
    output = subprocess.run(
        ["psql", database, "-AtF", "\t", "-c", sql], check=True, capture_output=True, text=True
    ).stdout
    return [line.split("\t") for line in output.splitlines()]


def catalog_categories(database: str) -> list[str]:
    """The slugs of the active categories, parents before their children."""
    sql = "SELECT slug FROM catalog_category WHERE is_active ORDER BY path, position, id"
    return [slug for (slug,) in catalog_rows(database, sql)]


def catalog_products(database: str) -> list[tuple[str, str]]:
    """Each published product's slug and its last variant's id ("" if it has none)."""
    sql = (
        "SELECT p.slug, coalesce(max(v.id)::text, '') FROM catalog_product p "
        "LEFT JOIN catalog_variant v ON v.product_id = p.id WHERE p.is_published "
        "GROUP BY p.id ORDER BY p.id"
    )
    return [(slug, variant) for slug, variant in catalog_rows(database, sql)]


#: Each active category's listing and the products it lists (its own and its subcategories').
LISTED = (
    "FROM catalog_category a JOIN catalog_category c "
    "ON c.id = a.id OR c.path LIKE a.path || a.id || '/%' "
    "JOIN catalog_product p ON p.category_id = c.id AND p.is_published "
)


def catalog_facets(database: str) -> dict[str, dict[str, list[str]]]:
    """What each active category's products can be filtered by, as its listing's parameters:
    {category slug: {"brand": brand slugs, option type slug: its value slugs, ...}}."""
    sql = (
        f"SELECT a.slug, 'brand', b.slug {LISTED}"
        "JOIN catalog_brand b ON b.id = p.brand_id WHERE a.is_active "
        f"UNION SELECT a.slug, t.slug, o.slug {LISTED}"
        "JOIN catalog_variant v ON v.product_id = p.id "
        "JOIN catalog_variant_option_values vo ON vo.variant_id = v.id "
        "JOIN catalog_optionvalue o ON o.id = vo.optionvalue_id "
        "JOIN catalog_optiontype t ON t.id = o.option_type_id WHERE a.is_active "
        "ORDER BY 1, 2, 3"
    )
    facets: dict[str, dict[str, list[str]]] = {}
    for category, param, value in catalog_rows(database, sql):
        facets.setdefault(category, {}).setdefault(param, []).append(value)
    return facets


def category_paths(categories: list[str]) -> list[str]:
    """Every category's kept listing pages (CATEGORY_VARIATIONS)."""
    return [f"/c/{slug}/{variation}" for slug in categories for variation in CATEGORY_VARIATIONS]


def product_paths(products: list[tuple[str, str]], kept: int) -> tuple[list[str], list[str]]:
    """The cached row's pages, `kept` products spread over the catalog (every third at its
    last variant's ?variant=), and the cold row's: every other product once, in an order
    fixed by a seed (a crawler or a sale's shoppers are not in the catalog's order)."""
    chosen = products[:: max(1, len(products) // kept)][:kept]
    cached = [
        f"/p/{slug}/" + (f"?variant={variant}" if turn % 3 == 2 and variant else "")
        for turn, (slug, variant) in enumerate(chosen)
    ]
    asked = {slug for slug, _variant in chosen}
    cold = [f"/p/{slug}/" for slug, _variant in products if slug not in asked]
    random.Random(19).shuffle(cold)  # noqa: S311  (reproducible bench addresses, not secrets)
    return cached, cold


def filter_sets(facets: dict[str, dict[str, list[str]]], count: int, *, seed: int) -> list[str]:
    """Up to `count` distinct filtered listings as a shopper asks them: a category (each in
    turn), one to three of what its products can be filtered by (brand, an option such as
    colour or size, a price band), one value or two of each, and a sort or none."""
    rng = random.Random(seed)  # noqa: S311  (reproducible bench addresses, not secrets)
    categories = sorted(facets)
    paths: dict[str, None] = {}
    for turn in range(20 * count):
        if len(paths) >= count or not categories:
            break
        category = categories[turn % len(categories)]
        kinds = [*sorted(facets[category]), "price"]
        params: list[tuple[str, str]] = []
        for kind in sorted(rng.sample(kinds, k=rng.randint(1, min(3, len(kinds))))):
            if kind == "price":
                low, high = rng.choice(PRICE_BANDS)
                params += [("price_min", low), *([("price_max", high)] if high else [])]
            else:
                values = facets[category][kind]
                picked = rng.sample(values, k=min(len(values), rng.choice([1, 1, 2])))
                params += [(kind, value) for value in sorted(picked)]
        if sort := rng.choice([None, *SORTS]):
            params.append(("sort", sort))
        paths[f"/c/{category}/?{urllib.parse.urlencode(params)}"] = None
    return list(paths)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--duration",
        type=int,
        default=4,
        help="seconds of each slice of load: a row asks the bare view then the page for as "
        "long, --rounds times",
    )
    parser.add_argument("--rounds", type=int, default=3, help="slices of each page per row")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/shop_bench")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/2")
    parser.add_argument("--products", type=int, default=10_000, help="demo catalog size")
    parser.add_argument("--port", type=int, default=PORT, help="port gunicorn listens on")
    parser.add_argument(
        "--keep-readme", action="store_true", help="do not rewrite the README's table"
    )
    parser.add_argument(
        "--searches",
        action="store_true",
        help="measure the searches only, solo and under load, beside the bare view (the "
        "catalog's size is the database's): bench/results/searches-latest.md, README untouched",
    )
    parser.add_argument(
        "--seeded",
        action="store_true",
        help="the database holds its catalog already (e.g. a copy of a 100,000-product "
        "one): migrate only, no seeding",
    )
    parser.add_argument(
        "--celery-worker",
        metavar="BROKER_URL",
        default="",
        help="queue the shop's tasks on this broker and run one Celery worker process beside "
        "gunicorn, as production does: the order mails are then rendered by the worker (on "
        "the same cores) instead of inline in the request that placed the order",
    )
    args = parser.parse_args()
    set_port(args.port)

    ensure_wrk()
    env = server_env(args)
    prepare_database(env, products=None if args.seeded else args.products)
    empty_cache(args.redis)
    if args.searches:
        return searches_only(args, env)
    workers = 2 * (os.cpu_count() or 1) + 1
    load_before = os.getloadavg()
    server = start_gunicorn(env, workers)
    worker = start_celery_worker(env) if args.celery_worker else None
    try:
        wait_until_up(f"http://127.0.0.1:{PORT}{BARE_VIEW}")
        memory_at_start = worker_memory_mib(server.pid)
        paths = shopper_paths(args.database)
        rows = [measure_bare(BASELINE, args), *cached_rows(args, paths)]
        rows += [measure(name, path, args) for name, path in pages()]
        rows += [unseen_searches(args)]
        # Last of the pages: the pages they keep would push the cached rows' out of the
        # workers' memory.
        rows += cold_rows(args, paths)
        rows += cart_rows(args)
        rows += [measure_bare(BASELINE_AGAIN, args)]
        memory = (memory_at_start, worker_memory_mib(server.pid))
        bought = purchase_bench.measure(
            port=PORT,
            seconds=2 * args.rounds * args.duration,
            shoppers=max(1, args.connections // 2),
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
    table = render_table(rows)
    conditions = [
        setup_line(args, workers),
        slices_line(args),
        load_line((load_before, os.getloadavg())),
    ]
    report = render(conditions, table, memory) + "\n" + purchase_bench.render(bought)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(report)
    if not args.keep_readme:
        update_readme(
            "\n".join([*conditions, "", table]), purchase_bench.render(bought, heading="####")
        )
    print(report)
    return 0


def set_port(port: int) -> None:
    global PORT
    PORT = port


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    print("Installing wrk (Debian package)...", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)


def server_env(args) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DEBUG="false",
        SECRET_KEY="bench-only-secret-key-not-for-production-0123456789abcdef",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        DATABASE_URL=args.database,
        REDIS_URL=args.redis,
        LOG_LEVEL="WARNING",
    )
    # Without a broker, tasks run inline (settings.CELERY_TASK_ALWAYS_EAGER).
    env.pop("CELERY_BROKER_URL", None)
    if getattr(args, "celery_worker", ""):
        env["CELERY_BROKER_URL"] = args.celery_worker
    return env


def start_celery_worker(env: dict[str, str]) -> subprocess.Popen:
    """One worker process (prefork, concurrency 1): it shares the machine's cores with
    gunicorn, PostgreSQL and the load generator, as it would on a 2-core production host."""
    celery = Path(sys.executable).with_name("celery")
    return subprocess.Popen(
        [str(celery), "-A", "shop", "worker", "--concurrency", "1", "--loglevel", "warning"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def prepare_database(env: dict[str, str], *, products: int | None) -> None:
    """Migrated, seeded with `products` demo products (None: as it is), static files
    collected, vacuumed and analysed."""
    name = env["DATABASE_URL"].rsplit("/", 1)[1]
    created = subprocess.run(
        ["createdb", "-h", "127.0.0.1", "-U", "postgres", name], capture_output=True, text=True
    )
    if created.returncode != 0 and "already exists" not in created.stderr:
        raise SystemExit(created.stderr)
    manage = [sys.executable, "manage.py"]
    seed = [["seed_demo", "--products", str(products)]] if products is not None else []
    for command in (["migrate", "--noinput"], *seed, ["collectstatic", "--noinput"]):
        print("manage.py", " ".join(command), flush=True)
        subprocess.run(
            manage + command, cwd=BASE_DIR, env=env, check=True, stdout=subprocess.DEVNULL
        )
    # As autovacuum leaves a catalog in service: statistics for the planner, and no dead row
    # versions left by the seeding's updates in the search index's answers.
    subprocess.run(["psql", env["DATABASE_URL"], "-qc", "VACUUM ANALYZE"], check=True)


def empty_cache(redis_url: str) -> None:
    """Empty the bench's Redis database: pages kept by an earlier run would make the cold rows
    warm (the bench's database is a bench's own; sessions and carts are made afresh)."""
    redis.Redis.from_url(redis_url).flushdb()


def start_gunicorn(
    env: dict[str, str],
    workers: int,
    app: str = "shop.wsgi",
    threads: int = 1,
    config: str = "",
) -> subprocess.Popen:
    """gunicorn serving `app`; `config` a settings file instead of the shop's gunicorn.conf.py."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    return subprocess.Popen(
        [
            str(gunicorn),
            app,
            *(["--config", config] if config else []),
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--bind",
            f"127.0.0.1:{PORT}",
            "--timeout",
            str(GUNICORN_TIMEOUT),
            "--log-level",
            "warning",
        ],
        cwd=BASE_DIR,
        env=env,
    )


def wait_until_up(url: str, seconds: int = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            # The script's own loopback server (http://127.0.0.1:port/).
            with urllib.request.urlopen(url, timeout=1) as response:  # nosec B310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the server did not answer at {url} within {seconds} s")


def measure(
    name: str,
    path: str,
    args,
    *,
    extra: tuple[str, ...] = (),
    script: Callable[[dict[int, int]], str] | None = None,
    shown: str = "",
    warm: bool = True,
) -> dict:
    """The page at `path` interleaved with the bare view: after a warm-up, --rounds slices
    of the bare view then of the page, --duration seconds each, so that both see the same
    machine (its speed drifts by a factor of two within minutes on this shared host).

    `extra` passes headers (-H) or a Lua script (-s) for a session or POST; `script` makes a
    Lua script for each wrk run of the page from what the runs before it carried (its
    `done` prints `carried KEY VALUE` lines), so that a rotation or a cart's quantities go
    on where the last slice stopped; `shown` is the path the table shows instead of `path`."""
    url = f"http://127.0.0.1:{PORT}{path}"
    carried: dict[int, int] = {}
    with tempfile.TemporaryDirectory() as folder:

        def ask(options: tuple[str, ...]) -> str:
            lua: tuple[str, ...] = ()
            if script is not None:
                lua_file = Path(folder) / "slice.lua"
                lua_file.write_text(script(carried))
                lua = ("-s", str(lua_file))
            output = _wrk([*options, *extra, *lua, url])
            carried.update(carried_values(output))
            settle()
            return output

        if warm:
            # A short warm-up fills caches and connection pools before the measured slices.
            ask(("-t1", "-c2", "-d2s"))
        bare, page = [], []
        for _ in range(args.rounds):
            bare.append(_wrk([*_load(args, args.duration), f"http://127.0.0.1:{PORT}{BARE_VIEW}"]))
            page.append(ask(_load(args, args.duration)))
            print(
                f"{name}: bare view {requests_per_second(bare[-1]):.0f}/s, "
                f"page {requests_per_second(page[-1]):.0f}/s",
                flush=True,
            )
    return interleaved_row(name, shown or path, bare, page)


def measure_bare(name: str, args) -> dict:
    """The bare view alone for as long as a row's page slices together (--rounds x
    --duration), at the start and at the end of the run: how far the machine's speed moved."""
    url = f"http://127.0.0.1:{PORT}{BARE_VIEW}"
    _wrk(["-t1", "-c2", "-d2s", url])
    output = _wrk([*_load(args, args.rounds * args.duration), url])
    print(f"{name}\n{output}", flush=True)
    return {
        "name": name,
        "path": BARE_VIEW,
        "requests": requests_in(output)[0],
        "rps": requests_per_second(output),
        "bare rps": None,
        "share": None,
        "p50": latency_ms(output, "50%"),
        "p99": latency_ms(output, "99%"),
        "errors": errors(output),
    }


def interleaved_row(name: str, path: str, bare: list[str], page: list[str]) -> dict:
    """A row from wrk's reports of the bare view's and the page's slices, taken in turn for
    equal times: each one's requests over its slices' seconds, the share the page's over the
    bare view's (what both did on the same machine), the median of the page slices' p50 and
    the highest slice's p99, and the sum of their errors."""

    def rate(outputs: list[str]) -> float:
        counts = [requests_in(output) for output in outputs]
        return sum(requests for requests, _s in counts) / sum(seconds for _r, seconds in counts)

    return {
        "name": name,
        "path": path,
        "requests": sum(requests_in(output)[0] for output in page),
        "rps": rate(page),
        "bare rps": rate(bare),
        "share": rate(page) / rate(bare),
        "p50": statistics.median(latency_ms(output, "50%") for output in page),
        "p99": max(latency_ms(output, "99%") for output in page),
        "errors": sum(errors(output) for output in page),
    }


def carried_values(output: str) -> dict[int, int]:
    """What a wrk run's script carries to the next run: its `carried KEY VALUE` lines."""
    return {
        int(key): int(value)
        for key, value in re.findall(r"^carried (\d+) (-?\d+)$", output, re.MULTILINE)
    }


def settle() -> None:
    """Ask the bare view once and wait for its answer: wrk stops with up to --connections
    requests sent and not yet answered, which the workers still serve (a fifth of a second
    of the whole machine for a slow page); queued before this one, they are served by the
    time it is, instead of in the next slice."""
    with urllib.request.urlopen(  # nosec B310 (the bench's own loopback server)
        f"http://127.0.0.1:{PORT}{BARE_VIEW}", timeout=GUNICORN_TIMEOUT
    ) as response:
        response.read()


def _load(args, seconds: int) -> tuple[str, ...]:
    """wrk's options for a measured run of `seconds`, as the rows ask."""
    return (f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--latency")


def _wrk(arguments: list[str]) -> str:
    """wrk's report of a run with `arguments` (options, then the URL)."""
    return subprocess.run(["wrk", *arguments], capture_output=True, text=True, check=True).stdout


def requests_in(output: str) -> tuple[int, float]:
    """The requests a wrk run completed and the seconds it took."""
    count, value, unit = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)\b", output).groups()
    return int(count), float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[unit]


def requests_per_second(output: str) -> float:
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


class Shopper:
    """A guest with a session, as a browser keeps one: cookies and the CSRF token.

    Cookies are kept by hand: with DEBUG off they are marked Secure, and a client library
    would not send them back over the benchmark's plain HTTP (the server does not mind).
    """

    def __init__(self):
        self.cookies: dict[str, str] = {}
        self.token = ""
        #: Where the last answer redirected to ("" if it did not).
        self.location = ""

    def request(self, method: str, path: str, body: bytes | None = None) -> str:
        connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
        headers = {"Cookie": self.cookie_header}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        html = response.read().decode()
        connection.close()
        if response.status >= 400:
            raise SystemExit(f"{method} {path} answered {response.status}")
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = http.cookies.SimpleCookie(header)
            for name, morsel in cookie.items():
                if morsel["max-age"] in (0, "0"):  # deleted (messages once shown)
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        self.location = (
            response.headers.get("Location", "") if response.status in (301, 302) else ""
        )
        if match := re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html):
            self.token = match.group(1)
        return html

    def get(self, path: str) -> str:
        return self.request("GET", path)

    def post(self, path: str, data: dict) -> None:
        """Post a form and, as a browser does, ask the page it redirects to: that page shows
        the shopper's messages ("Added ..."), which then leave the cookies wrk sends. Kept,
        they were rendered again on every request of the cart's rows, and the quantity
        update wrote them back into its cookie each time."""
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": self.token}).encode()
        self.request("POST", path, body)
        if self.location:
            self.get(self.location)

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())


def sellable_variant_ids(shopper: Shopper, count: int) -> list[int]:
    """Variant ids from the "add to cart" buttons of listing cards (in stock, one variant)."""
    ids: list[int] = []
    page = 1
    while len(ids) < count:
        html = shopper.get(f"/products/?per_page=96&page={page}")
        found = [int(i) for i in re.findall(r'name="variant" value="(\d+)"', html)]
        if not found:
            break
        ids += found
        page += 1
    return ids[:count]


def well_stocked(variant_ids: list[int], *, database: str) -> list[int]:
    """Those of `variant_ids` with at least CART_MAX_LINE_QUANTITY (20) units, in order: the
    cart rows set quantities up to 20, and the purchase benchmark of earlier runs sells the
    first products down, where a short variant would answer every other update with 400."""
    found = subprocess.run(
        ["psql", database, "-Atc", "SELECT id FROM catalog_variant WHERE stock >= 20"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    stocked = {int(pk) for pk in found}
    return [pk for pk in variant_ids if pk in stocked]


def cart_rows(args) -> list[dict]:
    """Guests viewing carts of 3 and 20 lines, adding to a cart (a POST) and changing its
    quantities (a POST of the cart's form), each with a session of their own."""
    variants = well_stocked(sellable_variant_ids(Shopper(), 400), database=args.database)[:200]
    rows = []
    for count in (3, 20):
        viewer = Shopper()
        viewer.get("/cart/")  # the CSRF cookie and token, as a browser has them
        for variant in variants[:count]:
            viewer.post("/cart/add/", {"variant": variant, "quantity": 1})
        rows.append(
            measure(
                f"cart of {count} lines, guest with a session",
                "/cart/",
                args,
                extra=("-H", f"Cookie: {viewer.cookie_header}"),
            )
        )
    adder = Shopper()
    adder.get("/cart/")
    # Spread the adds over 200 variants so lines keep growing for a while before every one
    # reaches the line maximum.
    add = wrk_script(
        "add-to-cart",
        adder,
        "local variants = {" + ",".join(map(str, variants)) + "}\n"
        "local body = function()\n"
        "  return 'quantity=1&next=/cart/&variant=' .. variants[math.random(#variants)]\n"
        "end\n",
    )
    rows.append(measure("add to cart (POST), guest with a session", "/cart/add/", args, extra=add))
    Path(add[1]).unlink()
    # One cart per connection, as each shopper updates their own: 16 connections posting
    # to one cart measured them queueing for its lock, not what an update costs.
    updaters = [Shopper() for _ in range(args.connections)]
    for updater in updaters:
        updater.get("/cart/")
        for variant in variants[:3]:
            updater.post("/cart/add/", {"variant": variant, "quantity": 1})
    carts = quantity_update_carts(updaters)
    rows.append(
        measure(
            "quantity update (POST), guests with a cart each",
            "/cart/update/",
            args,
            script=lambda carried: quantity_updates_script(
                carts, threads=args.threads, carried=carried
            ),
        )
    )
    return rows


def wrk_script(name: str, shopper: Shopper, body_function: str) -> tuple[str, str]:
    """A wrk Lua script POSTing the form bodies `body_function` defines (a Lua function
    `body`), with the shopper's cookies and CSRF token; returns wrk's arguments for it."""
    RESULTS.mkdir(exist_ok=True)
    script = RESULTS / f"{name}.lua"
    script.write_text(
        body_function + 'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        f'wrk.headers["Cookie"] = "{shopper.cookie_header}"\n'
        "request = function()\n"
        f"  return wrk.format(nil, nil, nil, body() .. '&csrfmiddlewaretoken={shopper.token}')\n"
        "end\n"
    )
    return ("-s", str(script))


def quantity_updates_script(carts: list[str], *, threads: int, carried: dict[int, int]) -> str:
    """A wrk Lua script posting each cart's form in turn (`carts`: quantity_update_carts);
    every post changes its cart's quantities (1, 2, 1, ...): a real write each time, also
    from one run to the next (`carried`, cart number: posts so far, printed by the run
    before). Each of wrk's `threads` (a Lua state each) posts to carts of its own, so that
    no two threads flip one cart's quantities back and forth between them."""
    return (
        "local carts = {" + ",\n".join(carts) + "}\n"
        f"local carried = {lua_table(carried)}\n"
        "local threads = {}\n"
        "function setup(thread)\n"
        "  thread:set('first', #threads)\n"
        "  threads[#threads + 1] = thread\n"
        "end\n"
        "function init(args)\n"
        "  mine, rounds, turn = {}, {}, 0\n"
        f"  for i = first + 1, #carts, {threads} do\n"
        "    mine[#mine + 1] = i\n"
        "    rounds[i] = carried[i] or 0\n"
        "  end\n"
        "  -- wrk asks the first thread for one request before the run, to check it, and\n"
        "  -- never sends it: that one must not count as a post.\n"
        "  checking = first == 0\n"
        "end\n"
        "request = function()\n"
        "  turn = turn + 1\n"
        "  local i = mine[turn % #mine + 1]\n"
        "  local cart = carts[i]\n"
        "  if checking then checking = false else rounds[i] = rounds[i] + 1 end\n"
        "  local fields = {'next=/cart/', 'csrfmiddlewaretoken=' .. cart.token}\n"
        "  for _, line in ipairs(cart.lines) do\n"
        "    fields[#fields + 1] = 'quantity-' .. line .. '=' .. (1 + rounds[i] % 2)\n"
        "    fields[#fields + 1] = 'selected-' .. line .. '=on'\n"
        "  end\n"
        "  local headers = {['Content-Type'] = 'application/x-www-form-urlencoded',\n"
        "                   Cookie = cart.cookie}\n"
        "  return wrk.format('POST', nil, headers, table.concat(fields, '&'))\n"
        "end\n"
        "function done()\n"
        "  for _, thread in ipairs(threads) do\n"
        "    for i, round in pairs(thread:get('rounds')) do\n"
        "      io.write(string.format('carried %d %d\\n', i, round))\n"
        "    end\n"
        "  end\n"
        "end\n"
    )


def quantity_update_carts(updaters: list[Shopper]) -> list[str]:
    """Each updater's cart as quantity_updates_script reads it (Lua): its cookies, CSRF
    token and line ids."""
    carts = []
    for updater in updaters:
        lines = re.findall(r'name="quantity-(\d+)"', updater.get("/cart/"))
        carts.append(
            f'{{cookie = "{updater.cookie_header}", token = "{updater.token}", '
            f"lines = {{{','.join(lines)}}}}}"
        )
    return carts


#: Distinct searches asked in turn: more than a row's slices can ask (about 3,000 in 12 s on
#: a quiet machine), so that no answer is ever reused from a cache.
UNSEEN_SEARCHES = 4000


def search_queries(count: int, get: Callable[[str], str] | None = None) -> list[str]:
    """Distinct queries a shopper could type, in an order fixed by a seed: single words and
    runs of two and three adjacent words of the product names on the catalog's listing pages
    ("linen", "linen+shirt", "alpine+linen+shirt", ...), read with `get` (path -> HTML; by
    default from the bench's server)."""
    get = get or Shopper().get
    queries: dict[str, None] = {}
    for page in range(1, 60):
        html = get(f"/products/?per_page=96&page={page}")
        names = re.findall(r'class="product-card__name">([^<]+)<', html)
        if not names:
            break
        for name in names:
            words = re.findall(r"[a-z]{3,}", name.lower())
            for length in (1, 2, 3):
                runs = (words[start : start + length] for start in range(len(words) - length + 1))
                queries.update(dict.fromkeys("+".join(run) for run in runs))
        if len(queries) >= count:
            break
    chosen = list(queries)[:count]
    # Every part of the list as broad as any other: the slices take parts of their own.
    random.Random(19).shuffle(chosen)  # noqa: S311  (reproducible bench addresses, not secrets)
    return chosen


def unseen_searches(args, queries: list[str] | None = None) -> dict:
    """Searches going round UNSEEN_SEARCHES distinct queries (or `queries`), never asked
    before."""
    queries = queries or search_queries(UNSEEN_SEARCHES)
    return rotate(
        "search, a query never asked before (uncached)",
        [f"/search/?q={query}" for query in queries],
        args,
        shown="/search/?q=…",
        warm=False,
    )


def shopper_paths(database: str) -> dict[str, list[str]]:
    """The addresses the rotating rows ask, read from the catalog: the cached rows' and the
    uncached filtered row's, and the cold rows' (products the cached row does not ask, filter
    sets the filtered row does not ask)."""
    products, cold_products = product_paths(catalog_products(database), PRODUCT_PAGES)
    filtered = filter_sets(catalog_facets(database), FILTER_SETS + COLD_FILTER_SETS, seed=19)
    return {
        "categories": category_paths(catalog_categories(database)),
        "filtered": filtered[:FILTER_SETS],
        "products": products,
        "cold products": cold_products,
        "cold filtered": filtered[FILTER_SETS:],
    }


def cached_rows(args, paths: dict[str, list[str]]) -> list[dict]:
    """The cached pages, each row going round many pages of its kind, and the uncached
    filtered listing going round several filter sets."""
    categories, filtered, products = paths["categories"], paths["filtered"], paths["products"]
    return [
        rotate("home, both languages (cached)", HOME_PATHS, args, shown="/, /zh-hans/"),
        rotate(
            f"category, {len(categories):,} first pages (cached)",
            categories,
            args,
            shown="/c/…/?sort=…&page=…",
        ),
        rotate(
            f"category, filtered, {len(filtered)} filter sets (uncached)",
            filtered,
            args,
            shown=FILTERED_SHOWN,
        ),
        rotate(f"product, {len(products)} pages (cached)", products, args, shown="/p/…/?variant=…"),
    ]


def cold_rows(args, paths: dict[str, list[str]]) -> list[dict]:
    """The first view of pages nobody asked before: no goal in issue 19, but what a crawler
    or a sale's first minute costs."""
    return [
        rotate(
            "product, first view of a page never asked (cold)",
            paths["cold products"],
            args,
            shown="/p/…/",
            warm=False,
        ),
        rotate(
            "category with filters, first view of a set never asked (cold)",
            paths["cold filtered"],
            args,
            shown=FILTERED_SHOWN,
            warm=False,
        ),
    ]


def rotate(name: str, paths: list[str], args, *, shown: str, warm: bool = True) -> dict:
    """wrk going round `paths` (rotation_script), each slice going on where the last stopped.
    `warm`: each is asked once before, then the rotation warms up for 2 s as every other row
    does, so that the run measures the pages kept, most of them by every worker (asked once,
    a page is held by one worker of five: the others' first asks, a round trip and an
    unpickling each, made most of the first slice); else none was asked before, and the row
    says how many were asked of how many, so that a reader sees whether any was asked
    twice."""
    if warm:
        ask_each_once(paths)
    row = measure(
        name,
        "/",
        args,
        script=lambda carried: rotation_script(paths, threads=args.threads, carried=carried),
        shown=shown,
        warm=warm,
    )
    asked = f"{row['requests']:,} asked of " if not warm else ""
    row["path"] = f"{shown} ({asked}{len(paths):,} distinct)"
    return row


def rotation_script(paths: list[str], *, threads: int, carried: dict[int, int]) -> str:
    """A wrk Lua script asking `paths` in turn, each of wrk's `threads` from its own place in
    the list, so that no two requests ask the same page until the list is gone round: the
    first run from evenly spaced places, the next ones from where each thread stopped
    (`carried`, thread number: place, printed by the run before)."""
    for path in paths:
        if not re.fullmatch(r"/[\w/?&=+%.,~-]*", path):  # nothing to escape in a Lua string
            raise ValueError(f"not a plain URL path: {path!r}")
    return (
        "local paths = {" + ",".join(f'"{path}"' for path in paths) + "}\n"
        f"local carried = {lua_table(carried)}\n"
        "local threads = {}\n"
        "function setup(thread)\n"
        "  threads[#threads + 1] = thread\n"
        f"  local spaced = (#threads - 1) * math.floor(#paths / {threads})\n"
        "  thread:set('first', carried[#threads] or spaced)\n"
        "end\n"
        "asked = 0\n"
        "request = function()\n"
        "  asked = asked + 1\n"
        "  return wrk.format('GET', paths[(first + asked) % #paths + 1])\n"
        "end\n"
        "function done()\n"
        "  for number, thread in ipairs(threads) do\n"
        "    local place = thread:get('first') + thread:get('asked')\n"
        "    io.write(string.format('carried %d %d\\n', number, place))\n"
        "  end\n"
        "end\n"
    )


def lua_table(values: dict[int, int]) -> str:
    return "{" + ",".join(f"[{key}] = {value}" for key, value in sorted(values.items())) + "}"


def ask_each_once(paths: list[str]) -> None:
    """Ask each of `paths` once, four at a time, as a new visitor (the pages kept before a
    measured run); an answer of 400 or more stops the bench."""
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda path: Shopper().get(path), paths))


def searches_only(args, env: dict[str, str]) -> int:
    """The search rows and the never-asked searches, solo (one connection: the latency
    goals) then under the load of --connections (the rate), each run with the bare view
    before and after it. The two runs of never-asked searches take different halves of
    2 x UNSEEN_SEARCHES queries: neither asks what the other asked."""
    solo = argparse.Namespace(**{**vars(args), "threads": 1, "connections": 1})
    searches = [(name, path) for name, path in pages() if path.startswith("/search/")]
    workers = 2 * (os.cpu_count() or 1) + 1
    load_before = os.getloadavg()
    server = start_gunicorn(env, workers)
    tables = []
    try:
        wait_until_up(f"http://127.0.0.1:{PORT}{BARE_VIEW}")
        queries = search_queries(2 * UNSEEN_SEARCHES)
        halves = (queries[: len(queries) // 2], queries[len(queries) // 2 :])
        for run, unseen in zip((solo, args), halves, strict=True):
            rows = [measure_bare(BASELINE, run)]
            rows += [measure(name, path, run) for name, path in searches]
            rows += [unseen_searches(run, unseen), measure_bare(BASELINE_AGAIN, run)]
            title = "one connection" if run is solo else f"{run.connections} connections"
            tables += [
                f"### `wrk -t{run.threads} -c{run.connections}` ({title})",
                "",
                render_table(rows),
                "",
            ]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    report = "\n".join(
        [
            "# Searches, solo and under load",
            "",
            f"{when}; {os.cpu_count()} cores; gunicorn with {workers} sync workers on "
            f"PostgreSQL + Redis, DEBUG off; {published_products(env):,} published products; "
            f"wrk on loopback.",
            slices_line(args),
            load_line((load_before, os.getloadavg())),
            "",
            *tables,
        ]
    )
    (RESULTS / "searches-latest.md").write_text(report)
    print(report)
    return 0


def published_products(env: dict[str, str]) -> int:
    count = subprocess.run(
        [
            "psql",
            env["DATABASE_URL"],
            "-Atc",
            "SELECT count(*) FROM catalog_product WHERE is_published",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(count.stdout)


def latency_ms(output: str, percentile: str) -> float:
    value, unit = re.search(rf"{re.escape(percentile)}\s+([\d.]+)(us|ms|s)\b", output).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def errors(output: str) -> int:
    """Non-2xx/3xx answers plus socket errors: a page that errors is not fast, it is broken."""
    count = 0
    if match := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        count += int(match.group(1))
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        count += sum(int(n) for n in match.groups())
    return count


def worker_memory_mib(master_pid: int) -> dict[int, float]:
    """Resident memory of each gunicorn worker now, in MiB, by process id."""
    memory = {}
    for child in Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split():
        try:
            status = Path(f"/proc/{child}/status").read_text()
        except FileNotFoundError:  # a worker replaced just now
            continue
        memory[int(child)] = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024
    return memory


def memory_line(start: dict[int, float], end: dict[int, float]) -> str:
    """Each worker's resident memory when the server came up and after the run; a worker
    missing at either end was replaced (gunicorn restarts a worker that died)."""
    workers = ", ".join(
        f"{start[pid]:.0f} → {end[pid]:.0f}" if pid in start else f"(new) {end[pid]:.0f}"
        for pid in sorted(end)
    )
    gone = len(set(start) - set(end))
    replaced = f"; {gone} worker(s) of the start gone" if gone else ""
    return f"Workers' resident memory (MiB), start → end of the run: {workers}{replaced}."


def render_table(rows: list[dict]) -> str:
    """Each page's share of the bare view asked in turn with it (measure), its requests/s
    and the bare view's in the same slices; the bare view alone (the run's first and last
    rows) shows its requests/s only."""
    lines = [
        "| page | path | requests/s | p50 ms | p99 ms | bare view in the same slices, "
        "requests/s | share of the bare view | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        bare, share = row["bare rps"], row["share"]
        lines.append(
            f"| {row['name']} | `{row['path']}` | {row['rps']:.0f} | {row['p50']:.1f} | "
            f"{row['p99']:.1f} | {'' if bare is None else f'{bare:.0f}'} | "
            f"{'' if share is None else f'{share:.2f}'} | {row['errors']} |"
        )
    return "\n".join(lines)


def slices_line(args) -> str:
    """How a row is measured and its columns read (measure)."""
    seconds = args.rounds * args.duration
    return (
        f"Each row asks the bare view (`{BARE_VIEW}`) and its page in turn, {args.rounds} x "
        f"({args.duration} s of the bare view, then {args.duration} s of the page), after a "
        "2 s warm-up of the page but for the pages never asked: the share is the page's "
        "requests/s over the bare view's in those slices, which saw the same machine; p50 is "
        "the median of the page's slices' p50, p99 the highest slice's p99, errors their sum. "
        f"The bare view alone for {seconds} s, "
        "at the start and after the pages, shows how far the machine's speed moved."
    )


def load_line(load) -> str:
    before, after = (f"{one:.1f}/{five:.1f}" for one, five, _fifteen in load)
    return (
        f"Load average (1/5 min) before the run {before}, after it {after}: the machine is "
        "shared, so compare the shares, not the requests per second, between runs."
    )


def render(
    conditions: list[str], table: str, memory: tuple[dict[int, float], dict[int, float]]
) -> str:
    return "\n".join(["# Benchmark", "", *conditions, "", table, "", memory_line(*memory), ""])


def setup_line(args, workers: int) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{when}; {os.cpu_count()} cores, Python {platform.python_version()}; gunicorn with "
        f"{workers} sync workers on PostgreSQL + Redis, DEBUG off; "
        f"`wrk -t{args.threads} -c{args.connections} -d{args.duration}s` on loopback, "
        f"{args.rounds} slices a row; "
        f"demo catalog of {args.products:,} products; "
        + (
            "one Celery worker process renders the order mails."
            if args.celery_worker
            else "no Celery broker: the order mails are rendered inline in the request."
        )
    )


README = BASE_DIR / "README.md"
README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"


def update_readme(table: str, purchase: str) -> None:
    """Put this run's tables in the README, between its two bench markers."""
    text = README.read_text()
    head, rest = text.split(README_START, 1)
    _old, tail = rest.split(README_END, 1)
    README.write_text(f"{head}{README_START}\n{table}\n\n{purchase}{README_END}{tail}")


if __name__ == "__main__":
    sys.exit(main())
