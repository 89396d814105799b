"""A flash sale's first second over HTTP: N buyers (500) rush M units (50, limit 1 each).

gunicorn (bench/run.py's start_gunicorn: sync workers, DEBUG off) on the given PostgreSQL
database and Redis. Before the start every buyer is a guest who put the flash variant in a
cart and filled in checkout (not timed). At the start all of them, released by one barrier,
open the review page and place the order, as shoppers pressing "buy" the second the
countdown ends. Timed: each request. Sampled every 50 ms meanwhile: PostgreSQL's waiting
locks (pg_locks not granted) and backends waiting on a lock; before and after:
pg_stat_database's transactions and rows updated.

Checked: exactly M orders with flash units, every one at the flash price, no customer (an
email: a tenth of the buyers share theirs with another) over the limit, the variant's stock
down by M; everyone else told "sold out" (redirected to the cart, whose page says so).

Run once per gate: `--gate redis` (the Lua counter in front of the database) and
`--gate database` (FLASH_REDIS_URL empty: the conditional UPDATE alone).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop_flash REDIS_URL=redis://127.0.0.1:6379/1 \
        .venv/bin/python bench/flash.py --port 8101 --gate both
"""

import argparse
import os
import platform
import re
import signal
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import purchase  # bench/purchase.py: Guest, ADDRESS
import run  # bench/run.py: server_env, start_gunicorn, wait_until_up

RESULTS = Path(__file__).resolve().parent / "results" / "flash.md"
FLASH_PRICE = Decimal("9.90")
#: Seconds a buyer waits for an answer before giving up (counted as "timeout"; --timeout).
TIMEOUT = 30


def django_setup(env: dict[str, str]) -> None:
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
    import django

    django.setup()


def make_sale(*, units: int, buyers: int):
    """A published product, a shipping method and a flash sale that starts in an hour (the
    rush moves it to now)."""
    from catalog.models import Category, Product, Variant
    from orders.models import ShippingMethod
    from promotions import flash
    from promotions.models import FlashSale

    stamp = datetime.now(UTC).strftime("%H%M%S%f")
    category, _created = Category.objects.get_or_create(
        slug="flash-bench", defaults={"name": "Flash bench", "is_active": True}
    )
    product = Product.objects.create(
        name=f"Flash bench {stamp}",
        slug=f"flash-bench-{stamp}",
        category=category,
        is_published=True,
    )
    variant = Variant.objects.create(
        product=product, sku=f"FLASH-{stamp}", price=Decimal("100.00"), stock=buyers * 2
    )
    if not ShippingMethod.objects.active().exists():
        ShippingMethod.objects.create(name="Standard", price=Decimal("5.00"))
    now = datetime.now(UTC)
    sale = FlashSale.objects.create(
        name=f"Bench rush {stamp}",
        variant=variant,
        price=FLASH_PRICE,
        starts_at=now + timedelta(hours=1),
        ends_at=now + timedelta(hours=2),
        cap=units,
        per_customer=1,
    )
    flash.schedule_changed()
    return product, variant, sale


def start_now(sale) -> None:
    from promotions import flash
    from promotions.models import FlashSale

    FlashSale.objects.filter(pk=sale.pk).update(starts_at=datetime.now(UTC) - timedelta(seconds=1))
    flash.schedule_changed()


def prepare(guest: "purchase.Guest", product_path: str, variant_id: int, email: str) -> bool:
    """Cart and checkout details before the start (not timed)."""
    guest.request("GET", product_path)
    guest.request("POST", "/cart/add/", {"variant": variant_id, "quantity": 1})
    _status, _location, html = guest.request("GET", "/checkout/")
    method = re.search(r'name="shipping_method" value="(\d+)"', html)
    if not method:
        return False
    status, _location, _html = guest.request(
        "POST",
        "/checkout/",
        {**purchase.ADDRESS, "email": email, "shipping_method": method.group(1)},
    )
    return status == 302


def rush(guest: "purchase.Guest", barrier: threading.Barrier) -> dict:
    """Review then place, timed; the outcome: placed, sold_out, error or timeout (no answer
    within the client's timeout)."""
    barrier.wait()
    started = time.perf_counter()
    try:
        return _rush(guest)
    except OSError:  # socket timeout, connection reset
        elapsed = (time.perf_counter() - started) * 1000
        return {"review_ms": elapsed, "place_ms": None, "outcome": "timeout", "guest": guest}


def _rush(guest: "purchase.Guest") -> dict:
    started = time.perf_counter()
    status, location, html = guest.request("GET", "/checkout/review/")
    review_ms = (time.perf_counter() - started) * 1000
    if status == 302 and location.endswith("/cart/"):
        return {"review_ms": review_ms, "place_ms": None, "outcome": "sold_out", "guest": guest}
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html)
    fingerprint = re.search(r'name="fingerprint" value="([^"]+)"', html)
    if status != 200 or not key or not fingerprint:
        return {"review_ms": review_ms, "place_ms": None, "outcome": "error", "guest": guest}
    fields = {"idempotency_key": key.group(1), "fingerprint": fingerprint.group(1)}
    started = time.perf_counter()
    status, location, _html = guest.request("POST", "/checkout/place/", fields)
    place_ms = (time.perf_counter() - started) * 1000
    if purchase.placed(status, location):
        outcome = "placed"
    elif status == 302 and location.endswith("/cart/"):
        outcome = "sold_out"
    else:
        outcome = "error"
    return {"review_ms": review_ms, "place_ms": place_ms, "outcome": outcome, "guest": guest}


class Sampler(threading.Thread):
    """Waiting locks and lock-waiting backends of the bench database, every 50 ms."""

    def __init__(self, dsn: str, database: str):
        super().__init__(daemon=True)
        self.connection = psycopg2.connect(dsn)
        self.connection.autocommit = True
        self.database = database
        self.waiting: list[int] = []
        self.lock_waiters: list[int] = []
        self.active: list[int] = []
        self.stop = threading.Event()

    def run(self):
        with self.connection.cursor() as cursor:
            while not self.stop.is_set():
                cursor.execute(
                    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                    "WHERE NOT l.granted AND d.datname = %s",
                    [self.database],
                )
                self.waiting.append(cursor.fetchone()[0])
                cursor.execute(
                    "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'), "
                    "count(*) FILTER (WHERE state = 'active') "
                    "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    [self.database],
                )
                lock, active = cursor.fetchone()
                self.lock_waiters.append(lock)
                self.active.append(active)
                time.sleep(0.05)


def _told_sold_out(guest) -> bool:
    try:
        return "Sold out" in guest.request("GET", "/cart/")[2]
    except OSError:
        return False


def database_stats(dsn: str, database: str) -> dict:
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT xact_commit, xact_rollback, tup_updated, tup_inserted, deadlocks "
            "FROM pg_stat_database WHERE datname = %s",
            [database],
        )
        names = ("commits", "rollbacks", "rows_updated", "rows_inserted", "deadlocks")
        return dict(zip(names, cursor.fetchone(), strict=True))


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def verify(*, sale, variant, units: int, buyers: int) -> dict:
    from django.db.models import Count

    from catalog.models import Variant
    from orders.models import Order, OrderLine
    from promotions.models import FlashClaim, FlashSale

    claims = FlashClaim.objects.filter(sale=sale, released_at__isnull=True)
    numbers = list(claims.values_list("order_number", flat=True))
    lines = OrderLine.objects.filter(order__number__in=numbers, variant=variant)
    per_email = claims.values("email").annotate(n=Count("pk")).order_by("-n").first()
    return {
        "orders": Order.objects.filter(number__in=numbers).count(),
        "all_orders_of_variant": OrderLine.objects.filter(variant=variant).count(),
        "at_flash_price": lines.filter(unit_price=FLASH_PRICE).count(),
        "taken": FlashSale.objects.get(pk=sale.pk).taken,
        "most_per_customer": per_email["n"] if per_email else 0,
        "stock_taken": buyers * 2 - Variant.objects.get(pk=variant.pk).stock,
    }


def one_run(args, *, gate: str) -> dict:
    env = run.server_env(args)
    env["EMAIL_URL"] = "dummymail://"
    if gate == "database":
        env["FLASH_REDIS_URL"] = ""
    database = args.database.rsplit("/", 1)[1]
    dsn = args.database.rsplit("/", 1)[0] + "/postgres"
    run.set_port(args.port)
    server = run.start_gunicorn(env, args.workers)
    try:
        run.wait_until_up(f"http://127.0.0.1:{args.port}/livez")
        product, variant, sale = make_sale(units=args.units, buyers=args.buyers)
        path = product.get_absolute_url()
        guests = [purchase.Guest(args.port, timeout=args.timeout) for _ in range(args.buyers)]
        # A tenth of the buyers share an email with another: the limit is per customer.
        emails = [
            f"buyer{i % (args.buyers - args.buyers // 10)}@example.com" for i in range(args.buyers)
        ]
        print(f"[{gate}] preparing {args.buyers} carts...", flush=True)
        with ThreadPoolExecutor(max_workers=16) as pool:
            ready = list(
                pool.map(
                    lambda ge: prepare(ge[0], path, variant.pk, ge[1]),
                    zip(guests, emails, strict=True),
                )
            )
        if not all(ready):
            raise SystemExit(f"{ready.count(False)} carts could not be prepared")
        start_now(sale)
        time.sleep(0.5)  # the schedule cache is dropped on commit; let it settle
        sampler = Sampler(dsn, database)
        before = database_stats(dsn, database)
        barrier = threading.Barrier(args.buyers + 1)
        print(f"[{gate}] rush: {args.buyers} buyers for {args.units} units", flush=True)
        with ThreadPoolExecutor(max_workers=args.buyers) as pool:
            futures = [pool.submit(rush, guest, barrier) for guest in guests]
            sampler.start()
            began = time.perf_counter()
            barrier.wait()
            outcomes = [future.result() for future in futures]
            wall = time.perf_counter() - began
        sampler.stop.set()
        sampler.join()
        after = database_stats(dsn, database)
        told = sum(_told_sold_out(o["guest"]) for o in outcomes if o["outcome"] == "sold_out")
        checked = verify(sale=sale, variant=variant, units=args.units, buyers=args.buyers)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return summarise(gate, outcomes, wall, sampler, before, after, checked, told)


def summarise(gate, outcomes, wall, sampler, before, after, checked, told) -> dict:
    placed = [o for o in outcomes if o["outcome"] == "placed"]
    sold_out = [o for o in outcomes if o["outcome"] == "sold_out"]
    errors = [o for o in outcomes if o["outcome"] in ("error", "timeout")]
    timeouts = [o for o in outcomes if o["outcome"] == "timeout"]
    reviews = [o["review_ms"] for o in outcomes]
    places = [o["place_ms"] for o in outcomes if o["place_ms"] is not None]
    # What a buyer told "sold out" waited for that answer (the request that said it).
    loser_answers = [
        o["place_ms"] if o["place_ms"] is not None else o["review_ms"] for o in sold_out
    ]
    return {
        "gate": gate,
        "wall_s": wall,
        "placed": len(placed),
        "sold_out": len(sold_out),
        "errors": len(errors),
        "timeouts": len(timeouts),
        "told_in_cart": told,
        "review_p50": percentile(reviews, 0.5),
        "review_p99": percentile(reviews, 0.99),
        "place_p50": percentile(places, 0.5),
        "place_p99": percentile(places, 0.99),
        "loser_p50": percentile(loser_answers, 0.5),
        "loser_p99": percentile(loser_answers, 0.99),
        "loser_within_1s": sum(ms <= 1000 for ms in loser_answers),
        "waiting_max": max(sampler.waiting, default=0),
        "waiting_mean": statistics.fmean(sampler.waiting) if sampler.waiting else 0,
        "lock_waiters_max": max(sampler.lock_waiters, default=0),
        "active_max": max(sampler.active, default=0),
        "samples": len(sampler.waiting),
        "db": {k: after[k] - before[k] for k in before},
        **checked,
    }


def render(args, rows: list[dict], load_before, load_after) -> str:
    lines = [
        "# Flash sale: the first second",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; gunicorn with {args.workers} sync workers, DEBUG off, "
        f"PostgreSQL and Redis on loopback. `bench/flash.py --buyers {args.buyers} --units "
        f"{args.units} --timeout {args.timeout:g}`: {args.buyers} guests with the flash "
        "variant in their cart and checkout filled in, released together by one barrier "
        "the moment the sale starts; each opens "
        "the review page and places the order (limit 1 per customer; a tenth of the buyers "
        "share an email with another).",
        "",
        f"Load average (1/5/15 min) before {load_before}, after {load_after}: the machine is "
        "shared and was busy with other sessions' work, so the latencies are worse than on a "
        "quiet machine; the counts (orders, limits, locks) do not depend on it.",
        "",
        "| gate | orders | at flash price | most per customer | taken | stock taken "
        "| told sold out | errors (of which no answer in time) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['gate']} | {r['orders']} (of {r['placed']} placed) | {r['at_flash_price']} | "
            f"{r['most_per_customer']} | {r['taken']} | {r['stock_taken']} | {r['sold_out']} | "
            f"{r['errors']} ({r['timeouts']}) |"
        )
    lines += [
        "",
        "| gate | wall (s) | review p50 / p99 (ms) | place p50 / p99 (ms) "
        "| sold-out answer p50 / p99 (ms) | sold out within 1 s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['gate']} | {r['wall_s']:.1f} | {r['review_p50']:.0f} / {r['review_p99']:.0f} | "
            f"{r['place_p50']:.0f} / {r['place_p99']:.0f} | {r['loser_p50']:.0f} / "
            f"{r['loser_p99']:.0f} | {r['loser_within_1s']} of {r['sold_out']} |"
        )
    lines += [
        "",
        "Database load during the rush (pg_locks not granted and backends waiting on a lock, "
        "sampled every 50 ms; pg_stat_database deltas over the rush):",
        "",
        "| gate | waiting locks max / mean | backends waiting on a lock, max "
        "| active backends, max | commits | rollbacks | rows updated | deadlocks |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        db = r["db"]
        lines.append(
            f"| {r['gate']} | {r['waiting_max']} / {r['waiting_mean']:.2f} | "
            f"{r['lock_waiters_max']} | {r['active_max']} | {db['commits']} | "
            f"{db['rollbacks']} | {db['rows_updated']} | {db['deadlocks']} |"
        )
    lines += [
        "",
        'Sold-out buyers who then opened their cart and read "Sold out": '
        + ", ".join(f"{r['gate']} {r['told_in_cart']} of {r['sold_out']}" for r in rows)
        + ".",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--buyers", type=int, default=500)
    parser.add_argument("--units", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--gate", choices=["redis", "database", "both"], default="both")
    parser.add_argument("--timeout", type=float, default=TIMEOUT)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--database", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", ""))
    args = parser.parse_args()
    if not args.database.startswith("postgres") or not args.redis.startswith("redis"):
        raise SystemExit("set DATABASE_URL (PostgreSQL) and REDIS_URL")
    env = run.server_env(args)
    django_setup(env)
    load_before = "/".join(f"{x:.1f}" for x in os.getloadavg())
    gates = ["redis", "database"] if args.gate == "both" else [args.gate]
    rows = []
    for gate in gates:
        rows.append(one_run(args, gate=gate))
        load_after = "/".join(f"{x:.1f}" for x in os.getloadavg())
        report = render(args, rows, load_before, load_after)
        args.output.write_text(report)  # after each gate: a later failure keeps what was measured
        print(report, flush=True)
    ok = all(
        r["orders"] == args.units
        and r["at_flash_price"] == args.units
        and r["most_per_customer"] <= 1
        for r in rows
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
