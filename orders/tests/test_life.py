"""The order's life after placing: statuses derived from rows, partial shipments, refunds by
line, returns, deadlines. Money moves through record_payment/record_refund as the payments
app reports it; the payments app's own tests cover providers."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from catalog.models import Variant
from catalog.tests.factories import VariantFactory
from orders import services
from orders.errors import OrderError
from orders.models import Order, OrderLine, ReturnRequest
from orders.tests.factories import cart_with, order_of, place

pytestmark = pytest.mark.django_db


def paid_order(*quantities, price=Decimal("10.00"), stock=10):
    variants = [VariantFactory(price=price, stock=stock) for _ in quantities]
    order = place(cart_with(*zip(variants, quantities, strict=True)))
    services.record_payment(order=order, amount=order.total)
    order.refresh_from_db()
    return order, variants


def statuses(order):
    order.refresh_from_db()
    return order.status, order.payment_status, order.fulfilment_status


def lines(order):
    return list(OrderLine.objects.filter(order=order).order_by("pk"))


def test_payment_status_follows_money_in_and_out():
    order, _v = order_of(2)
    services.record_payment(order=order, amount=Decimal("1.00"))
    assert statuses(order) == ("open", "partially_paid", "unfulfilled")
    services.record_payment(order=order, amount=order.total - Decimal("1.00"))
    assert statuses(order) == ("open", "paid", "unfulfilled")
    with pytest.raises(OrderError):
        services.record_payment(order=order, amount=Decimal("1.00"))  # surplus is not ours


def test_a_partial_shipment_then_a_refund_keeps_both_statuses_visible():
    """Item 6: a partial refund after shipping no longer hides that the order shipped."""
    order, _v = paid_order(2, 1)
    first, second = lines(order)
    services.ship_lines(order=order, carrier="dhl", tracking_number="1", quantities={first.pk: 2})
    assert statuses(order) == ("open", "paid", "partially_shipped")
    plan = services.plan_refund(order=order, quantities={second.pk: 1})
    from django.db import transaction

    with transaction.atomic():
        services.refund_lines(plan=plan)
    services.record_refund(order=order, amount=plan.amount)
    # The unshipped unit came off the order: everything left has shipped.
    assert statuses(order) == ("open", "partially_refunded", "shipped")
    services.mark_delivered(order=order)
    assert statuses(order) == ("completed", "partially_refunded", "delivered")


def test_refunding_units_gives_back_their_share_of_the_discounted_line_exactly():
    order, variants = paid_order(3, price=Decimal("10.00"))
    line = lines(order)[0]
    OrderLine.objects.filter(pk=line.pk).update(total=Decimal("20.00"))  # a discount of 10
    line.refresh_from_db()
    amounts = []
    from django.db import transaction

    for _ in range(3):
        plan = services.plan_refund(order=Order.objects.get(pk=order.pk), quantities={line.pk: 1})
        amounts.append(plan.amount)
        with transaction.atomic():
            services.refund_lines(plan=plan)
    assert amounts == [Decimal("6.67"), Decimal("6.66"), Decimal("6.67")]
    assert sum(amounts) == Decimal("20.00")
    # Unshipped units refunded go back on the shelf.
    assert Variant.objects.get(pk=variants[0].pk).stock == 10


def test_a_refund_never_exceeds_what_was_paid_or_what_is_left():
    order, _v = paid_order(1)
    line = lines(order)[0]
    with pytest.raises(services.RefundRejected):
        services.plan_refund(order=order, quantities={line.pk: 2})
    with pytest.raises(services.RefundRejected):
        services.plan_refund(order=order, quantities={})
    unpaid, _v = order_of()
    with pytest.raises(services.RefundRejected):
        services.plan_refund(order=unpaid, quantities={lines(unpaid)[0].pk: 1})


def test_a_return_walks_from_request_to_refund_with_restock_per_line():
    """Item 5: returns end in a refund; restock is chosen per line at receipt."""
    order, variants = paid_order(1, 1, stock=5)
    services.ship_lines(order=order, carrier="dhl", tracking_number="1")
    services.mark_delivered(order=order)
    assert statuses(order)[0] == "completed"
    keep, damaged = lines(order)
    request = services.request_return(
        order=order,
        quantities={keep.pk: 1, damaged.pk: 1},
        reason=ReturnRequest.Reason.DOES_NOT_FIT,
    )
    assert statuses(order)[0] == "open"  # a return under way reopens the order
    services.approve_return(return_request=request)
    restock = {request.lines.get(line=keep).pk}
    services.receive_return(return_request=request, restock=restock)
    assert statuses(order)[2] == "returned"
    assert Variant.objects.get(pk=variants[0].pk).stock == 5  # back on the shelf
    assert Variant.objects.get(pk=variants[1].pk).stock == 4  # damaged: not resold
    request.refresh_from_db()
    plan = services.plan_return_refund(return_request=request)
    from django.db import transaction

    with transaction.atomic():
        services.refund_lines(plan=plan)
    services.record_refund(order=order, amount=plan.amount)
    request.refresh_from_db()
    assert request.status == "refunded"
    assert statuses(order) == ("completed", "partially_refunded", "returned")
    assert Variant.objects.get(pk=variants[0].pk).stock == 5  # not restocked twice


def test_a_rejected_return_tells_the_shopper_why():
    order, _v = paid_order(1)
    services.ship_lines(order=order, carrier="dhl", tracking_number="1")
    request = services.request_return(
        order=order, quantities={lines(order)[0].pk: 1}, reason="changed_mind"
    )
    with pytest.raises(OrderError):
        services.reject_return(return_request=request, answer="  ")
    services.reject_return(return_request=request, answer="Worn items cannot be returned.")
    request.refresh_from_db()
    assert (request.status, request.answer) == ("rejected", "Worn items cannot be returned.")


def test_nothing_can_be_returned_before_it_ships_or_twice():
    order, _v = paid_order(1)
    line = lines(order)[0]
    with pytest.raises(OrderError):
        services.request_return(order=order, quantities={line.pk: 1}, reason="other")
    services.ship_lines(order=order, carrier="dhl", tracking_number="1")
    services.request_return(order=order, quantities={line.pk: 1}, reason="other")
    with pytest.raises(OrderError):
        services.request_return(order=order, quantities={line.pk: 1}, reason="other")


def test_every_return_status_and_order_status_is_reachable():
    """The transition tables name no state that nothing reaches."""
    reached = set()
    order, _v = paid_order(1, 1)
    reached.add(statuses(order)[0])
    services.ship_lines(order=order, carrier="dhl", tracking_number="1")
    services.mark_delivered(order=order)
    reached.add(statuses(order)[0])
    first, second = lines(order)
    rejected = services.request_return(order=order, quantities={first.pk: 1}, reason="other")
    reached.add(statuses(order)[0])
    services.reject_return(return_request=rejected, answer="no")
    accepted = services.request_return(order=order, quantities={second.pk: 1}, reason="other")
    services.approve_return(return_request=accepted)
    services.receive_return(return_request=accepted, restock=set())
    accepted.refresh_from_db()
    from django.db import transaction

    with transaction.atomic():
        services.refund_lines(plan=services.plan_return_refund(return_request=accepted))
    return_statuses = set(ReturnRequest.objects.values_list("status", flat=True))
    return_statuses |= {"requested", "approved", "received"}  # passed through, events say
    assert return_statuses == set(services.RETURN_TRANSITIONS)
    cancelled, _v = order_of()
    services.cancel_order(order=cancelled)
    reached.add(statuses(cancelled)[0])
    assert reached == set(services.ORDER_TRANSITIONS)


def test_cancelling_needs_the_money_given_back_first_and_nothing_shipped():
    order, _variants = paid_order(2, stock=5)
    with pytest.raises(OrderError):
        services.cancel_order(order=order)
    services.ship_lines(
        order=order, carrier="dhl", tracking_number="1", quantities={lines(order)[0].pk: 1}
    )
    with pytest.raises(OrderError):
        services.cancel_order(order=order, refunds_due=order.total)


def test_bank_transfer_orders_wait_days_with_a_reminder_halfway(
    django_capture_on_commit_callbacks, settings
):
    """Item 1: a bank transfer is not cancelled after 30 minutes."""
    order, variant = order_of(1, payment="manual", stock=3)
    waits = order.payment_deadline - order.created_at
    assert timedelta(days=7) - timedelta(seconds=5) < waits <= timedelta(days=7)
    assert services.expire_unpaid_orders(now=timezone.now() + timedelta(hours=1)) == 0
    assert services.send_payment_reminders(now=timezone.now() + timedelta(days=1)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert services.send_payment_reminders(now=timezone.now() + timedelta(days=4)) == 1
    assert "still awaits your payment" in mail.outbox[-1].subject
    assert services.send_payment_reminders(now=timezone.now() + timedelta(days=5)) == 0
    assert services.expire_unpaid_orders(now=timezone.now() + timedelta(days=8)) == 1
    assert statuses(order)[0] == "cancelled"
    assert Variant.objects.get(pk=variant.pk).stock == 3


def test_an_open_payment_session_extends_the_deadline():
    order, _v = order_of(1, payment="manual")
    later = order.payment_deadline + timedelta(days=1)
    services.extend_payment_deadline(order=order, until=later)
    assert services.expire_unpaid_orders(now=later - timedelta(minutes=1)) == 0
    services.extend_payment_deadline(order=order, until=later - timedelta(days=3))
    order.refresh_from_db()
    assert order.payment_deadline == later  # never shortened


def test_a_guest_link_cancels_only_in_the_first_days(settings):
    order, _v = order_of()
    assert services.shopper_may_cancel(order, signed_in=False)
    Order.objects.filter(pk=order.pk).update(
        created_at=timezone.now() - timedelta(days=settings.GUEST_CANCEL_DAYS + 1)
    )
    order.refresh_from_db()
    assert not services.shopper_may_cancel(order, signed_in=False)
    assert services.shopper_may_cancel(order, signed_in=True)


def test_an_idempotency_key_answers_only_for_its_own_cart():
    key = services.new_idempotency_key()
    first = place(cart_with((VariantFactory(), 1)), key=key)
    second = place(cart_with((VariantFactory(), 1)), key=key)
    assert first.pk != second.pk


def test_units_in_a_return_are_refunded_by_the_return_only():
    """Found by the browser test: the order's "Refund items" could refund (and restock) a
    returned unit that the return then refunded again."""
    order, variants = paid_order(1, stock=5)
    services.ship_lines(order=order, carrier="dhl", tracking_number="1")
    line = lines(order)[0]
    request = services.request_return(order=order, quantities={line.pk: 1}, reason="other")
    services.approve_return(return_request=request)
    services.receive_return(return_request=request, restock={request.lines.get().pk})
    with pytest.raises(services.RefundRejected):
        services.plan_refund(order=order, quantities={line.pk: 1}, restock={line.pk})
    request.refresh_from_db()
    assert services.plan_return_refund(return_request=request).amount == line.total
    assert Variant.objects.get(pk=variants[0].pk).stock == 5


def refund_lines(order, quantities, restock=frozenset()):
    """Refund by lines and record the money as the payments app would."""
    from django.db import transaction

    order.refresh_from_db()
    plan = services.plan_refund(order=order, quantities=quantities, restock=restock)
    with transaction.atomic():
        services.refund_lines(plan=plan)
    services.record_refund(order=order, amount=plan.amount)


def refund_return(return_request):
    from django.db import transaction

    return_request.refresh_from_db()
    plan = services.plan_return_refund(return_request=return_request)
    with transaction.atomic():
        services.refund_lines(plan=plan)
    services.record_refund(order=return_request.order, amount=plan.amount)


def test_a_refund_never_puts_back_on_the_shelf_units_a_return_put_back():
    """Found by the order-life state machine: refunding a line with "restock" after its
    return was received and restocked counted those units back twice (stock too high; an
    IntegrityError once the line's restocked units passed its quantity). The returned units
    are refunded with their return; only the unit the shopper kept goes back with a refund."""
    order, (variant,) = paid_order(2)
    (line,) = lines(order)
    services.ship_lines(order=order, carrier="dhl", tracking_number="1")
    back = services.request_return(order=order, quantities={line.pk: 1}, reason="damaged")
    services.approve_return(return_request=back)
    services.receive_return(return_request=back, restock={back.lines.get().pk})
    back.refresh_from_db()
    with transaction.atomic():
        services.refund_lines(plan=services.plan_return_refund(return_request=back))
    variant.refresh_from_db()
    shelf = variant.stock
    plan = services.plan_refund(order=order, quantities={line.pk: 1}, restock={line.pk})
    assert [item.restock for item in plan.lines] == [1]  # only the unit still out
    with transaction.atomic():
        services.refund_lines(plan=plan)
    line.refresh_from_db()
    variant.refresh_from_db()
    assert (line.quantity_restocked, variant.stock) == (2, shelf + 1)


def test_after_a_return_is_refunded_the_shopper_may_return_the_units_still_held():
    """Found by the order-life state machine: a unit refunded with its return counted twice
    (returned, and refunded), so the other unit of the line could no longer be returned."""
    order, _v = paid_order(2)
    (line,) = lines(order)
    services.ship_lines(order=order, carrier="dhl", tracking_number="1")
    first = services.request_return(order=order, quantities={line.pk: 1}, reason="damaged")
    services.approve_return(return_request=first)
    services.receive_return(return_request=first, restock=set())
    refund_return(first)
    assert services.returnable_quantities(order) == {line.pk: 1}
    second = services.request_return(order=order, quantities={line.pk: 1}, reason="damaged")
    services.approve_return(return_request=second)
    services.receive_return(return_request=second, restock=set())
    refund_return(second)
    assert statuses(order) == ("completed", "partially_refunded", "returned")


def test_units_in_a_return_under_way_are_refunded_with_the_return_only():
    """Found by the order-life state machine: refunding on its own a unit a return had
    claimed left that return unable to be received (or, once received, refunded), so the
    order could never complete."""
    order, _v = paid_order(2)
    (line,) = lines(order)
    services.ship_lines(order=order, carrier="dhl", tracking_number="1")
    services.mark_delivered(order=order)
    back = services.request_return(order=order, quantities={line.pk: 1}, reason="damaged")
    with pytest.raises(services.RefundRejected, match="at most 1"):
        services.plan_refund(order=order, quantities={line.pk: 2})
    services.approve_return(return_request=back)
    services.receive_return(return_request=back, restock=set())
    with pytest.raises(services.RefundRejected, match="at most 1"):
        services.plan_refund(order=order, quantities={line.pk: 2})
    refund_return(back)
    assert statuses(order) == ("completed", "partially_refunded", "delivered")
