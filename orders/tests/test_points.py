"""Points on orders: paid with at checkout, given back on cancellation and refunds, earned on
completion and taken back in proportion to a refund, expired oldest first."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from cart.models import Cart
from catalog.tests.factories import VariantFactory
from orders import services
from orders.errors import PriceChanged
from orders.models import OrderDiscount, OrderLine
from orders.tests.factories import ShippingMethodFactory, cart_with, place
from promotions import ledger
from promotions.errors import PointsRejected
from promotions.models import PointsEntry
from promotions.selectors import points_balance
from promotions.tests.factories import MembershipTierFactory

pytestmark = pytest.mark.django_db

Reason = PointsEntry.Reason


@pytest.fixture(autouse=True)
def _points_settings(settings):
    settings.POINTS_PER_UNIT = Decimal("1")
    settings.POINTS_VALUE = Decimal("0.01")
    settings.POINTS_MAX_SHARE = Decimal("50")
    settings.POINTS_VALID_DAYS = 365
    settings.POINTS_FIRST_ORDER_BONUS = 0


def holding(points, **kwargs):
    user = UserFactory(**kwargs)
    if points:
        ledger.adjust_points(user=user, amount=points, note="welcome")
    return user


def order_with_points(user, points, *, price=Decimal("40.00"), quantity=1):
    variant = VariantFactory(price=price, stock=10)
    method = ShippingMethodFactory(price=Decimal("5.00"))
    return place(
        cart_with((variant, quantity), user=user),
        user=user,
        email=user.email,
        method=method,
        points=points,
    )


def pay(order):
    services.record_payment(order=order, amount=order.total)
    order.refresh_from_db()
    return order


def complete(order):
    services.ship_lines(order=order, carrier="dhl", tracking_number="1")
    services.mark_delivered(order=order)
    order.refresh_from_db()
    assert order.status == "completed"
    return order


def refund(order, quantities):
    plan = services.plan_refund(order=order, quantities=quantities)
    with transaction.atomic():
        services.refund_lines(plan=plan)
    services.record_refund(order=order, amount=plan.amount)
    order.refresh_from_db()
    return plan.amount


def test_paying_with_points_is_an_entry_and_its_own_line_in_the_order():
    user = holding(1000)
    order = order_with_points(user, 1000)  # 40.00 of items: at most half, 20.00
    assert order.total == Decimal("35.00")  # 40 - 10 (1000 points) + 5 shipping
    assert points_balance(user=user) == 0
    entry = PointsEntry.objects.get(order_number=order.number, reason=Reason.REDEEMED)
    assert entry.amount == -1000
    shown = OrderDiscount.objects.get(order=order, kind="points")
    assert shown.amount == Decimal("10.00") and "1000" in shown.name


def test_an_order_takes_no_more_points_than_its_cap():
    user = holding(5000)
    order = order_with_points(user, 5000)
    assert order.total == Decimal("25.00")  # 20.00 of points, half the items
    assert points_balance(user=user) == 3000


def test_points_not_held_cannot_be_spent_even_when_asked_for():
    user = holding(100)
    order = order_with_points(user, 900)
    assert points_balance(user=user) == 0
    assert order.total == Decimal("44.00")


def test_points_spent_elsewhere_after_the_review_change_the_price():
    user = holding(1000)
    variant = VariantFactory(price=Decimal("40.00"), stock=10)
    method = ShippingMethodFactory()
    cart = cart_with((variant, 1), user=user)
    quote = services.quote_checkout(
        cart=cart, user=user, email=user.email, country="GB", shipping_method=method, points=1000
    )
    ledger.adjust_points(user=user, amount=-600, note="spent in the shop")
    with pytest.raises(PriceChanged):
        services.place_order(
            cart=cart,
            user=user,
            email=user.email,
            address=services.ShippingAddress(
                full_name="A", line1="1 Road", city="London", country="GB", postcode="SW1A 1AA"
            ),
            shipping_method_id=method.pk,
            payment_method="manual",
            idempotency_key="k",
            fingerprint=quote.fingerprint,
            points=1000,
        )
    assert not PointsEntry.objects.filter(reason=Reason.REDEEMED).exists()
    assert points_balance(user=user) == 400


def test_cancelling_gives_back_every_point_spent_once():
    user = holding(1000)
    order = order_with_points(user, 800)
    services.cancel_order(order=order)
    assert points_balance(user=user) == 1000
    services.refresh_statuses(order)  # settling again changes nothing
    assert points_balance(user=user) == 1000


def test_a_partial_refund_gives_back_the_same_share_of_the_points():
    user = holding(2000)
    order = pay(order_with_points(user, 2000, price=Decimal("10.00"), quantity=4))
    # 40.00 of items, 20.00 of it in points: 20 + 5 shipping paid in money.
    line = OrderLine.objects.get(order=order)
    first = refund(order, {line.pk: 1})  # a quarter of the items
    assert points_balance(user=user) == 2000 * first // order.total_paid
    refund(order, {line.pk: 3})
    assert points_balance(user=user) == 2000 * (order.total_paid - Decimal("5.00")) // (
        order.total_paid
    )


def test_a_full_refund_gives_back_every_point():
    user = holding(2000)
    order = pay(order_with_points(user, 2000, price=Decimal("10.00"), quantity=4))
    line = OrderLine.objects.get(order=order)
    plan = services.plan_refund(order=order, quantities={line.pk: 4}, shipping=order.shipping)
    with transaction.atomic():
        services.refund_lines(plan=plan)
    services.record_refund(order=order, amount=plan.amount)
    assert points_balance(user=user) == 2000


def test_a_completed_order_earns_points_on_what_was_paid_once():
    user = holding(0)
    order = complete(pay(order_with_points(user, 0, price=Decimal("40.00"))))
    earned = PointsEntry.objects.get(order_number=order.number, reason=Reason.EARNED)
    assert earned.amount == int(order.total_paid)  # 45: 1 point per unit paid
    assert earned.expires_at.date() == (timezone.now() + timedelta(days=365)).date()
    services.refresh_statuses(order)
    assert points_balance(user=user) == earned.amount


def test_members_earn_at_their_tiers_multiple_and_first_orders_earn_a_bonus(settings):
    settings.POINTS_FIRST_ORDER_BONUS = 100
    MembershipTierFactory(min_spend=Decimal("0.00"), percent=0, points_multiplier=2)
    user = holding(0)
    first = complete(pay(order_with_points(user, 0)))
    earned = PointsEntry.objects.get(order_number=first.number, reason=Reason.EARNED).amount
    assert earned == 2 * int(first.total_paid)
    Cart.objects.filter(user=user).delete()  # a shopper has one cart: start it again
    complete(pay(order_with_points(user, 0)))
    assert PointsEntry.objects.filter(user=user, reason=Reason.FIRST_ORDER).count() == 1


def test_a_refund_after_completion_takes_back_the_same_share_of_what_was_earned():
    user = holding(0)
    order = complete(pay(order_with_points(user, 0, price=Decimal("10.00"), quantity=4)))
    assert points_balance(user=user) == 45
    line = OrderLine.objects.get(order=order)
    refund(order, {line.pk: 2})  # 20.00 of 45.00 back: keep 25/45 of 45
    assert points_balance(user=user) == 25


def test_taking_back_never_takes_the_balance_below_zero():
    user = holding(0)
    order = complete(pay(order_with_points(user, 0, price=Decimal("10.00"), quantity=4)))
    ledger.adjust_points(user=user, amount=-40, note="spent")
    line = OrderLine.objects.get(order=order)
    refund(order, {line.pk: 4})
    assert points_balance(user=user) == 0


def test_expire_points_writes_off_the_oldest_points_once(settings):
    user = holding(0)
    now = timezone.now()
    old = ledger.adjust_points(user=user, amount=300, note="old", now=now - timedelta(days=400))
    ledger.adjust_points(user=user, amount=200, note="new", now=now - timedelta(days=10))
    ledger.adjust_points(user=user, amount=-100, note="spent", now=now - timedelta(days=5))
    assert old.expires_at < now
    call_command("expire_points")
    call_command("expire_points")
    expired = PointsEntry.objects.filter(user=user, reason=Reason.EXPIRED)
    # The 100 spent came out of the oldest points: 200 of them were left to expire.
    assert [entry.amount for entry in expired] == [-200]
    assert points_balance(user=user) == 200


def test_an_adjustment_needs_a_reason_and_never_takes_the_balance_below_zero():
    user = holding(50)
    with pytest.raises(PointsRejected):
        ledger.adjust_points(user=user, amount=-51, note="too many")
    with pytest.raises(PointsRejected):
        ledger.adjust_points(user=user, amount=10, note="  ")
    with pytest.raises(PointsRejected):
        ledger.adjust_points(user=user, amount=0, note="nothing")
    assert points_balance(user=user) == 50


def test_paying_with_points_costs_place_order_a_few_queries_whatever_the_lines(
    django_assert_max_num_queries,
):
    """The lock, the balance, the entry and the order's "points" line: 4 more queries."""
    counts = []
    for points in (0, 500):
        user = holding(1000)
        variants = [VariantFactory(price=Decimal("10.00"), stock=10) for _ in range(5)]
        cart = cart_with(*[(variant, 1) for variant in variants], user=user)
        method = ShippingMethodFactory()
        quote = services.quote_checkout(
            cart=cart,
            user=user,
            email=user.email,
            country="GB",
            shipping_method=method,
            points=points,
        )

        with CaptureQueriesContext(connection) as queries:
            services.place_order(
                cart=cart,
                user=user,
                email=user.email,
                address=services.ShippingAddress(
                    full_name="A", line1="1 Road", city="London", country="GB"
                ),
                shipping_method_id=method.pk,
                payment_method="manual",
                idempotency_key=f"k{points}",
                fingerprint=quote.fingerprint,
                points=points,
            )
            counts.append([q["sql"] for q in queries.captured_queries])
    import difflib

    print("\n".join(difflib.unified_diff(counts[0], counts[1], lineterm="")))
    assert len(counts[1]) - len(counts[0]) <= 4
