"""A fixed shop whose every dashboard figure is known: paid, partly refunded, fully
refunded, cancelled, partly paid and unpaid orders, orders paid either side of local
midnight, a refund due, returns, reviews and low stock, in Shanghai time (UTC+8)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.tests.factories import UserFactory
from cart.tests.factories import CartFactory
from catalog.tests.factories import CategoryFactory, ProductFactory, VariantFactory
from insights.periods import midnight, today
from orders import services as order_services
from orders.models import Order, ReturnRequest, ReturnStatus
from orders.tests.factories import ShippingMethodFactory, cart_with, place
from payments import services as payment_services
from payments.models import Payment
from reviews.models import ReviewStatus
from reviews.tests.factories import ReviewFactory

ZONE = "Asia/Shanghai"


@dataclass
class Shop:
    merchant: object
    today: object
    orders: dict[str, Order]


def _order(name, *lines, email, method, payment="manual"):
    order = place(cart_with(*lines), email=email, method=method, payment=payment)
    order.refresh_from_db()
    return order


def _pay(order, *, merchant, at: datetime) -> None:
    payment_services.record_manual_payment(order=order, actor=merchant)
    Order.objects.filter(pk=order.pk).update(paid_at=at)
    order.refresh_from_db()


def build_shop() -> Shop:
    """Call with settings.TIME_ZONE = ZONE. Totals: a shirt 40.00, a scarf 25.00, shipping
    5.00, no tax (a US seller shipping to the UK)."""
    now = timezone.now()
    day = today(now)
    start = midnight(day)
    merchant = UserFactory(email="mia@example.com", is_staff=True, is_superuser=True)
    shirts = CategoryFactory(name="Shirts")
    scarves = CategoryFactory(name="Scarves")
    shirt = VariantFactory(
        product=ProductFactory(name="Linen Shirt", category=shirts, variants=False),
        price=Decimal("40.00"),
        stock=100,
    )
    scarf = VariantFactory(
        product=ProductFactory(name="Wool Scarf", category=scarves, variants=False),
        price=Decimal("25.00"),
        stock=100,
    )
    method = ShippingMethodFactory(price=Decimal("5.00"))
    o = {}
    # Paid today at 10:00, then one shirt of two refunded (sent): 85.00 - 40.00.
    o["a"] = _order("a", (shirt, 2), email="ann@example.com", method=method)
    _pay(o["a"], merchant=merchant, at=start + timedelta(hours=10))
    line = o["a"].lines.get()
    plan = order_services.plan_refund(order=o["a"], quantities={line.pk: 1})
    payment_services.refund_order(plan=plan, actor=merchant, confirmed=True)
    # Paid one second before local midnight (yesterday), and at midnight (today).
    o["b"] = _order("b", (scarf, 1), email="bob@example.com", method=method)
    _pay(o["b"], merchant=merchant, at=start - timedelta(seconds=1))
    o["c"] = _order("c", (scarf, 1), email="BOB@example.com", method=method)
    _pay(o["c"], merchant=merchant, at=start)
    # Paid today, then refunded in full: never counts.
    o["d"] = _order("d", (shirt, 1), email="eve@example.com", method=method)
    _pay(o["d"], merchant=merchant, at=start + timedelta(hours=11))
    line = o["d"].lines.get()
    plan = order_services.plan_refund(
        order=o["d"], quantities={line.pk: 1}, shipping=Decimal("5.00")
    )
    payment_services.refund_order(plan=plan, actor=merchant, confirmed=True)
    # Paid today, then cancelled with its money due back: never counts; a refund due.
    o["e"] = _order("e", (shirt, 1), email="eve@example.com", method=method)
    _pay(o["e"], merchant=merchant, at=start + timedelta(hours=12))
    payment_services.cancel_order(order=o["e"], actor=merchant, by_shopper=False)
    # Partly paid by transfer, deadline tomorrow: never counts; a transfer due soon.
    o["f"] = _order("f", (scarf, 1), email="fay@example.com", method=method)
    Order.objects.filter(pk=o["f"].pk).update(
        total_paid=Decimal("10.00"),
        payment_status=Order.PaymentStatus.PARTIALLY_PAID,
        payment_deadline=now + timedelta(days=1),
    )
    # Paid three days ago; its shipping refund is due, not sent: 45.00 - 5.00.
    o["g"] = _order("g", (shirt, 1), email="cy@example.com", method=method)
    _pay(o["g"], merchant=merchant, at=start - timedelta(days=3) + timedelta(hours=9))
    plan = order_services.plan_refund(order=o["g"], quantities={}, shipping=Decimal("5.00"))
    payment_services.refund_order(plan=plan, actor=merchant, confirmed=False)
    # Unpaid transfers: deadline in 7 days (not soon) and one already past (soon).
    o["h"] = _order("h", (scarf, 1), email="hal@example.com", method=method)
    o["k"] = _order("k", (scarf, 1), email="kim@example.com", method=method)
    Order.objects.filter(pk=o["k"].pk).update(payment_deadline=now - timedelta(minutes=5))
    # Unpaid on the sandbox, deadline soon: not a bank transfer.
    o["s"] = _order("s", (scarf, 1), email="sam@example.com", method=method, payment="sandbox")
    # Paid 10 days ago (two scarves, 55.00) and 40 days ago (45.00, shipped).
    o["i"] = _order("i", (scarf, 2), email="dee@example.com", method=method)
    _pay(o["i"], merchant=merchant, at=start - timedelta(days=10) + timedelta(hours=15))
    o["j"] = _order("j", (shirt, 1), email="jay@example.com", method=method)
    _pay(o["j"], merchant=merchant, at=start - timedelta(days=40) + timedelta(hours=8))
    line = o["j"].lines.get()
    order_services.ship_lines(
        order=o["j"], quantities={line.pk: 1}, carrier="dhl", tracking_number="1", actor=merchant
    )
    # A cart abandoned yesterday, one today.
    CartFactory()
    abandoned = CartFactory()
    type(abandoned).objects.filter(pk=abandoned.pk).update(created_at=start - timedelta(hours=2))
    # Returns: requested and received wait on the merchant; approved waits on the shopper.
    for status in (ReturnStatus.REQUESTED, ReturnStatus.APPROVED, ReturnStatus.RECEIVED):
        ReturnRequest.objects.create(order=o["j"], status=status, reason="other")
    # One payment flagged for review (a callback disagreed with it).
    Payment.objects.filter(order=o["b"]).update(flagged=True, flag_reason="amount differs")
    # Reviews: two pending, one approved.
    for status in (ReviewStatus.PENDING, ReviewStatus.PENDING, ReviewStatus.APPROVED):
        ReviewFactory(product=shirt.product, status=status)
    # Low stock: one active variant with 3 units; an inactive one with none does not count.
    VariantFactory(product=shirt.product, stock=3)
    VariantFactory(product=scarf.product, stock=0, is_active=False)
    for order in o.values():
        order.refresh_from_db()
    return Shop(merchant=merchant, today=day, orders=o)
