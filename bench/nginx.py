"""Requests/s through nginx (deploy/nginx's site, HTTPS) with one and with two gunicorn
instances, and straight to one instance for comparison; written to bench/results/nginx.md.

The stack is bench/stack.py's (nginx, gunicorn instances, a Celery worker; a fresh database
beside DATABASE_URL's with the demo catalog). wrk drives a mix of shopper pages (home,
listings, filters, products, search; cached and uncached alike), each connection walking
the list in turn, for a bounded time per run. The machine's load average is written beside
each figure: on a shared machine it says how much of the two cores the shop had.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop REDIS_URL=redis://127.0.0.1:6379/0 \
        python bench/nginx.py --duration 15
"""

import argparse
import datetime
import http.client
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import run as bench_run  # bench/run.py: wrk's output read the same way
import stack as deployment  # bench/stack.py

RESULTS = Path(__file__).resolve().parent / "results"


def shopper_mix(stack: deployment.Stack) -> list[str]:
    """The paths a browsing shopper asks for, read off the running shop's own pages."""
    home = _get(stack, "/")
    listing = _get(stack, "/products/?per_page=96")
    categories = list(dict.fromkeys(re.findall(r'href="(/c/[^"/]+/)"', home)))[:6]
    products = list(dict.fromkeys(re.findall(r'href="(/p/[^"/]+/)"', listing)))[:24]
    if not categories or not products:
        raise deployment.StackError("no categories or products on the shop's pages")
    return [
        "/",
        "/products/",
        "/products/?page=2",
        "/products/?sort=price",
        "/search/?q=shirt",
        "/search/?q=lantern",
        f"{categories[0]}?sort=newest",
        *categories,
        *products,
    ]


def _get(stack: deployment.Stack, path: str) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", stack.app_ports[0], timeout=30)
    connection.request(
        "GET", path, headers={"Host": deployment.SHOP_HOST, "X-Forwarded-Proto": "https"}
    )
    response = connection.getresponse()
    html = response.read().decode()
    connection.close()
    return html


def wrk(url: str, paths: list[str], args, *, headers: dict[str, str]) -> dict:
    """One bounded wrk run over the mix; requests/s, latencies, errors and the load seen."""
    script = RESULTS / "nginx-mix.lua"
    script.write_text(
        "local paths = {" + ",".join(f'"{path}"' for path in paths) + "}\n"
        "local i = math.random(#paths)\n"
        "request = function()\n"
        "  i = i % #paths + 1\n"
        '  return wrk.format("GET", paths[i])\n'
        "end\n"
    )
    flags = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
    try:
        # Warm-up: caches filled, connections and workers ready.
        subprocess.run(
            ["wrk", "-t1", "-c2", "-d3s", *flags, "-s", str(script), url],
            capture_output=True,
            check=True,
            timeout=60,
        )
        load_before = os.getloadavg()[0]
        output = subprocess.run(
            [
                "wrk",
                f"-t{args.threads}",
                f"-c{args.connections}",
                f"-d{args.duration}s",
                # A request waiting for one of the few sync workers on a loaded machine is
                # slow, not lost: wrk's 2 s default would count it as an error.
                "--timeout",
                "10s",
                "--latency",
                *flags,
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=args.duration + 60,
        ).stdout
        load_after = os.getloadavg()[0]
    finally:
        script.unlink(missing_ok=True)
    print(output, flush=True)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": bench_run.latency_ms(output, "50%"),
        "p99": bench_run.latency_ms(output, "99%"),
        "errors": bench_run.errors(output),
        "load": (load_before + load_after) / 2,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds of load per run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--products", type=int, default=300, help="demo catalog size")
    deployment.add_arguments(parser, first_port=8124, web_workers=3)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("bench/nginx.py needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    try:
        stack = deployment.stack_from(args, database_suffix="_nginx_bench")
    except deployment.StackError as error:
        print(f"bench/nginx.py: {error}", file=sys.stderr)
        return 2
    with stack:
        try:
            stack.prepare(products=args.products)
            stack.start()
            paths = shopper_mix(stack)
            for path in paths:  # every page rendered once: the shared cache is warm
                _get(stack, path)
            first, second = args.app_ports
            through_nginx = f"https://127.0.0.1:{args.https_port}"
            host = {"Host": deployment.SHOP_HOST}
            rows = [
                (
                    "straight to one instance (no nginx, plain HTTP)",
                    wrk(
                        f"http://127.0.0.1:{first}",
                        paths,
                        args,
                        headers={**host, "X-Forwarded-Proto": "https"},
                    ),
                )
            ]
            stack.reload_nginx([first])
            rows.append(
                ("nginx (HTTPS) → one instance", wrk(through_nginx, paths, args, headers=host))
            )
            stack.reload_nginx([first, second])
            rows.append(
                ("nginx (HTTPS) → two instances", wrk(through_nginx, paths, args, headers=host))
            )
        except deployment.StackError as error:
            print(f"FAILED: {error}\n\n{stack.logs()}", file=sys.stderr)
            return 1
    report = render(rows, paths, args)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "nginx.md").write_text(report)
    print(report)
    return 0


def render(rows: list[tuple[str, dict]], paths: list[str], args) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Through nginx: one and two gunicorn instances",
        "",
        f"{when}; {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{_nginx_version()}; `python bench/nginx.py --duration {args.duration}`: each gunicorn "
        f"instance has {args.workers} sync workers, DEBUG off, on PostgreSQL + Redis, demo "
        f"catalog of {args.products} products; `wrk -t{args.threads} -c{args.connections} "
        f"-d{args.duration}s --timeout 10s` on loopback over a mix of {len(paths)} shopper "
        "pages (home, listings, filters, product pages, search; cached and uncached), each "
        "connection "
        "walking the list in turn. nginx runs deploy/nginx/shop.conf (HTTPS, gzip for "
        "clients that ask: wrk does not).",
        "",
        "| served by | requests/s | p50 ms | p99 ms | errors | load average |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in rows:
        lines.append(
            f"| {name} | {row['rps']:.0f} | {row['p50']:.1f} | {row['p99']:.1f} | "
            f"{row['errors']} | {row['load']:.1f} |"
        )
    lines += [
        "",
        "Load average: the machine's one-minute figure around the run (mean of before and "
        "after). Every instance, nginx, PostgreSQL, Redis and wrk share the same cores, so a "
        "second instance on one machine adds workers, not CPU: the gain of a second instance "
        "shows only when it runs on a host of its own. On a machine shared with other work "
        "(a load average well above the cores), more worker processes also win a larger "
        "share of the CPU from the other processes, which inflates the second instance's "
        "gain. What the second instance buys on one machine is that one can die without a "
        "shopper noticing (`make deploy-test`).",
        "",
        "Pages in the mix:",
        "",
        *(f"- `{path}`" for path in paths),
        "",
    ]
    return "\n".join(lines)


def _nginx_version() -> str:
    output = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr
    return output.strip().replace("nginx version: ", "")


if __name__ == "__main__":
    sys.exit(main())
