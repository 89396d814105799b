"""Races on PostgreSQL: threads with their own connections around a barrier.

Controls (tried once each): with locks.group_for_update reading without FOR UPDATE, the
join race seats more than the group's size and the payment race keeps more than N paid
members; with locks.membership_for_update unlocked, two expiry runs refund a member twice.
"""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from groupbuys import receivers, services
from groupbuys.errors import GroupBuyError
from groupbuys.models import Group, GroupState, Membership, MemberState
from groupbuys.tests.factories import GroupOfferFactory, check_out, shopper, variant_of
from orders.models import Order, OrderEvent, OrderStatus
from orders.signals import order_paid
from payments.models import Refund
from payments.tests.factories import deliver, start
from shop.tests.concurrency import race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres_only"),
]


def test_concurrent_joins_never_seat_more_than_the_group_size():
    offer = GroupOfferFactory(group_size=3)
    group = services.start_group(offer=offer, variant=variant_of(offer), user=shopper()).group
    joiners = [shopper(f"Joiner {i}") for i in range(12)]

    def work(index):
        services.join_group(
            group=Group.objects.select_related("offer").get(pk=group.pk),
            variant=variant_of(offer),
            user=joiners[index],
        )

    results, errors = race(len(joiners), work)
    assert len(results) == 2
    assert len(errors) == 10 and all(isinstance(e, GroupBuyError) for e in errors)
    assert Membership.objects.filter(group=group).count() == 3


def test_concurrent_payments_complete_the_group_at_exactly_n():
    """Six orders at the group price for three seats (the first three seats lapsed unpaid
    and were joined again): paid at once, three keep the price and ship, three are refunded."""
    offer = GroupOfferFactory(group_size=3)
    group = services.start_group(offer=offer, variant=variant_of(offer), user=shopper()).group
    orders = [check_out(group.memberships.get().user)]
    for round_ in range(2):
        for i in range(3 - len(orders) % 3 if round_ == 0 else 3):
            user = shopper(f"Shopper {round_}{i}")
            services.join_group(group=group, variant=variant_of(offer), user=user)
            orders.append(check_out(user))
        if round_ == 0:  # every seat lapses unpaid: three more join
            Membership.objects.filter(group=group).update(reserved_until=timezone.now())
    assert len(orders) == 6
    # Paid with the paid signal held back, then its six receivers run at once: the payments'
    # own transactions lock different orders, the seats are contended only here.
    order_paid.disconnect(dispatch_uid="groupbuys.member_paid")
    try:
        for order in orders:
            deliver(start(order))
    finally:
        order_paid.connect(receivers.count_member_paid, dispatch_uid="groupbuys.member_paid")

    _results, errors = race(
        len(orders), lambda index: services.count_member_paid(order_id=orders[index].pk)
    )
    assert errors == []
    group.refresh_from_db()
    assert group.state == GroupState.COMPLETE
    paid = Membership.objects.filter(group=group, state=MemberState.PAID)
    assert paid.count() == 3
    shipping = Order.objects.filter(pk__in=[o.pk for o in orders], on_hold=False)
    assert set(shipping.values_list("pk", flat=True)) == set(paid.values_list("order", flat=True))
    refunded = Order.objects.filter(pk__in=[o.pk for o in orders], status=OrderStatus.CANCELLED)
    assert refunded.count() == 3
    assert Refund.objects.filter(payment__order__in=refunded).count() == 3
    assert OrderEvent.objects.filter(from_status="on_hold").count() == 3


def test_concurrent_expiry_runs_refund_each_paid_member_once():
    offer = GroupOfferFactory(group_size=5)
    group = services.start_group(offer=offer, variant=variant_of(offer), user=shopper()).group
    members = [group.memberships.get().user] + [shopper(f"Member {i}") for i in range(2)]
    for user in members[1:]:
        services.join_group(group=group, variant=variant_of(offer), user=user)
    orders = [check_out(user) for user in members]
    for order in orders:
        deliver(start(order))
    assert Membership.objects.filter(group=group, state=MemberState.PAID).count() == 3
    Group.objects.filter(pk=group.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    mail.outbox.clear()

    results, errors = race(4, lambda index: services.expire_group_buys())
    assert errors == []
    assert sum(results) == 1  # one run settled the group; the others found it busy or done
    for order in orders:
        assert Refund.objects.filter(payment__order=order).count() == 1
        order.refresh_from_db()
        assert order.status == OrderStatus.CANCELLED
    assert Membership.objects.filter(group=group, state=MemberState.REFUNDED).count() == 3
    group_mails = [m for m in mail.outbox if "did not fill" in m.subject]
    assert sorted(m.to[0] for m in group_mails) == sorted(u.email for u in members)
