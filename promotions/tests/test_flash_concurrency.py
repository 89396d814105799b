"""Flash sale races on PostgreSQL: threads with their own connections around a barrier,
through the real place_order, with the Redis gate and with the database alone.

Controls (tried once on the database path, Redis off): without the conditional UPDATE's
`taken + n <= cap` (and the unlocked sold-out read), only the table's check constraint
`flash_not_over_cap` stopped the crowd, as IntegrityErrors (error pages) instead of "sold
out"; without the count of the customer's claims under the sale's row lock, one guest placed
10 orders against a limit of 2. With them: exactly 10, and exactly 2, every other shopper
told "sold out" or "limit reached". (Flash sales now sell to signed-in shoppers only: the
crowds below are accounts.)

Buy now: SHOPPERS signed-in shoppers press it at once over the real view; exactly `cap` are
held (the rest answered 409 without a write), then every one of them tries to place the
order: exactly `cap` orders. Control (tried once): with the TAKE script's cap check removed,
all 40 were sent to checkout and claim() still stopped the orders at 10, as "sold out" at
place instead of at once.
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from catalog.tests.factories import VariantFactory
from orders import services
from orders.errors import FlashUnavailable
from orders.models import Order
from orders.tests.factories import ADDRESS, ShippingMethodFactory, cart_with
from orders.tests.test_views import NEW_ADDRESS
from promotions import flash
from promotions.models import FlashClaim, FlashSale
from shop.tests.concurrency import race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres_only"),
]

SHOPPERS = 40
DATABASE_ONLY = override_settings(FLASH_REDIS_URL="")


def _sale(*, cap, per_customer):
    variant = VariantFactory(price=Decimal("100.00"), stock=1000)
    now = timezone.now()
    return FlashSale.objects.create(
        name="Rush",
        variant=variant,
        price=Decimal("9.90"),
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=1),
        cap=cap,
        per_customer=per_customer,
    )


def _crowd(*, cap, per_customer):
    """SHOPPERS signed-in shoppers with a cart of one unit each, quoted at the flash price,
    ready to be placed (the line came before the sale: placing needs no Buy now)."""
    sale = _sale(cap=cap, per_customer=per_customer)
    method = ShippingMethodFactory()
    carts = []
    for _index in range(SHOPPERS):
        user = UserFactory()
        cart = cart_with((sale.variant, 1), user=user)
        quote = services.quote_checkout(
            cart=cart, user=user, email=user.email, country="GB", shipping_method=method
        )
        assert quote.price.lines[0].unit_price == Decimal("9.90")
        carts.append((cart, user, quote.fingerprint))

    def work(index):
        cart, user, fingerprint = carts[index]
        return services.place_order(
            cart=cart,
            user=user,
            email=user.email,
            address=ADDRESS,
            shipping_method_id=method.pk,
            payment_method="manual",
            idempotency_key=f"key-{index}",
            fingerprint=fingerprint,
        )

    return sale, work


def _assert_exactly(sale, *, orders, results, errors):
    assert len(results) == orders, [str(e) for e in errors if not isinstance(e, FlashUnavailable)]
    assert all(isinstance(error, FlashUnavailable) for error in errors)
    assert len(errors) == SHOPPERS - orders
    assert Order.objects.count() == orders
    sale.refresh_from_db()
    assert sale.taken == orders
    assert FlashClaim.objects.filter(released_at__isnull=True).count() == orders
    assert all(order.lines.get().unit_price == Decimal("9.90") for order in results)


def test_a_crowd_never_takes_more_than_the_cap_through_redis():
    sale, work = _crowd(cap=10, per_customer=1)
    results, errors = race(SHOPPERS, work)
    _assert_exactly(sale, orders=10, results=results, errors=errors)
    assert {"Sold out" in error.message for error in errors} == {True}


@DATABASE_ONLY
def test_a_crowd_never_takes_more_than_the_cap_through_the_database():
    sale, work = _crowd(cap=10, per_customer=1)
    results, errors = race(SHOPPERS, work)
    _assert_exactly(sale, orders=10, results=results, errors=errors)


def _signed_in_clients(count):
    clients = []
    for _index in range(count):
        client = Client()
        client.force_login(UserFactory())
        clients.append(client)
    return clients


def test_a_crowd_pressing_buy_now_holds_exactly_the_cap_and_places_exactly_the_cap():
    if flash._redis() is None:
        pytest.skip("needs Redis (REDIS_URL)")
    sale = _sale(cap=10, per_customer=1)
    method = ShippingMethodFactory()
    clients = _signed_in_clients(SHOPPERS)
    url = reverse("cart:flash-buy", kwargs={"sale_id": sale.pk})
    answers, errors = race(SHOPPERS, lambda i: (i, clients[i].post(url, {"quantity": 1})))
    assert errors == []
    statuses = sorted(response.status_code for _i, response in answers)
    assert statuses == [302] * 10 + [409] * 30
    assert FlashSale.objects.get().taken == 0  # held in Redis, nothing claimed yet
    assert flash.remaining_of([flash.sale_of(sale)])[sale.pk] == 0
    # Everyone now tries to place an order of the flash line: only the holders can.
    winners = [i for i, response in answers if response.status_code == 302]

    def place(index):
        client = clients[index]
        details = {"shipping_method": method.pk, "payment_method": "manual", **NEW_ADDRESS}
        assert client.post(reverse("orders:checkout"), details).status_code == 302
        html = client.get(reverse("orders:review")).content.decode()
        fields = {
            name: re.search(rf'name="{name}" value="([^"]+)"', html).group(1)
            for name in ("idempotency_key", "fingerprint")
        }
        return client.post(reverse("orders:place"), fields)

    placed, errors = race(len(winners), lambda i: place(winners[i]))
    assert errors == [] and len(placed) == 10
    assert Order.objects.count() == 10
    sale.refresh_from_db()
    assert sale.taken == 10
    assert FlashClaim.objects.filter(released_at__isnull=True).count() == 10


def test_one_shopper_pressing_buy_now_in_many_tabs_holds_one_unit():
    if flash._redis() is None:
        pytest.skip("needs Redis (REDIS_URL)")
    sale = _sale(cap=10, per_customer=2)
    user = UserFactory()
    clients = []
    for _index in range(SHOPPERS):
        client = Client()
        client.force_login(user)
        clients.append(client)
    url = reverse("cart:flash-buy", kwargs={"sale_id": sale.pk})
    _answers, errors = race(SHOPPERS, lambda i: clients[i].post(url, {"quantity": 1}))
    assert errors == []
    assert flash.remaining_of([flash.sale_of(sale)])[sale.pk] == 9
    assert flash._held_units(sale, customer=f"u:{user.pk}", now=timezone.now()) == 1
