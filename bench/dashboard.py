"""The merchant's dashboard over 100,000 orders on PostgreSQL: how long the admin index takes
to answer, computed from scratch (the dashboard keeps no cache; Redis is emptied anyway).

    createdb -h 127.0.0.1 -U postgres shop_insights_bench
    python bench/dashboard.py --orders 100000 \
        --database postgres://postgres@127.0.0.1:5432/shop_insights_bench

The database is migrated and seeded once (`--reseed` starts again): a demo catalog of 2,000
products (seed_demo), then orders, their lines, payments, refunds and carts written in bulk
(bulk_create in batches, timestamps set by one UPDATE each), never through checkout: 365 days
of orders, 80 % paid, 5 % partly refunded, 5 % refunded in full, 5 % cancelled, 5 % unpaid.
The dashboard is asked --runs times through Django's test client as a signed-in merchant;
each selector is also timed alone. Figures go to bench/results/dashboard.md.
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS = BASE_DIR / "bench" / "results"
sys.path.insert(0, str(BASE_DIR))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument(
        "--database", default="postgres://postgres@127.0.0.1:5432/shop_insights_bench"
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/1")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--reseed", action="store_true")
    return parser.parse_args()


ARGS = parse_args()
os.environ["DATABASE_URL"] = ARGS.database
os.environ["REDIS_URL"] = ARGS.redis
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
os.environ.setdefault("DEBUG", "true")  # static files served unhashed: no collectstatic needed
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ["SHOP_PROCESS"] = "command"  # no statement timeout while seeding in bulk

import django  # noqa: E402

django.setup()

from django.core.cache import cache  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from cart.models import Cart  # noqa: E402
from catalog.models import Variant  # noqa: E402
from insights import selectors  # noqa: E402
from insights.periods import Period, today  # noqa: E402
from orders.models import TRANSFER_DUE_SOON, Order, OrderLine, OrderRefund  # noqa: E402
from payments.models import Payment, Refund  # noqa: E402

BATCH = 5_000


def manage(*args: str) -> None:
    env = {**os.environ, "SHOP_PROCESS": "command"}
    subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], check=True, env=env)


def seed(count: int) -> None:
    started = time.perf_counter()
    if Variant.objects.count() < 2000:
        manage("seed_demo", "--products", "2000")
    variants = list(
        Variant.objects.filter(is_active=True).values_list("pk", "product_id", "sku", "price")[
            :2000
        ]
    )
    Refund.objects.filter(payment__order__number__startswith="B-").delete()
    Payment.objects.filter(order__number__startswith="B-").delete()
    Order.objects.filter(number__startswith="B-").delete()
    Cart.objects.filter(user__isnull=True).delete()
    carts = Cart.objects.bulk_create([Cart() for _ in range(int(count * 1.5))], batch_size=BATCH)
    statuses = ["paid"] * 16 + [
        "partially_refunded",
        "refunded",
        "cancelled",
        "unpaid",
    ]  # 80 / 5 / 5 / 5 / 5 %
    for start in range(0, count, BATCH):
        orders, lines = [], []
        for n in range(start, min(start + BATCH, count)):
            kind = statuses[n % len(statuses)]
            chosen = [variants[(n * 7 + k * 131) % len(variants)] for k in range(1 + n % 3)]
            subtotal = sum(
                (price * (1 + k % 2) for k, (_v, _p, _s, price) in enumerate(chosen)), Decimal(0)
            )
            total = subtotal + Decimal("5.00")
            paid = kind in ("paid", "partially_refunded", "refunded")
            refunded = {"partially_refunded": Decimal("5.00"), "refunded": total}.get(
                kind, Decimal(0)
            )
            orders.append(
                Order(
                    number=f"B-{n:08d}",
                    email=f"customer{n % (count // 3)}@example.com",
                    idempotency_key=f"{carts[n].pk}:bench-{n}",
                    status="cancelled" if kind in ("cancelled", "refunded") else "open",
                    payment_status={
                        "paid": "paid",
                        "partially_refunded": "partially_refunded",
                        "refunded": "refunded",
                    }.get(kind, "unpaid"),
                    fulfilment_status="delivered" if n % 4 else "unfulfilled",
                    payment_method="manual" if n % 5 == 0 else "sandbox",
                    ship_name="Bench Shopper",
                    ship_line1="1 Bench Road",
                    ship_city="London",
                    ship_country="GB",
                    shipping_method_name="Standard",
                    currency="USD",
                    subtotal=subtotal,
                    shipping=Decimal("5.00"),
                    total=total,
                    total_paid=total if paid else Decimal(0),
                    total_refunded=refunded,
                    paid_at=timezone.now() if paid else None,
                    payment_deadline=timezone.now() + timedelta(days=n % 9 - 2)
                    if not paid
                    else None,
                )
            )
            for k, (variant_id, product_id, sku, price) in enumerate(chosen):
                quantity = 1 + k % 2
                lines.append(
                    (
                        n,
                        OrderLine(
                            variant_id=variant_id,
                            product_id=product_id,
                            product_name=f"Product {product_id}",
                            sku=sku,
                            unit_price=price,
                            quantity=quantity,
                            total=price * quantity,
                            net=price * quantity,
                        ),
                    )
                )
        made = Order.objects.bulk_create(orders)
        by_n = {start + i: order for i, order in enumerate(made)}
        for n, line in lines:
            line.order = by_n[n]
        OrderLine.objects.bulk_create([line for _n, line in lines])
        OrderRefund.objects.bulk_create(
            [OrderRefund(order=o, amount=o.total_refunded) for o in made if o.total_refunded]
        )
        Payment.objects.bulk_create(
            [
                Payment(
                    order=o,
                    provider=o.payment_method,
                    amount=o.total,
                    currency="USD",
                    state="captured",
                    flagged=o.pk % 997 == 0,
                )
                for o in made
                if o.total_paid
            ]
        )
        print(f"  {min(start + BATCH, count):,} orders", flush=True)
    payments = Payment.objects.filter(
        order__number__startswith="B-", order__payment_status="partially_refunded"
    )[:300]
    Refund.objects.bulk_create(
        [Refund(payment=p, amount=Decimal("5.00"), status="due") for p in payments]
    )
    with connection.cursor() as cursor:
        # Spread over 365 days from the row's id, so every run seeds the same shop.
        spread = (
            "now() - ((id * 37 %% 365) || ' days')::interval"
            " - ((id * 7919 %% 86400) || ' seconds')::interval"
        )
        paid = f"CASE WHEN paid_at IS NULL THEN NULL ELSE {spread} + interval '10 minutes' END"
        cursor.execute(
            # Constant SQL fragments of this script; the one value is a parameter.
            f"UPDATE orders_order SET created_at = {spread}, updated_at = {spread}, "  # noqa: S608 # nosec
            f"paid_at = {paid} WHERE number LIKE %s",
            ["B-%"],
        )
        cursor.execute(f"UPDATE cart_cart SET created_at = {spread} WHERE user_id IS NULL", [])  # noqa: S608 # nosec
        cursor.execute("VACUUM ANALYZE")
    print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)


def timed(function, runs: int) -> tuple[list[float], int]:
    times, queries = [], 0
    for _ in range(runs):
        cache.clear()
        reset_queries()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            function()
            times.append((time.perf_counter() - started) * 1000)
        queries = len(captured.captured_queries)
    return times, queries


def main() -> int:
    manage("migrate", "--noinput", "-v0")
    if ARGS.reseed or not Order.objects.filter(number__startswith="B-").exists():
        seed(ARGS.orders)
    total_orders = Order.objects.count()
    merchant, _ = User.objects.get_or_create(
        email="bench-merchant@example.com", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(merchant)

    def dashboard():
        response = client.get("/admin/")
        assert response.status_code == 200, response.status_code

    def dashboard_90():
        response = client.get("/admin/?days=90")
        assert response.status_code == 200, response.status_code

    day = today()
    now = timezone.now()
    parts = {
        "the dashboard, GET /admin/": dashboard,
        "the dashboard, GET /admin/?days=90": dashboard_90,
        "figures by day, 60 days (sales_overview)": lambda: selectors.sales_overview(today=day),
        "to-do counts": lambda: selectors.to_do_counts(
            transfers_due_before=now + TRANSFER_DUE_SOON
        ),
        "top sellers, 30 days": lambda: selectors.top_sellers(Period.ending(day, days=30)),
        "top sellers, 365 days": lambda: selectors.top_sellers(Period.ending(day, days=365)),
    }
    dashboard()  # one warm-up for Python's imports and templates; the database stays cold-ish
    rows = []
    for label, function in parts.items():
        times, queries = timed(function, ARGS.runs)
        rows.append((label, statistics.median(times), max(times), min(times), queries))
        print(
            f"{label}: median {statistics.median(times):.0f} ms, "
            f"max {max(times):.0f} ms, {queries} queries",
            flush=True,
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0].split(",")[0]
    load = os.getloadavg()
    lines = [
        "# Dashboard over 100,000 orders",
        "",
        f"`python bench/dashboard.py --orders {ARGS.orders}` on {platform.node()} "
        f"({os.cpu_count()} cores, {version}), {timezone.now():%Y-%m-%d %H:%M} UTC; "
        f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (the machine is shared).",
        "",
        f"{total_orders:,} orders, {OrderLine.objects.count():,} lines, "
        f"{Cart.objects.count():,} carts, {Payment.objects.count():,} payments. Each figure is "
        f"{ARGS.runs} runs, the cache emptied before each (the dashboard caches nothing): "
        "the whole request through Django's test client (session, admin, template) and each "
        "selector alone.",
        "",
        "| what | median ms | max ms | min ms | queries |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {label} | {med:.0f} | {mx:.0f} | {mn:.0f} | {q} |" for label, med, mx, mn, q in rows
    ]
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "dashboard.md"
    existing = path.read_text() if path.exists() else ""
    notes = existing.split("\n## Notes", 1)[1] if "\n## Notes" in existing else ""
    path.write_text("\n".join(lines) + "\n" + ("\n## Notes" + notes if notes else ""))
    print(f"-> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
