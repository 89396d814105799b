"""Demo sales for `manage.py seed_demo`: orders placed and paid through the same services as
a shopper's, so that stock, sold counts, the dashboard and the recommendations agree.

Here, not in orders: a paid order needs a payment (record_manual_payment).
"""

import random
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.test.utils import override_settings
from django.utils import timezone

from cart import services as cart_services
from catalog.models import Product, Variant
from orders import services as order_services
from orders.errors import OrderError
from orders.models import FulfilmentStatus, Order, Shipment, ShippingMethod
from payments.services import record_manual_payment

ADDRESS = order_services.ShippingAddress(
    full_name="Demo Shopper", line1="1 Market Street", city="London", country="GB"
)
#: A yuan shop's demo shoppers live in China.
CHINA_ADDRESS = order_services.ShippingAddress(
    full_name="韩梅梅",
    phone="+8613800138000",
    line1="南京西路 1266 号",
    city="上海",
    region="上海市",
    postcode="200040",
    country="CN",
)
#: Products a demo basket is built around, each with a few it is often bought with.
ANCHORS = 16
COMPANIONS = 4


def create_demo_orders(*, count: int = 150, seed: int = 2026) -> int:
    """`count` paid demo orders spread over the last 30 days, if the shop has sold nothing
    yet; returns how many were placed. Baskets hold one of ANCHORS products with one to
    three of its companions (the first ones most often), so that product pages have
    products bought together to show. No mail is sent."""
    if Order.objects.sold().exists():
        return 0
    method = ShippingMethod.objects.active().order_by("position", "pk").first()
    groups = _basket_groups()
    if method is None or not groups:
        return 0
    rng = random.Random(seed)  # noqa: S311 (demo baskets, not secrets)
    now = timezone.now()
    placed = 0
    # Demo shoppers are not real: their confirmation mails go nowhere.
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
        for number in range(count):
            anchor, companions = groups[number % len(groups)]
            chosen = [anchor, *companions[: rng.choice((1, 1, 2, 3))]]
            if rng.random() < 0.3:
                chosen[-1] = rng.choice(companions)
            order = _place(variants=chosen, number=number, method=method)
            if order is None:
                continue
            record_manual_payment(order=order, actor=None, note="Demo")
            paid_at = now - timedelta(days=number % 30, minutes=number)
            Order.objects.filter(pk=order.pk).update(created_at=paid_at, paid_at=paid_at)
            placed += 1
    return placed


def _basket_groups() -> list[tuple[Variant, list[Variant]]]:
    """ANCHORS products sold in one variant, each with COMPANIONS others of its category."""
    sole = (
        Product.objects.published()
        .filter(stock__gte=25)  # about ten baskets each
        .annotate(n=Count("variants", filter=Q(variants__is_active=True)))
        .filter(n=1)
        .order_by("category_id", "pk")
        .values_list("pk", "category_id")[:2000]
    )
    by_category: dict[int, list[int]] = {}
    for product_id, category_id in sole:
        by_category.setdefault(category_id, []).append(product_id)
    families = [ids[: COMPANIONS + 1] for ids in by_category.values() if len(ids) > COMPANIONS]
    families = families[:ANCHORS]
    variants = {
        v.product_id: v
        for v in Variant.objects.active().filter(
            product_id__in=[pk for family in families for pk in family]
        )
    }
    return [(variants[family[0]], [variants[pk] for pk in family[1:]]) for family in families]


def _place(*, variants: list[Variant], number: int, method: ShippingMethod) -> Order | None:
    address = CHINA_ADDRESS if settings.SHOP_CURRENCY == "CNY" else ADDRESS
    cart = cart_services.new_guest_cart()
    for variant in dict.fromkeys(variants):
        cart_services.add_line(cart=cart, variant=variant, quantity=1)
    email = f"shopper{number % 60}@example.com"
    try:
        quote = order_services.quote_checkout(
            cart=cart,
            user=None,
            email=email,
            country=address.country,
            region=address.region,
            shipping_method=method,
        )
        return order_services.place_order(
            cart=cart,
            user=None,
            email=email,
            address=address,
            shipping_method_id=method.pk,
            payment_method="manual",
            idempotency_key=order_services.new_idempotency_key(),
            fingerprint=quote.fingerprint,
        )
    except OrderError:  # sold out meanwhile, or no shipping to the demo address
        return None


def ship_demo_parcels() -> list[Order]:
    """Two demo orders handed to the demo carrier, one an hour ago (delivered, waiting for
    the shopper's confirmation) and one two minutes ago (on its way), their scans polled
    once, so that the order page shows a timeline right after seed_demo (`make run` has no
    Celery beat). Returns those orders; none when the shop has shipped before."""
    if Shipment.objects.exists():
        return []
    orders = list(
        Order.objects.sold()
        .filter(fulfilment_status=FulfilmentStatus.UNFULFILLED)
        .order_by("-pk")[:2]
    )
    now = timezone.now()
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
        for order, minutes in zip(orders, (60, 2), strict=False):
            shipment = order_services.ship_lines(
                order=order, carrier="demo", tracking_number=f"DEMO{order.pk:08d}", notify=False
            )
            Shipment.objects.filter(pk=shipment.pk).update(
                shipped_at=now - timedelta(minutes=minutes)
            )
        order_services.poll_tracking(now=now)
    return orders
