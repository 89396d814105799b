"""CPU time and queries of each of the whole purchase's six requests, in-process.

bench/purchase.py's purchase (product page, add to cart, checkout page, details posted,
review page, place order), asked through Django's test client against the database and
cache of the environment, `time.process_time()` around each request and the queries counted
with an execute wrapper. The best of `--batches` batches of `--purchases` purchases each: the
least disturbed by what else the machine runs. DEBUG off, as the bench serves. With
`--confirmation` the order's page (where placing leads) is asked too, as a seventh step.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop_bench REDIS_URL=redis://127.0.0.1:6379/2 \
        .venv/bin/python bench/purchase_cpu.py --purchases 20 --batches 3

In-process CPU leaves out gunicorn, the socket and the database's own work: it says what
the shop's Python costs a request, which is what bounds orders/s on a machine whose cores
the workers share with PostgreSQL.

The placed mail: without a broker (CELERY_BROKER_URL unset, as bench/run.py serves) its task
runs inline on commit, inside the place-order request; its share of that request is printed
on a line of its own. With CELERY_BROKER_URL set (and no worker) the request only queues it,
and that line is empty: a worker would spend it, on the same cores.

With `--relabelled` each product page is asked as bench/purchase.py's guests find it: right
after another guest's purchase of that product (not measured) moved its stock, which may
have changed its stock labels ("Only 3 left" to "Only 2 left") or sold a variant out. The
product pages rendered anew among those measured are counted. Without it each product page
is one kept since the start (each product is bought once in `len(paths)` purchases).

With `--callgrind OUT` each figure is instructions a request instead (the placed mail's line
then empty: it is inside its request's figure), each request run inside `operator.call` and
dumped to `OUT.<n>` as bench/cached_cpu.py's docstring shows; `callgrind_annotate
--inclusive=yes OUT.<n>` then says where one request went (dumps numbered in step order):

    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=_operator_call \
        --dump-after=_operator_call --callgrind-out-file=/tmp/cg/out \
        .venv/bin/python bench/purchase_cpu.py --purchases 5 --batches 1 --callgrind /tmp/cg/out
"""

import argparse
import contextlib
import importlib.util
import os
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR / "bench"))

# bench/profile.py (it sets up Django, DEBUG off) by its path: `import profile` would find
# the standard library's module of that name once cProfile has loaded it.
_spec = importlib.util.spec_from_file_location("bench_profile", BASE_DIR / "bench" / "profile.py")
bench_profile = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_profile)
_spec = importlib.util.spec_from_file_location("cached_cpu", BASE_DIR / "bench" / "cached_cpu.py")
cached_cpu = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cached_cpu)

import purchase as purchase_bench  # noqa: E402
from django.db import connection  # noqa: E402

from catalog import cache  # noqa: E402
from orders import mails  # noqa: E402

STEPS = (
    "product page",
    "add to cart",
    "checkout page",
    "details posted",
    "review page",
    "place order",
    "confirmation",
)


#: Where callgrind dumps (--callgrind): requests are then counted in instructions.
CALLGRIND_OUT = ""

#: CPU seconds and queries of each order mail sent inline (the placed mail), in the order sent.
MAILS: list[tuple[float, int]] = []


@contextlib.contextmanager
def _measured():
    """The block's CPU seconds and statements: `spent["cpu"]`, `spent["queries"]` on exit."""
    spent = {"cpu": 0.0, "queries": 0}

    def note(execute, sql, params, many, context):
        spent["queries"] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note):
        started = time.process_time()
        yield spent
        spent["cpu"] = time.process_time() - started


def _timed_mail(send):
    def timed(**kwargs):
        with _measured() as spent:
            sent = send(**kwargs)
        MAILS.append((spent["cpu"], spent["queries"]))
        return sent

    return timed


mails.send_queued_mail = _timed_mail(mails.send_queued_mail)

#: The templates of cached pages rendered (catalog.cache renders a page on a miss only).
RENDERED: list[str] = []


def _counted(render):
    def counted(template, *args, **kwargs):
        RENDERED.append(template)
        return render(template, *args, **kwargs)

    return counted


cache.render_to_string = _counted(cache.render_to_string)


class TimedGuest(bench_profile.PurchasingGuest):
    """The purchasing guest, noting each request's CPU time and queries by its step."""

    def __init__(self, cpu: list[list[float]], queries: list[list[int]]):
        super().__init__()
        self.cpu, self.queries, self.step = cpu, queries, 0

    def request(self, method, path, data=None):
        with _measured() as spent:
            if CALLGRIND_OUT:
                answers = []
                ask = super().request
                instructions = cached_cpu.instructions_of(
                    lambda: answers.append(ask(method, path, data)), 1, CALLGRIND_OUT
                )
                (answer,) = answers
            else:
                answer = super().request(method, path, data)
        if CALLGRIND_OUT:  # millions of instructions in the seconds' place: printed as they are
            spent["cpu"] = instructions / 1000
        self.cpu[self.step].append(spent["cpu"])
        self.queries[self.step].append(spent["queries"])
        self.step += 1
        return answer


def batch(paths: list[str], purchases: int, first: int, confirmation: bool, relabelled: bool):
    """CPU and queries per step of `purchases` purchases, from the `first`-th path on; the
    next path's number; how many of the measured product pages were rendered anew."""
    MAILS.clear()
    cpu: list[list[float]] = [[] for _ in STEPS]
    queries: list[list[int]] = [[] for _ in STEPS]
    done = rendered = 0
    n = first
    while done < purchases:
        path = paths[n % len(paths)]
        n += 1
        if relabelled:  # another guest's purchase first, neither measured nor its mail
            mails_before = len(MAILS)
            if purchase_bench.purchase(bench_profile.PurchasingGuest(), path) is False:
                raise SystemExit(f"a purchase of {path} failed")
            del MAILS[mails_before:]
        guest = TimedGuest(cpu, queries)
        renders_before = len(RENDERED)
        bought = purchase_bench.purchase(guest, path)
        if bought is None:  # sold out: nothing was bought, its steps are not counted
            for step in range(guest.step):
                cpu[step].pop()
                queries[step].pop()
            continue
        if bought is False:
            raise SystemExit(f"a purchase of {path} failed")
        rendered += "catalog/product.html" in RENDERED[renders_before:]
        if confirmation:
            guest.request("GET", guest.last_location or "/")
        done += 1
    return cpu, queries, n, rendered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--purchases", type=int, default=20)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--confirmation", action="store_true")
    parser.add_argument("--relabelled", action="store_true")
    parser.add_argument("--label", default=os.environ.get("BENCH_LABEL", ""))
    parser.add_argument("--callgrind", metavar="OUT", help="instructions: see the docstring")
    args = parser.parse_args()
    global CALLGRIND_OUT
    CALLGRIND_OUT = args.callgrind or ""
    unit = "M" if CALLGRIND_OUT else "ms"
    paths = bench_profile.product_paths()
    for path in paths:  # product pages cached, as a running shop's are: not what is measured
        bench_profile.Client().get(path)
    steps = len(STEPS) if args.confirmation else len(STEPS) - 1
    # warm: loaders, connections
    _cpu, _queries, n, _rendered = batch(paths, 3, 0, args.confirmation, args.relabelled)
    best: list[float] | None = None
    best_queries: list[float] = []
    best_mail = (0.0, 0.0)
    best_rendered = 0
    for _ in range(args.batches):
        cpu, queries, n, rendered = batch(
            paths, args.purchases, n, args.confirmation, args.relabelled
        )
        means = [sum(cpu[s]) / len(cpu[s]) * 1000 for s in range(steps)]
        if best is None or sum(means) < sum(best):
            best, best_rendered = means, rendered
            best_queries = [sum(queries[s]) / len(queries[s]) for s in range(steps)]
            # Per order placed (a sold-out attempt sends none).
            best_mail = (
                sum(spent for spent, _q in MAILS) / args.purchases * 1000,
                sum(q for _spent, q in MAILS) / args.purchases,
            )
    assert best is not None
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    what = "M instructions" if CALLGRIND_OUT else "ms CPU"
    print(f"{args.label} load {load}: {what} (queries) per step, best batch of {args.batches}")
    for s in range(steps):
        print(f"  {STEPS[s]:<15} {best[s]:7.2f} {unit:<2} {best_queries[s]:5.1f} q")
        if STEPS[s] == "place order" and not CALLGRIND_OUT:  # (its instructions: the step's)
            mail = best_mail[0]
            print(f"  {'  its mail':<15} {mail:7.2f} ms  {best_mail[1]:5.1f} q  (inline)")
    print(f"  {'whole purchase':<15} {sum(best[:6]):7.2f} {unit:<2} {sum(best_queries[:6]):5.1f} q")
    print(f"  product pages rendered anew: {best_rendered} of {args.purchases}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
