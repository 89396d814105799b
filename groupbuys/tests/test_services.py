import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from cart import selectors as cart_selectors
from cart import services as cart_services
from groupbuys import services
from groupbuys.errors import GroupBuyError
from groupbuys.models import GroupState, Membership, MemberState
from groupbuys.tests.factories import GroupOfferFactory, check_out, pay, shopper, variant_of
from orders import services as order_services
from orders.errors import OrderError
from orders.models import OrderEvent, OrderStatus, PaymentStatus
from payments.models import Refund
from promotions.tests.factories import OfferFactory

pytestmark = pytest.mark.django_db


def _started(offer=None, user=None):
    offer = offer or GroupOfferFactory()
    user = user or shopper()
    member = services.start_group(offer=offer, variant=variant_of(offer), user=user)
    return offer, member.group, user


def test_a_joined_line_costs_the_group_price_in_the_cart_and_the_order():
    _offer, group, user = _started()
    cart = cart_services.cart_of(user=user)
    lines = cart_selectors.lines_for_page(cart=cart)
    price = cart_selectors.price_lines(cart=cart, lines=lines, user=user)
    assert [line.unit_price for line in price.lines] == [Decimal("20.00")]
    order = check_out(user)
    assert order.lines.get().unit_price == Decimal("20.00")
    assert order.lines.get().group_id == group.pk
    assert order.on_hold
    assert OrderEvent.objects.filter(order=order, note__contains="group buy").exists()


def test_the_group_price_is_final_no_sale_takes_more_off_it():
    OfferFactory(name="Storewide", percent=Decimal("20.00"))
    _offer, _group, user = _started()
    cart = cart_services.cart_of(user=user)
    lines = cart_selectors.lines_for_page(cart=cart)
    price = cart_selectors.price_lines(cart=cart, lines=lines, user=user)
    assert [(line.total, line.discount) for line in price.lines] == [
        (Decimal("20.00"), Decimal("0.00"))
    ]


def test_joining_unticks_the_rest_of_the_cart_so_only_the_group_item_waits():
    offer = GroupOfferFactory()
    user = shopper()
    other = offer.product.variants.create(sku="OTHER-1", price=Decimal("9.00"), stock=5)
    cart = cart_services.cart_of(user=user)
    cart_services.add_line(cart=cart, variant=other, quantity=1)
    services.start_group(offer=offer, variant=variant_of(offer), user=user)
    ticked = cart.lines.filter(is_selected=True)
    assert [line.variant_id for line in ticked] == [variant_of(offer).pk]


def test_a_lapsed_seat_prices_the_line_at_the_usual_price_again():
    _offer, group, user = _started()
    Membership.objects.filter(group=group).update(reserved_until=timezone.now())
    cart = cart_services.cart_of(user=user)
    price = cart_selectors.price_lines(
        cart=cart, lines=cart_selectors.lines_for_page(cart=cart), user=user
    )
    assert [line.unit_price for line in price.lines] == [Decimal("30.00")]


def test_paid_group_orders_are_held_until_the_nth_pays_then_all_ship(
    django_capture_on_commit_callbacks,
):
    offer, group, leader = _started()
    first = check_out(leader)
    with django_capture_on_commit_callbacks(execute=True):
        pay(first)
    first.refresh_from_db()
    assert first.payment_status == PaymentStatus.PAID and first.on_hold
    assert not order_services.may_ship(first)
    with pytest.raises(OrderError, match="group buy"):
        order_services.ship_lines(order=first, carrier="sf", tracking_number="SF1")

    friend = shopper("Mei Li")
    services.join_group(group=group, variant=variant_of(offer), user=friend)
    second = check_out(friend)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        pay(second)
    group.refresh_from_db()
    assert group.state == GroupState.COMPLETE
    for order in (first, second):
        order.refresh_from_db()
        assert not order.on_hold and order_services.may_ship(order)
        assert OrderEvent.objects.filter(order=order, from_status="on_hold").count() == 1
    assert sorted(m.to[0] for m in mail.outbox if "complete" in m.subject) == sorted(
        [leader.email, friend.email]
    )


def test_a_payment_delivered_twice_counts_one_seat(django_capture_on_commit_callbacks):
    _offer, group, leader = _started(GroupOfferFactory(group_size=3))
    order = check_out(leader)
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
    services.count_member_paid(order_id=order.pk)
    assert group.memberships.filter(state=MemberState.PAID).count() == 1
    group.refresh_from_db()
    assert group.state == GroupState.OPEN


@pytest.mark.parametrize(
    "situation, message",
    [
        ("full", "full"),
        ("ended", "ended"),
        ("twice", "already"),
        ("other_variant", "option"),
        ("none", "option"),
    ],
)
def test_joining_is_refused_with_a_reason_and_changes_nothing(situation, message):
    offer, group, leader = _started()
    joiner = shopper("Ann")
    variant = variant_of(offer)
    if situation == "full":
        services.join_group(group=group, variant=variant, user=shopper("Bo"))
    elif situation == "ended":
        group.deadline = timezone.now()
        group.save()
    elif situation == "twice":
        joiner = leader
    elif situation == "other_variant":
        variant = GroupOfferFactory().product.variants.first()
    elif situation == "none":
        variant = None
    before = Membership.objects.count()
    with pytest.raises(GroupBuyError, match=message):
        services.join_group(group=group, variant=variant, user=joiner)
    assert Membership.objects.count() == before


def test_a_lapsed_unpaid_seat_goes_to_the_next_joiner():
    offer, group, leader = _started()
    Membership.objects.filter(user=leader).update(reserved_until=timezone.now())
    services.join_group(group=group, variant=variant_of(offer), user=shopper("Bo"))
    assert group.memberships.count() == 2


def test_starting_an_ended_offer_is_refused():
    offer = GroupOfferFactory(ends_at=timezone.now() - timedelta(minutes=1))
    offer.starts_at = offer.ends_at - timedelta(days=1)
    offer.save()
    with pytest.raises(GroupBuyError, match="ended"):
        services.start_group(offer=offer, variant=variant_of(offer), user=shopper())


def test_a_payment_whose_seat_was_taken_is_refunded_at_once(django_capture_on_commit_callbacks):
    offer, group, late = _started()
    late_order = check_out(late)
    Membership.objects.filter(user=late).update(reserved_until=timezone.now())
    early = shopper("Bo")
    services.join_group(group=group, variant=variant_of(offer), user=early)
    third = shopper("Cy")
    services.join_group(group=group, variant=variant_of(offer), user=third)
    with django_capture_on_commit_callbacks(execute=True):
        pay(late_order)
    late_order.refresh_from_db()
    assert late_order.status == OrderStatus.CANCELLED
    assert late_order.payment_status == PaymentStatus.REFUNDED
    assert Refund.objects.filter(payment__order=late_order).count() == 1
    # Counted again once seats are free (a repeated task): a refunded order holds no seat.
    Membership.objects.exclude(user=late).update(reserved_until=timezone.now())
    services.count_member_paid(order_id=late_order.pk)
    assert Membership.objects.get(user=late).state == MemberState.RELEASED
    assert Refund.objects.filter(payment__order=late_order).count() == 1


def _failed_group_with_one_paid_and_one_unpaid(capture):
    offer, group, leader = _started(GroupOfferFactory(group_size=3))
    paid_order = check_out(leader)
    with capture(execute=True):
        pay(paid_order)
    slow = shopper("Bo")
    services.join_group(group=group, variant=variant_of(offer), user=slow)
    unpaid_order = check_out(slow)
    group.deadline = timezone.now() - timedelta(seconds=1)
    group.save(update_fields=["deadline"])
    return group, leader, paid_order, unpaid_order


def test_expiry_refunds_every_paid_member_once_even_run_twice(
    django_capture_on_commit_callbacks,
):
    group, leader, paid_order, unpaid_order = _failed_group_with_one_paid_and_one_unpaid(
        django_capture_on_commit_callbacks
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.expire_group_buys() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert services.expire_group_buys() == 0
        call_command("expire_group_buys", stdout=io.StringIO())
    group.refresh_from_db()
    paid_order.refresh_from_db()
    unpaid_order.refresh_from_db()
    assert group.state == GroupState.FAILED
    assert Refund.objects.filter(payment__order=paid_order).count() == 1
    assert paid_order.status == OrderStatus.CANCELLED
    assert paid_order.payment_status == PaymentStatus.REFUNDED
    assert unpaid_order.status == OrderStatus.CANCELLED
    assert set(group.memberships.values_list("state", flat=True)) == {
        MemberState.REFUNDED,
        MemberState.RELEASED,
    }
    group_mails = [m for m in mail.outbox if "did not fill" in m.subject]
    assert [m.to for m in group_mails] == [[leader.email]]
    assert any(m.to == [leader.email] and "refund" in m.subject.lower() for m in mail.outbox)


def test_expiry_puts_the_stock_of_unpaid_joins_back_at_once(django_capture_on_commit_callbacks):
    group, _leader, _paid, unpaid_order = _failed_group_with_one_paid_and_one_unpaid(
        django_capture_on_commit_callbacks
    )
    variant = variant_of(group.offer)
    stock_before = variant.stock
    services.expire_group_buys()
    unpaid_order.refresh_from_db()
    variant.refresh_from_db()
    assert unpaid_order.status == OrderStatus.CANCELLED  # not left till its own deadline
    assert variant.stock == stock_before + 2  # the paid one's unit and the unpaid one's


def test_expiry_completes_a_full_group_whose_completion_was_missed(
    django_capture_on_commit_callbacks,
):
    offer, group, leader = _started()
    friend = shopper("Bo")
    services.join_group(group=group, variant=variant_of(offer), user=friend)
    orders = [check_out(leader), check_out(friend)]
    for order in orders:
        pay(order)  # callbacks not run: the paid signal is lost
    for order in orders:
        services.count_member_paid(order_id=order.pk)
    group.refresh_from_db()
    assert group.state == GroupState.COMPLETE
    assert services.expire_group_buys(now=group.deadline + timedelta(seconds=1)) == 0
