"""CPU time, statements, cache round trips and what goes over the wire for bench/run.py's
cart rows, each request sent as wrk sends it (the same cookies every time, wrk never stores
a Set-Cookie) through the WSGI application as gunicorn calls it:

- `cart-3`, `cart-20`: a guest's cart page, the setup's messages shown (as run.py's shopper);
- `add`: the add-to-cart row: a guest with the CSRF cookie and no session, so every add
  is a new guest's first add (a new cart and a new session);
- `add-to-cart`: a guest with a cart of 3 lines adding one of 150 variants in turn;
- `update`: the quantity update of a cart of 3 lines, every request a real change.

Each figure is the mean CPU time (`time.process_time()`) of one request in the best of
`--batches` batches of `--requests`; with `--profile N` the top N functions (cProfile on the
CPU clock); with `--callgrind OUT` instructions a request instead, run under valgrind as
bench/cached_cpu.py's docstring shows. The database's and Redis's own CPU is not in it: the
statements and round trips columns say how much of theirs a request asks.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop_bench REDIS_URL=redis://127.0.0.1:6379/2 \
        .venv/bin/python bench/cart_cpu.py --requests 150 --batches 3
"""

import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# bench/profile.py would shadow the standard library's `profile` that cProfile imports.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != BASE_DIR / "bench"]

import argparse  # noqa: E402
import cProfile  # noqa: E402
import importlib.util  # noqa: E402
import io  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
import urllib.parse  # noqa: E402
from functools import partial  # noqa: E402


def _load(name: str):
    spec = importlib.util.spec_from_file_location(
        f"bench_{name}", BASE_DIR / "bench" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_profile = _load("profile")  # sets Django up, DEBUG off
cached_cpu = _load("cached_cpu")

from shop.wsgi import application  # noqa: E402


class Answer:
    def __init__(self):
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.size = 0

    def start(self, status, headers, exc_info=None):
        self.status = int(status.split()[0])
        self.headers = headers

    @property
    def cookies(self) -> list[str]:
        return [v.split("=", 1)[0] for k, v in self.headers if k.lower() == "set-cookie"]


def ask(method: str, path: str, cookie: str, body: bytes = b"") -> Answer:
    environ = cached_cpu.environ(path, cookie)
    environ.update(REQUEST_METHOD=method, **{"wsgi.input": io.BytesIO(body)})
    if body:
        environ.update(
            CONTENT_TYPE="application/x-www-form-urlencoded", CONTENT_LENGTH=str(len(body))
        )
    answer = Answer()
    chunks = application(environ, answer.start)
    try:
        for chunk in chunks:
            answer.size += len(chunk)
    finally:
        chunks.close()
    return answer


def cookie_of(guest) -> str:
    return "; ".join(f"{name}={m.value}" for name, m in guest.client.cookies.items())


def scenarios() -> dict:
    """name -> (method, path, cookie, body of request n)."""
    from catalog.models import Variant

    # Variants a quantity of 2 can be had of (a bench database's first ones may be sold
    # down to 1 by the purchase benchmark: the update would answer 400).
    listed = bench_profile.sellable_variants(400)
    stocked = set(Variant.objects.filter(pk__in=listed, stock__gte=5).values_list("pk", flat=True))
    variants = [pk for pk in listed if pk in stocked][:150]

    def cart_of(lines: int):
        guest = bench_profile.Guest()
        guest.get("/cart/")
        for variant in variants[:lines]:
            guest.post("/cart/add/", {"variant": variant, "quantity": 1})
        guest.get("/cart/")
        return guest

    found = {}
    for lines in (3, 20):
        guest = cart_of(lines)
        found[f"cart-{lines}"] = ("GET", "/cart/", cookie_of(guest), None)

    def adds_of(guest):
        """Bodies adding one of the variants in turn, with `guest`'s CSRF token."""
        token = guest.token

        def body(n: int) -> bytes:
            data = {"quantity": 1, "next": "/cart/", "variant": variants[n % len(variants)]}
            return urllib.parse.urlencode({**data, "csrfmiddlewaretoken": token}).encode()

        return body

    adder = bench_profile.Guest()
    adder.get("/cart/")
    found["add"] = ("POST", "/cart/add/", cookie_of(adder), adds_of(adder))
    holder = cart_of(3)
    found["add-to-cart"] = ("POST", "/cart/add/", cookie_of(holder), adds_of(holder))
    updater = cart_of(3)
    html = updater.get("/cart/").content.decode()
    line_ids = re.findall(r'name="quantity-(\d+)"', html)
    update_token = updater.token

    def update_body(n: int) -> bytes:
        fields = ["next=/cart/"]
        for line in line_ids:
            fields += [f"quantity-{line}={1 + n % 2}", f"selected-{line}=on"]
        return "&".join([*fields, f"csrfmiddlewaretoken={update_token}"]).encode()

    found["update"] = ("POST", "/cart/update/", cookie_of(updater), update_body)
    found["bare"] = ("GET", "/livez", "", None)
    return found


class Counter:
    def __init__(self):
        self.n = 0


def run(scenario, counter: Counter) -> Answer:
    method, path, cookie, body = scenario
    counter.n += 1
    return ask(method, path, cookie, body(counter.n) if body else b"")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--only", default="")
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument("--label", default=os.environ.get("BENCH_LABEL", ""))
    parser.add_argument("--callgrind", metavar="OUT", help="instructions: see cached_cpu.py")
    args = parser.parse_args()
    chosen = [n for n in args.only.split(",") if n]
    all_scenarios = scenarios()
    cached_cpu.gunicorn_conf.settle_collector()  # as a served worker's collector runs
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    unit = "M instructions" if args.callgrind else "ms CPU"
    print(f"{args.label} load {load}: {unit} a request (best batch of {args.batches})")
    for name, scenario in all_scenarios.items():
        if chosen and name not in chosen:
            continue
        counter = Counter()
        for _ in range(20):
            answer = run(scenario, counter)
        with cached_cpu.Counted() as counted:
            answer = run(scenario, counter)
        best = float("inf")
        for _ in range(args.batches):
            if args.callgrind:
                request = partial(run, scenario, counter)
                batch = cached_cpu.instructions_of(request, args.requests, args.callgrind)
            else:
                started = time.process_time()
                for _ in range(args.requests):
                    run(scenario, counter)
                batch = (time.process_time() - started) / args.requests * 1000
            best = min(best, batch)
        print(
            f"  {name:<12} {best:6.3f} {unit.split()[0]:<2}  {counted.queries} statements  "
            f"{counted.round_trips} cache round trips  {answer.status} {answer.size} bytes  "
            f"cookies set: {','.join(answer.cookies) or '-'}",
            flush=True,
        )
        if args.profile:
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            for _ in range(args.requests):
                run(scenario, counter)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(args.profile)
            stats.sort_stats("tottime").print_stats(args.profile)
            print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
