"""Flash sale races on PostgreSQL: threads with their own connections around a barrier,
through the real place_order, with the Redis gate and with the database alone.

Controls (tried once on the database path, Redis off): without the conditional UPDATE's
`taken + n <= cap` (and the unlocked sold-out read), only the table's check constraint
`flash_not_over_cap` stopped the crowd, as IntegrityErrors (error pages) instead of "sold
out"; without the count of the customer's claims under the sale's row lock, one guest placed
10 orders against a limit of 2. With them: exactly 10, and exactly 2, every other shopper
told "sold out" or "limit reached".
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from catalog.tests.factories import VariantFactory
from orders import services
from orders.errors import FlashUnavailable
from orders.models import Order
from orders.tests.factories import ADDRESS, ShippingMethodFactory, cart_with
from promotions.models import FlashClaim, FlashSale
from shop.tests.concurrency import race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres_only"),
]

SHOPPERS = 40
DATABASE_ONLY = override_settings(FLASH_REDIS_URL="")


def _crowd(*, cap, per_customer, email):
    """SHOPPERS carts of one unit each, quoted at the flash price, ready to be placed."""
    variant = VariantFactory(price=Decimal("100.00"), stock=1000)
    now = timezone.now()
    sale = FlashSale.objects.create(
        name="Rush",
        variant=variant,
        price=Decimal("9.90"),
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=1),
        cap=cap,
        per_customer=per_customer,
    )
    method = ShippingMethodFactory()
    carts = []
    for index in range(SHOPPERS):
        cart = cart_with((variant, 1))
        quote = services.quote_checkout(
            cart=cart, user=None, email=email(index), country="GB", shipping_method=method
        )
        assert quote.price.lines[0].unit_price == Decimal("9.90")
        carts.append((cart, quote.fingerprint))

    def work(index):
        cart, fingerprint = carts[index]
        return services.place_order(
            cart=cart,
            user=None,
            email=email(index),
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
    sale, work = _crowd(cap=10, per_customer=1, email=lambda i: f"shopper{i}@example.com")
    results, errors = race(SHOPPERS, work)
    _assert_exactly(sale, orders=10, results=results, errors=errors)
    assert {"Sold out" in error.message for error in errors} == {True}


@DATABASE_ONLY
def test_a_crowd_never_takes_more_than_the_cap_through_the_database():
    sale, work = _crowd(cap=10, per_customer=1, email=lambda i: f"shopper{i}@example.com")
    results, errors = race(SHOPPERS, work)
    _assert_exactly(sale, orders=10, results=results, errors=errors)


def test_one_guest_racing_from_many_carts_gets_the_limit_through_redis():
    sale, work = _crowd(cap=10, per_customer=2, email=lambda i: "same@example.com")
    results, errors = race(SHOPPERS, work)
    _assert_exactly(sale, orders=2, results=results, errors=errors)


@DATABASE_ONLY
def test_one_guest_racing_from_many_carts_gets_the_limit_through_the_database():
    sale, work = _crowd(cap=10, per_customer=2, email=lambda i: "same@example.com")
    results, errors = race(SHOPPERS, work)
    _assert_exactly(sale, orders=2, results=results, errors=errors)
