"""Races on PostgreSQL: threads with their own connections around a barrier.

Controls: without the row locks (select_for_update in catalog.locks, promotions.locks) and
the conditional UPDATE these tests fail; with them, exactly the stock (or the coupon's
uses) is sold, never more.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.models import Variant
from catalog.tests.factories import VariantFactory
from orders import services
from orders.errors import CheckoutChanged, OrderError
from orders.models import Order, OrderEvent
from orders.tests.factories import ADDRESS, ShippingMethodFactory, cart_with
from promotions.models import Coupon
from promotions.tests.factories import CouponFactory
from shop.tests.concurrency import race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres_only"),
]

SHOPPERS = 50


def _quoted_carts(variant, *, coupon=""):
    method = ShippingMethodFactory()
    carts = []
    for _i in range(SHOPPERS):
        cart = cart_with((variant, 1))
        cart.coupon_code = coupon
        cart.save()
        quote = services.quote_checkout(
            cart=cart, user=None, email="a@example.com", country="GB", shipping_method=method
        )
        carts.append((cart, quote.fingerprint))
    return method, carts


def _buy(method, carts):
    def work(index):
        cart, fingerprint = carts[index]
        return services.place_order(
            cart=cart,
            user=None,
            email=f"shopper{index}@example.com",
            address=ADDRESS,
            shipping_method_id=method.pk,
            payment_method="manual",
            idempotency_key=services.new_idempotency_key(),
            fingerprint=fingerprint,
        )

    return work


def test_fifty_shoppers_ten_in_stock_sell_exactly_ten():
    variant = VariantFactory(stock=10, price=Decimal("10.00"))
    method, carts = _quoted_carts(variant)
    results, errors = race(SHOPPERS, _buy(method, carts))
    assert len(results) == 10
    assert all(isinstance(error, CheckoutChanged) for error in errors), errors[:3]
    assert Order.objects.count() == 10
    assert Variant.objects.get(pk=variant.pk).stock == 0


def test_fifty_shoppers_coupon_with_five_uses_left_redeem_it_five_times():
    coupon = CouponFactory(code="FIVE", max_uses=7, value=Decimal("10.00"))
    Coupon.objects.filter(pk=coupon.pk).update(used_count=2)
    variant = VariantFactory(stock=100, price=Decimal("10.00"))
    method, carts = _quoted_carts(variant, coupon="FIVE")
    results, errors = race(SHOPPERS, _buy(method, carts))
    assert len(results) == 5
    assert all(isinstance(error, OrderError) for error in errors), errors[:3]
    assert Coupon.objects.get(pk=coupon.pk).used_count == 7
    assert Order.objects.filter(coupon_code="FIVE").count() == 5
    assert Variant.objects.get(pk=variant.pk).stock == 95


def test_double_submit_at_the_same_moment_places_one_order():
    variant = VariantFactory(stock=10)
    method, carts = _quoted_carts(variant)
    cart, fingerprint = carts[0]

    def work(_index):
        return services.place_order(
            cart=cart,
            user=None,
            email="a@example.com",
            address=ADDRESS,
            shipping_method_id=method.pk,
            payment_method="manual",
            idempotency_key="same-key-from-one-form",
            fingerprint=fingerprint,
        )

    results, errors = race(5, work)
    assert not errors, errors
    assert len({order.pk for order in results}) == 1
    assert Variant.objects.get(pk=variant.pk).stock == 9


def test_two_expiry_runs_at_once_cancel_each_order_once():
    variant = VariantFactory(stock=30)
    method, carts = _quoted_carts(variant)
    for cart, fingerprint in carts[:20]:
        services.place_order(
            cart=cart,
            user=None,
            email="a@example.com",
            address=ADDRESS,
            shipping_method_id=method.pk,
            payment_method="manual",
            idempotency_key=services.new_idempotency_key(),
            fingerprint=fingerprint,
        )
    assert Variant.objects.get(pk=variant.pk).stock == 10
    Order.objects.update(payment_deadline=timezone.now() - timedelta(hours=2))
    results, errors = race(2, lambda _i: services.expire_unpaid_orders(batch=3))
    assert not errors, errors
    assert sum(results) == 20
    assert Order.objects.filter(status="cancelled").count() == 20
    assert OrderEvent.objects.filter(kind="order", to_status="cancelled").count() == 20
    assert Variant.objects.get(pk=variant.pk).stock == 30


def test_two_checkouts_spending_the_same_points_at_once_one_wins():
    """The customer's row lock (promotions.locks.customer_for_update): the second checkout
    counts the balance after the first's entry, so its price changed and it places nothing.
    Without the lock both read 1000 points and both orders spend them (balance -1000)."""
    from accounts.tests.factories import UserFactory
    from promotions import ledger
    from promotions.models import PointsEntry
    from promotions.selectors import points_balance

    user = UserFactory()
    ledger.adjust_points(user=user, amount=1000, note="welcome")
    method = ShippingMethodFactory()
    checkouts = []
    for _i in range(2):
        cart = cart_with((VariantFactory(price=Decimal("40.00"), stock=10), 1))
        quote = services.quote_checkout(
            cart=cart,
            user=user,
            email=user.email,
            country="GB",
            shipping_method=method,
            points=1000,
        )
        checkouts.append((cart, quote.fingerprint))

    def work(index):
        cart, fingerprint = checkouts[index]
        return services.place_order(
            cart=cart,
            user=user,
            email=user.email,
            address=ADDRESS,
            shipping_method_id=method.pk,
            payment_method="manual",
            idempotency_key=f"points-{index}",
            fingerprint=fingerprint,
            points=1000,
        )

    results, errors = race(2, work)
    assert len(results) == 1
    assert len(errors) == 1 and isinstance(errors[0], CheckoutChanged), errors
    assert points_balance(user=user) == 0
    assert PointsEntry.objects.filter(reason=PointsEntry.Reason.REDEEMED).count() == 1
