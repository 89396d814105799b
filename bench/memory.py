"""Whether gunicorn workers' memory stays flat under a long run of many different pages.

The bench's own server (bench/run.py: gunicorn, 2 x cores + 1 sync workers, DEBUG off) on an
already seeded database, driven by wrk for `--minutes` through a Lua script that picks each
request at random among thousands of addresses, as shoppers ask them: product pages of the
whole catalog, categories with filters, sorts and pages, searches never asked before, the
all-products pages, search suggestions, the cart, the home page. Each worker's resident
memory is read when the server is up (before any page), every minute of the load and at
its end; written to bench/results/memory.md.

    .venv/bin/python bench/memory.py --database postgres://postgres@127.0.0.1:5432/shop_bench \\
        --redis redis://127.0.0.1:6379/2 --products 10000 --minutes 10
"""

import argparse
import datetime
import os
import random
import re
import signal
import subprocess
import sys
import time
import urllib.parse

import run  # bench/run.py

#: Distinct searches and product pages (about) among the addresses.
SEARCHES = 3000
PRODUCT_PAGES = 5000


def addresses(seed: int = 19) -> list[str]:
    """Many different addresses a crowd of shoppers asks, in no order."""
    rng = random.Random(seed)  # noqa: S311 # nosec B311 (a sample of pages, not a secret)
    shopper = run.Shopper()
    home = shopper.get("/")
    categories = sorted(set(re.findall(r'href="(/c/[a-z0-9-]+/)"', home)))
    listing = shopper.get("/products/?per_page=96")
    brands = sorted(set(re.findall(r'name="brand" value="([a-z0-9-]+)"', listing)))
    colours = sorted(set(re.findall(r'name="colour" value="([a-z0-9-]+)"', listing)))
    shown: dict[str, None] = {}  # published products' pages, from the listing's cards
    for page in range(1, PRODUCT_PAGES // 96 + 2):
        html = shopper.get(f"/products/?per_page=96&page={page}")
        shown.update(dict.fromkeys(re.findall(r'href="(/p/[a-z0-9-]+/)"', html)))
    found = list(shown)
    for category in categories:
        found.append(category)
        for page in range(2, 8):
            found.append(f"{category}?page={page}")
        for sort in ("price", "-price", "newest", "best-selling", "top-rated"):
            found.append(f"{category}?sort={sort}")
        for brand in brands:
            found.append(f"{category}?brand={brand}")
            for colour in colours[:4]:
                found.append(f"{category}?brand={brand}&colour={colour}&sort=price")
    found += [f"/products/?page={page}" for page in range(1, 200)]
    queries = run.search_queries(SEARCHES, get=shopper.get)
    found += [f"/search/?q={q}" for q in queries]
    found += [f"/search/?q={q}&page=2&sort=price" for q in queries[:500]]
    found += [f"/search/suggest?q={urllib.parse.quote(q[:3])}" for q in queries[:500]]
    found += ["/", "/cart/", "/healthz"] * 20
    rng.shuffle(found)
    return found


def lua_script(paths: list[str]) -> str:
    quoted = ",".join('"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in paths)
    return (
        f"local paths = {{{quoted}}}\n"
        "request = function()\n"
        "  return wrk.format('GET', paths[math.random(#paths)])\n"
        "end\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/shop_bench")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/2")
    parser.add_argument("--products", type=int, default=10_000, help="the catalog's size")
    parser.add_argument("--port", type=int, default=run.PORT)
    args = parser.parse_args()
    run.set_port(args.port)
    run.ensure_wrk()
    env = run.server_env(args)
    workers = 2 * (os.cpu_count() or 1) + 1
    load_before = os.getloadavg()
    server = run.start_gunicorn(env, workers)
    samples: list[tuple[float, dict[int, float]]] = []
    try:
        run.wait_until_up(f"http://127.0.0.1:{run.PORT}/livez")
        # As the workers came up (the listing index loaded), before any page.
        samples.append((0.0, run.worker_memory_mib(server.pid)))
        paths = addresses()
        script = run.RESULTS / "memory.lua"
        script.write_text(lua_script(paths))
        started = time.monotonic()
        load = subprocess.Popen(
            [
                "wrk",
                "-t2",
                f"-c{args.connections}",
                f"-d{args.minutes * 60}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                f"http://127.0.0.1:{run.PORT}/",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        while load.poll() is None:
            time.sleep(1)
            minute = (time.monotonic() - started) / 60
            if minute >= len(samples) - 1:
                samples.append((minute, run.worker_memory_mib(server.pid)))
        output = load.stdout.read()
        samples.append(((time.monotonic() - started) / 60, run.worker_memory_mib(server.pid)))
        script.unlink()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    report = render(args, paths, samples, output, (load_before, os.getloadavg()))
    (run.RESULTS / "memory.md").write_text(report)
    print(report)
    return 0


def render(args, paths, samples, output: str, load) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    pids = sorted(samples[0][1])
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    lines = [
        "# Workers' memory under a long mixed run",
        "",
        f"{when}; gunicorn with {len(pids)} sync workers, DEBUG off; `wrk -t2 "
        f"-c{args.connections} -d{args.minutes * 60}s` picking each request at random among "
        f"{len(paths):,} different addresses (bench/memory.py); demo catalog of "
        f"{args.products:,} products.",
        run.load_line(load),
        "",
        f"Requests: {requests:,}, {run.errors(output)} errors; {rate:.0f} requests/s.",
        "",
        "| minute | " + " | ".join(f"worker {n + 1}" for n in range(len(pids))) + " |",
        "| ---: | " + " | ".join("---:" for _ in pids) + " |",
    ]
    for n, (minute, memory) in enumerate(samples):
        minute = "up" if n == 0 else f"{minute:.1f}"
        cells = [f"{memory[pid]:.0f}" if pid in memory else "gone" for pid in pids]
        lines.append(f"| {minute} | " + " | ".join(cells) + " |")
    lines += ["", run.memory_line(samples[0][1], samples[-1][1]), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
