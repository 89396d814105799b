"""Filtered listings never seen before: 1,000 distinct filter combinations and sort orders.

wrk on one URL measures the cache (the second hit is served from it). This bench instead asks
each of N distinct filter sets (up to four filters among brand, colour, size, capacity, price,
stock and tag, on a category or on all products, with any sort) exactly once per phase, with
the cache emptied before each phase, so that every answer is computed: the count, the facets
and the page. Two phases on the same server:

- solo: one request at a time (a Python client), p50/p99/max of each answer;
- load: `wrk -t2 -c16` with a Lua script that hands every URL out once, then stops.

    python bench/filters.py --products 10000 --database postgres://postgres@127.0.0.1:5432/shop_facets_bench10k
    python bench/filters.py --products 100000 --database .../shop_facets_bench100k --label after

With `--baseline DIR` (another checkout, e.g. `git archive` of the code before a change,
with its static files collected) both are served at once, on --port and --port + 1, and
each solo URL is asked of one then the other: on a machine shared with other work, the two
figures are taken under the same load.

The combinations come from the demo catalog's vocabulary (catalog/demo.py), seeded, so every
run asks the same URLs. Figures go to bench/results/filters-<products>-<label>.md.
"""

import argparse
import datetime
import http.client
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
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS = BASE_DIR / "bench" / "results"
sys.path.insert(0, str(BASE_DIR))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()  # catalog.demo imports the models; nothing here touches the database

from django.utils.text import slugify  # noqa: E402

from catalog import demo  # noqa: E402

#: The URLs issue 14 timed, each asked once on an empty cache.
ISSUE_URLS = [
    "/c/clothing/?colour=red&size=m",
    "/c/clothing/?colour=red&size=m&brand=fjell",
    "/c/electronics/?colour=black&capacity=128-gb",
    "/c/clothing/?colour=red&brand=fjell",
]
WARM_UP = ["/", "/c/books/?page=2", "/products/?page=3", "/p/demo-000010/", "/livez"]
SORTS = ["relevance", "price", "-price", "newest", "best-selling", "top-rated"]
#: Where each top category's products differ: the option types a shopper filters there.
OPTIONS_BY_TOP = {
    "Clothing": ["colour", "size"],
    "Electronics": ["colour", "capacity"],
    "Home & Kitchen": ["colour"],
    "Sports & Outdoors": ["colour", "size"],
    "Books": [],
}
#: How often a shopper is on each listing: clothing shops filter clothing most.
LISTING_WEIGHTS = {
    "Clothing": 40,
    "Electronics": 25,
    "Home & Kitchen": 10,
    "Sports & Outdoors": 10,
    "Books": 5,
    None: 10,  # all products
}
VALUES = {
    "colour": [slugify(c) for c in demo.COLOURS],
    "size": [slugify(s) for s in demo.SIZES],
    "capacity": [slugify(c) for c in demo.CAPACITIES],
}


def combinations(count: int, seed: int = 14) -> list[str]:
    """`count` URLs, each with one to four filters, no two with the same listing and filters."""
    rng = random.Random(seed)  # noqa: S311  (reproducible bench URLs, not secrets)
    tops = list(LISTING_WEIGHTS)
    weights = list(LISTING_WEIGHTS.values())
    seen: set[tuple] = set()
    urls: list[str] = []
    while len(urls) < count:
        top = rng.choices(tops, weights)[0]
        path = f"/c/{slugify(top)}/" if top else "/products/"
        brands = [slugify(b) for b in demo.BRANDS[top]] if top else []
        option_types = OPTIONS_BY_TOP[top] if top else ["colour", "size", "capacity"]
        kinds = ["price", "stock", "tag", *option_types, *(["brand"] * bool(brands))]
        # Option filters are what shoppers use most: count them twice.
        kinds += option_types
        chosen = set(rng.sample(kinds, k=min(len(set(kinds)), rng.choice([1, 2, 2, 3, 3, 4]))))
        chosen = sorted(chosen)[:4]
        params: list[tuple[str, str]] = []
        for kind in chosen:
            if kind == "brand":
                params += [("brand", b) for b in rng.sample(brands, k=rng.choice([1, 1, 2]))]
            elif kind in VALUES:
                picks = rng.sample(VALUES[kind], k=rng.choice([1, 1, 1, 2]))
                params += [(kind, v) for v in picks]
            elif kind == "tag":
                params.append(("tag", slugify(rng.choice(demo.TAGS))))
            elif kind == "stock":
                params.append(("in_stock", "1"))
            elif kind == "price":
                low = rng.choice([0, 10, 20, 30, 50, 100])
                params.append(("price_min", str(low)))
                if rng.random() < 0.7:
                    params.append(("price_max", str(low + rng.choice([20, 50, 100, 500]))))
        key = (path, tuple(sorted(params)))
        if key in seen:
            continue
        seen.add(key)
        params.append(("sort", rng.choice(SORTS)))
        urls.append(f"{path}?{urllib.parse.urlencode(params)}")
    return urls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=10_000, help="demo catalog size")
    parser.add_argument(
        "--database", default="postgres://postgres@127.0.0.1:5432/shop_facets_bench"
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/1")
    parser.add_argument("--port", type=int, default=8150)
    parser.add_argument("--combinations", type=int, default=1000)
    parser.add_argument("--solo", type=int, default=0, help="ask only the first N solo (0: all)")
    parser.add_argument("--duration", type=int, default=60, help="most seconds of load")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=30, help="client timeout, seconds")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument(
        "--gunicorn-timeout", type=int, default=20, help="above the statement timeout (5 s)"
    )
    parser.add_argument("--label", default="after")
    parser.add_argument("--source", default=str(BASE_DIR), help="checkout to serve")
    parser.add_argument(
        "--baseline",
        default="",
        help="another checkout (e.g. `git archive` of main) served beside, on --port + 1, "
        "asked the same URL just before: figures taken at the same moment on a busy machine",
    )
    parser.add_argument(
        "--baseline-database",
        default="",
        help="the database the baseline serves (default: --database), for a baseline whose "
        "migrations differ: e.g. a copy made with `createdb -T` before migrating",
    )
    parser.add_argument("--no-prepare", action="store_true", help="skip migrate and seed")
    args = parser.parse_args()

    urls = combinations(args.combinations)
    if not args.no_prepare:
        prepare_database(
            server_env(args, "prepare"), products=args.products, source=Path(args.source)
        )
    servers = [(args.label, Path(args.source), args.port)]
    if args.baseline:
        servers.insert(0, ("before", Path(args.baseline), args.port + 1))
    started = [
        start_gunicorn(server_env(args, label), args, source=source, port=port)
        for label, source, port in servers
    ]
    results: dict[str, dict] = {label: {"issue": []} for label, _, _ in servers}
    try:
        for _, _, port in servers:
            wait_until_up(f"http://127.0.0.1:{port}/livez")
            # Every worker past its first request (imports, templates, connections), on URLs
            # the bench does not ask.
            for n in range(4 * args.workers):
                ask(WARM_UP[n % len(WARM_UP)], args, port)
        for path in ISSUE_URLS:
            for label, _, port in servers:
                times = []
                for _ in range(3):
                    flush_cache(args.redis)
                    times.append(ask(path, args, port))
                results[label]["issue"].append(sorted(times)[1])  # the median of 3
        flush_cache(args.redis)
        solo = {label: [] for label, _, _ in servers}
        for path in urls[: args.solo or None]:
            for label, _, port in servers:
                solo[label].append(ask(path, args, port))
        for label, _, port in servers:
            results[label]["solo"] = summarise(solo[label])
            flush_cache(args.redis)
            results[label]["load"] = ask_under_load(urls, args, port)
    finally:
        for server in started:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
    report = render(results, args, len(urls))
    RESULTS.mkdir(exist_ok=True)
    suffix = "before-after" if args.baseline else args.label
    out = RESULTS / f"filters-{args.products // 1000}k-{suffix}.md"
    out.write_text(report)
    print(report)
    return 0


def server_env(args, label: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DEBUG="false",
        SECRET_KEY="bench-only-secret-key-not-for-production-0123456789abcdef",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        DATABASE_URL=(args.baseline_database or args.database)
        if label == "before"
        else args.database,
        REDIS_URL=args.redis,
        LOG_LEVEL="WARNING",
        # Each server its own keys: one never answers from the other's cache.
        CACHE_KEY_PREFIX=f"bench-filters-{label}",
    )
    env.pop("CELERY_BROKER_URL", None)
    return env


def prepare_database(env: dict[str, str], *, products: int, source: Path) -> None:
    name = env["DATABASE_URL"].rsplit("/", 1)[1]
    created = subprocess.run(
        ["createdb", "-h", "127.0.0.1", "-U", "postgres", name], capture_output=True, text=True
    )
    if created.returncode != 0 and "already exists" not in created.stderr:
        raise SystemExit(created.stderr)
    manage = [sys.executable, "manage.py"]
    for command in (
        ["migrate", "--noinput"],
        ["seed_demo", "--products", str(products)],
        ["collectstatic", "--noinput"],
    ):
        print("manage.py", " ".join(command), flush=True)
        subprocess.run(manage + command, cwd=source, env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["psql", env["DATABASE_URL"], "-qc", "VACUUM ANALYZE"], check=True)


def start_gunicorn(env: dict[str, str], args, *, source: Path, port: int) -> subprocess.Popen:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "shop.wsgi", "--workers", str(args.workers)]
    command += ["--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
    if args.gunicorn_timeout:
        command += ["--timeout", str(args.gunicorn_timeout)]
    # Its own process group, so that stopping it stops every worker it started.
    return subprocess.Popen(command, cwd=source, env=env, start_new_session=True)


def wait_until_up(url: str, seconds: int = 30) -> None:
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


def flush_cache(redis_url: str) -> None:
    """Empty the bench's Redis database: no answer of a phase comes from the cache."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()


def ask(path: str, args, port: int) -> tuple[float, str, str]:
    """One GET on a new connection: (milliseconds, path, status)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=args.timeout)
    started = time.perf_counter()
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        status = str(response.status)
    except OSError:
        status = "timeout"
    elapsed = (time.perf_counter() - started) * 1000
    connection.close()
    return elapsed, path, status


def ask_one_by_one(urls: list[str], args, port: int) -> dict:
    return summarise([ask(path, args, port) for path in urls])


def summarise(answers: list[tuple[float, str, str]]) -> dict:
    latencies = [ms for ms, _, _ in answers]
    statuses: dict[str, int] = {}
    for _, _, status in answers:
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "n": len(answers),
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "max": max(latencies),
        "mean": statistics.fmean(latencies),
        "statuses": statuses,
        "slowest": sorted(answers, reverse=True)[:5],
    }


LUA = """
local urls = {%s}
local counter = 1
local threads = {}
local done = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = id + 1
end

function request()
  local path = urls[counter]
  if path == nil then
    wrk.thread:stop()
    path = "/livez"
  end
  counter = counter + %d
  return wrk.format("GET", path)
end
"""


def ask_under_load(urls: list[str], args, port: int) -> dict:
    """wrk with every URL handed out once across its threads (each thread takes every
    `threads`-th URL), then the threads stop; `--duration` bounds it."""
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    quoted = ",".join('"' + u.replace('"', '\\"') + '"' for u in urls)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % (quoted, args.threads))
    try:
        output = subprocess.run(
            [
                "wrk",
                f"-t{args.threads}",
                f"-c{args.connections}",
                f"-d{args.duration}s",
                f"--timeout={args.timeout}s",
                "--latency",
                "-s",
                script.name,
                f"http://127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    print(output, flush=True)
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    return {
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": latency_ms(output, "50%"),
        "p99": latency_ms(output, "99%"),
        "errors": errors(output),
    }


def percentile(values: list[float], p: int) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def latency_ms(output: str, percentile: str) -> float:
    value, unit = re.search(rf"{re.escape(percentile)}\s+([\d.]+)(us|ms|s|m)\b", output).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def errors(output: str) -> int:
    count = 0
    if match := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        count += int(match.group(1))
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        count += sum(int(n) for n in match.groups())
    return count


def render(results: dict[str, dict], args, total: int) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    with open("/proc/loadavg") as f:
        load_average = f.read().split()[2]
    labels = list(results)
    lines = [
        f"# Filtered listings, {args.products:,} products ({' vs '.join(labels)})",
        "",
        f"{when}; {os.cpu_count()} cores shared with other work (15-minute load average at "
        f"the end: {load_average}), Python {platform.python_version()}; gunicorn with "
        f"{args.workers} sync workers per server on PostgreSQL + Redis, DEBUG off; {total} "
        "distinct filter combinations and sorts (`bench/filters.py`), cache emptied before "
        "each phase, every URL asked once per phase and server"
        + (
            "; solo, each URL asked of both servers in turn (same moment, same database)."
            if len(labels) > 1
            else "."
        ),
        "",
        "| code | phase | requests | requests/s | p50 ms | p99 ms | max ms | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, result in results.items():
        solo, load = result["solo"], result["load"]
        lines += [
            f"| {label} | solo | {solo['n']} | {1000 / solo['mean']:.1f} | "
            f"{solo['p50']:.1f} | {solo['p99']:.1f} | {solo['max']:.1f} | "
            f"{solo['n'] - solo['statuses'].get('200', 0)} |",
            f"| {label} | load (`wrk -t{args.threads} -c{args.connections}`) | "
            f"{load['requests']} | {load['rps']:.1f} | {load['p50']:.1f} | "
            f"{load['p99']:.1f} | | {load['errors']} |",
        ]
    lines += ["", "The issue's URLs on an empty cache (ms, median of 3):", ""]
    lines += ["| URL | " + " | ".join(labels) + " |", "| --- |" + " ---: |" * len(labels)]
    for n, path in enumerate(ISSUE_URLS):
        cells = " | ".join(f"{results[label]['issue'][n][0]:.0f}" for label in labels)
        lines.append(f"| `{path}` | {cells} |")
    for label, result in results.items():
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(result["solo"]["statuses"].items()))
        lines += ["", f"Slowest solo answers ({label}; by status: {statuses}):", ""]
        lines += [
            f"- {ms:.0f} ms `{path}` ({status})" for ms, path, status in result["solo"]["slowest"]
        ]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
