"""Every write of group buys: starting and joining a group, counting a paid member,
completing a group, and settling groups whose deadline passed.

Seats: a group never holds more members than its size. A member holds a seat from joining
until they pay, or until GROUP_BUY_SEAT_MINUTES pass unpaid; every change of a group's seats
happens under its row lock (locks.group_for_update), so concurrent joins and payments queue
there, and the N-th paid seat completes the group exactly once. A payment that finds no seat
(it lapsed and was taken, or the group ended) is refunded at once: nobody beyond the N-th
ever keeps the group price.

Refunds go through payments.services.cancel_order (the provider's refund, stock back, the
order cancelled with its events and mails), one member per transaction under the member's
row lock and state, so a run that is repeated, concurrent or interrupted refunds each paid
member exactly once.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cart import services as cart_services
from catalog import cache as catalog_cache
from catalog.models import Variant
from groupbuys import locks, mails, selectors
from groupbuys.errors import GroupBuyError
from groupbuys.models import Group, GroupOffer, GroupState, Membership, MemberState
from orders import services as order_services
from orders.errors import OrderError
from orders.models import Order, OrderLine, OrderStatus, PaymentStatus
from payments import services as payment_services
from payments.errors import PaymentError

logger = logging.getLogger(__name__)

#: A member in these states holds no seat a new payment could take.
FINAL_STATES = (MemberState.PAID, MemberState.REFUNDED)


def seat_window() -> timedelta:
    return timedelta(minutes=settings.GROUP_BUY_SEAT_MINUTES)


def _refresh_product_page(group: Group) -> None:
    """The product page lists open groups and their seats (cached whole: bumped on commit)."""
    catalog_cache.bump([catalog_cache.product_scope(group.offer.product_id)])


def _check_variant(offer: GroupOffer, variant: Variant | None) -> Variant:
    if variant is None or not offer.covers(variant):
        raise GroupBuyError(_("Choose one of the offer's options."))
    return variant


@transaction.atomic
def start_group(
    *, offer: GroupOffer, variant: Variant | None, user, now: datetime | None = None
) -> Membership:
    """`user` starts a group of `offer` and holds its first seat; the item goes in their
    cart at the group price, alone and ticked, for the usual checkout."""
    now = now or timezone.now()
    if not (offer.is_active and offer.starts_at <= now < offer.ends_at):
        raise GroupBuyError(_("This group offer has ended."))
    variant = _check_variant(offer, variant)
    group = Group.objects.create(
        offer=offer, leader=user, deadline=now + timedelta(hours=offer.hours)
    )
    return _take_seat(group=group, variant=variant, user=user, now=now)


@transaction.atomic
def join_group(*, group: Group, variant: Variant | None, user, now: datetime | None = None):
    """`user` takes a seat in `group` (refused when it is full, ended or theirs already)."""
    now = now or timezone.now()
    locked = locks.group_for_update(pk=group.pk)
    if locked is None:
        raise GroupBuyError(_("This group does not exist."))
    if locked.state != GroupState.OPEN or locked.deadline <= now:
        raise GroupBuyError(_("This group has ended: start a new one."))
    variant = _check_variant(group.offer, variant)
    mine = locks.member_for_update(group_id=locked.pk, user_id=user.pk)
    if mine is not None and mine.state != MemberState.RELEASED:
        if mine.state == MemberState.RESERVED and mine.reserved_until > now:
            raise GroupBuyError(_("You are in this group already: pay to keep your seat."))
        if mine.state != MemberState.RESERVED:
            raise GroupBuyError(_("You are in this group already."))
    if selectors.seats_taken(group=locked, now=now) >= group.offer.group_size:
        raise GroupBuyError(_("This group is full: start a new one."))
    locked.offer = group.offer
    return _take_seat(group=locked, variant=variant, user=user, now=now, existing=mine)


def _take_seat(*, group, variant, user, now, existing=None) -> Membership:
    if existing is not None:
        existing.state, existing.variant = MemberState.RESERVED, variant
        existing.reserved_until, existing.order = now + seat_window(), None
        existing.save(update_fields=["state", "variant", "reserved_until", "order"])
        member = existing
    else:
        member = Membership.objects.create(
            group=group, user=user, variant=variant, reserved_until=now + seat_window()
        )
    try:
        cart_services.put_group_line(
            cart=cart_services.cart_of(user=user), variant=variant, group_id=group.pk
        )
    except cart_services.CartError as error:  # sold out, or no longer sold
        raise GroupBuyError(error.message) from error
    _refresh_product_page(group)
    return member


def count_member_paid(*, order_id: int, now: datetime | None = None) -> None:
    """An order's payment arrived (orders.signals.order_paid): its member's seat is paid,
    and the N-th paid seat completes the group. Idempotent: the same order twice changes
    nothing. A payment without a seat is refunded at once."""
    group_ids = set(
        OrderLine.objects.filter(order_id=order_id, group_id__isnull=False).values_list(
            "group_id", flat=True
        )
    )
    for group_id in sorted(group_ids):
        _count_paid_seat(group_id=group_id, order_id=order_id, now=now or timezone.now())


def _count_paid_seat(*, group_id: int, order_id: int, now: datetime) -> None:
    refund_reason = ""
    with transaction.atomic():
        group = locks.group_for_update(pk=group_id)
        order = Order.objects.get(pk=order_id)
        member = (
            locks.member_for_update(group_id=group_id, user_id=order.user_id)
            if group is not None and order.user_id
            else None
        )
        if member is not None and member.order_id == order.pk:
            return  # counted already
        if order.status == OrderStatus.CANCELLED or order.payment_status != PaymentStatus.PAID:
            return  # refunded or cancelled since (a repeated count): it holds no seat
        if group is None or member is None or member.state in FINAL_STATES:
            refund_reason = _("Group buy: this payment holds no seat in the group")
        elif group.state != GroupState.OPEN or group.deadline <= now:
            refund_reason = _("Group buy: the group had ended when the payment arrived")
        elif member.state == MemberState.RELEASED or member.reserved_until <= now:
            taken = (
                group.memberships.filter(selectors.holds_seat(now=now))
                .exclude(pk=member.pk)
                .count()
            )
            if taken >= group.offer.group_size:
                refund_reason = _("Group buy: the group filled before the payment arrived")
        if refund_reason:
            if member is not None and member.state in (MemberState.RESERVED, MemberState.RELEASED):
                member.state, member.order = MemberState.RELEASED, None
                member.save(update_fields=["state", "order"])
        else:
            member.state, member.order, member.paid_at = MemberState.PAID, order, now
            member.save(update_fields=["state", "order", "paid_at"])
            paid = group.memberships.filter(state=MemberState.PAID).count()
            if paid >= group.offer.group_size:
                _complete(group, now=now)
            _refresh_product_page(group)
            return
    _refund_order(order_id=order_id, reason=refund_reason)


def _complete(group: Group, *, now: datetime) -> None:
    """The group filled (its row locked): every paid member's order may ship now."""
    group.state, group.closed_at = GroupState.COMPLETE, now
    group.save(update_fields=["state", "closed_at"])
    members = list(
        group.memberships.filter(state=MemberState.PAID).select_related("order").order_by("pk")
    )
    for member in members:
        order_services.release_hold(
            order=member.order, note=_("Group buy %(code)s complete") % {"code": group.code}
        )
        mails.queue_group_mail(member=member, name="complete")
    group.memberships.filter(state=MemberState.RESERVED).update(state=MemberState.RELEASED)


def _refund_order(*, order_id: int, reason: str) -> bool:
    """Cancel an order of a group buy, giving its money back through its provider. True once
    the order is cancelled (now or before); False when the refund was refused."""
    order = Order.objects.get(pk=order_id)
    if order.status == OrderStatus.CANCELLED:
        return True
    try:
        payment_services.cancel_order(order=order, actor=None, by_shopper=False, reason=reason)
    except (OrderError, PaymentError):
        # E.g. refused by the provider's rules: the merchant sees the order still open and
        # paid, on hold, and refunds it by hand; the run goes on with the next member.
        logger.exception("group buy refund of order %s failed", order_id)
        return False
    return True


def expire_group_buys(*, now: datetime | None = None) -> int:
    """Settle every open group whose deadline passed; returns how many were settled.

    A group with its N paid seats completes (its payment's own completion was missed);
    otherwise it fails: each paid member is refunded through their provider and mailed,
    once, and unpaid joins are released with their orders cancelled. A failed group whose
    refunds were interrupted is picked up again by the next run.
    """
    now = now or timezone.now()
    settled = 0
    due = Group.objects.filter(state=GroupState.OPEN, deadline__lte=now).values_list(
        "pk", flat=True
    )
    for group_id in list(due):
        with transaction.atomic():
            group = locks.group_for_update_unless_busy(pk=group_id)
            if group is None or group.state != GroupState.OPEN:
                continue  # another run has it, or settled it
            paid = group.memberships.filter(state=MemberState.PAID).count()
            if paid >= group.offer.group_size:
                _complete(group, now=now)
            else:
                group.state, group.closed_at = GroupState.FAILED, now
                group.save(update_fields=["state", "closed_at"])
            _refresh_product_page(group)
            settled += 1
    failed = Group.objects.filter(
        state=GroupState.FAILED,
        memberships__state__in=[MemberState.PAID, MemberState.RESERVED],
    ).values_list("pk", flat=True)
    for group_id in sorted(set(failed)):
        _unwind_failed_group(group_id=group_id, now=now)
    return settled


def _unwind_failed_group(*, group_id: int, now: datetime) -> None:
    members = Membership.objects.filter(
        group_id=group_id, state__in=[MemberState.PAID, MemberState.RESERVED]
    ).values_list("pk", flat=True)
    for member_id in list(members):
        with transaction.atomic():
            member = locks.membership_for_update(pk=member_id)
            if member is None:
                continue
            if member.state == MemberState.PAID:
                if member.order_id and not _refund_order(
                    order_id=member.order_id,
                    reason=_("Group buy: the group did not fill in time"),
                ):
                    continue  # stays paid: the next run tries again
                member.state, member.refunded_at = MemberState.REFUNDED, now
                member.save(update_fields=["state", "refunded_at"])
                mails.queue_group_mail(member=member, name="refunded")
            elif member.state == MemberState.RESERVED:
                member.state = MemberState.RELEASED
                member.save(update_fields=["state"])
    # Unpaid orders placed for the group give their stock back now, not at their deadline.
    unpaid = (
        Order.objects.filter(
            lines__group_id=group_id,
            status=OrderStatus.OPEN,
            payment_status=PaymentStatus.UNPAID,
        )
        .values_list("pk", flat=True)
        .distinct()
    )
    for order_id in list(unpaid):
        with transaction.atomic():
            _refund_order(order_id=order_id, reason=_("Group buy: the group did not fill in time"))
