import json
from decimal import Decimal

import pytest

from orders import services as order_services
from orders.errors import OrderError
from orders.models import OrderEvent
from orders.services import cancel_order
from payments import gateway, services
from payments.errors import InvalidPayload, InvalidSignature, NotPayable
from payments.models import Payment, PaymentEvent, PaymentState, PaymentStateChange, Refund
from payments.providers.sandbox import SIGNATURE_HEADER, sign
from payments.tests.factories import deliver, sandbox_order, start

pytestmark = pytest.mark.django_db


def test_start_payment_opens_one_pending_payment_for_what_is_owed():
    order = sandbox_order()
    payment = start(order)
    assert payment.state == PaymentState.PENDING
    assert (payment.amount, payment.currency) == (order.total, order.currency)
    assert payment.redirect_url == f"/payments/sandbox/{payment.reference}/"
    # A reload of the redirect reuses the open payment.
    assert start(order) == payment
    assert Payment.objects.count() == 1
    assert PaymentStateChange.objects.filter(payment=payment).count() == 1


def test_a_valid_callback_captures_the_payment_and_pays_the_order_once():
    order = sandbox_order()
    payment = start(order)
    body, headers, _result = deliver(payment)
    for _i in range(4):
        services.receive_callback(provider_code="sandbox", body=body, headers=headers)
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == PaymentState.CAPTURED and payment.captured_at
    assert order.payment_status == "paid" and order.total_paid == order.total
    assert OrderEvent.objects.filter(order=order, kind="payment", to_status="paid").count() == 1
    deliveries = PaymentEvent.objects.filter(payment=payment)
    assert deliveries.count() == 5
    assert deliveries.filter(processed=True).count() == 1
    assert deliveries.filter(duplicate=True).count() == 4


def test_a_forged_or_missing_signature_changes_nothing():
    order = sandbox_order()
    payment = start(order)
    body, _headers = gateway.build_callback(payment=payment, outcome="pay")
    for headers in ({SIGNATURE_HEADER: sign(body, secret="not-the-secret")}, {}):
        with pytest.raises(InvalidSignature):
            services.receive_callback(provider_code="sandbox", body=body, headers=headers)
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == PaymentState.PENDING and order.payment_status == "unpaid"
    stored = PaymentEvent.objects.all()
    assert stored.count() == 2
    assert not any(e.signature_valid or e.processed or e.event_id for e in stored)


def test_a_body_changed_after_signing_is_refused():
    payment = start(sandbox_order())
    body, headers = gateway.build_callback(payment=payment, outcome="pay")
    tampered = body.replace(str(payment.amount).encode(), b"0.01")
    with pytest.raises(InvalidSignature):
        services.receive_callback(provider_code="sandbox", body=tampered, headers=headers)
    assert Payment.objects.get().state == PaymentState.PENDING


def test_signed_but_unreadable_is_stored_and_flagged():
    body = b"this is not json"
    with pytest.raises(InvalidPayload):
        services.receive_callback(
            provider_code="sandbox", body=body, headers={SIGNATURE_HEADER: sign(body)}
        )
    event = PaymentEvent.objects.get()
    assert event.signature_valid and event.flagged and not event.processed


def test_an_amount_mismatch_is_flagged_and_never_pays_the_order():
    order = sandbox_order()
    payment = start(order)
    deliver(payment, amount=Decimal("1.00"))
    deliver(payment, currency="EUR")
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.flagged and "mismatch" in payment.flag_reason
    assert payment.state == PaymentState.PENDING
    assert order.payment_status == "unpaid" and order.total_paid == 0
    assert PaymentEvent.objects.filter(flagged=True).count() == 2


def test_a_callback_for_an_unknown_payment_is_stored_and_flagged():
    body = json.dumps(
        {"id": "evt_x", "type": "payment.captured", "payment": "nope", "amount": "5.00"}
    ).encode()
    services.receive_callback(
        provider_code="sandbox", body=body, headers={SIGNATURE_HEADER: sign(body)}
    )
    event = PaymentEvent.objects.get()
    assert event.flagged and not event.processed and event.payment is None


def test_a_capture_for_a_cancelled_order_is_refunded_at_once():
    """Item 2: the money is given back through its provider, outside the order's life."""
    order = sandbox_order()
    payment = start(order)
    cancel_order(order=order, note="changed my mind")
    deliver(payment)
    payment.refresh_from_db()
    order.refresh_from_db()
    assert order.status == "cancelled" and order.total_paid == 0
    assert payment.surplus and payment.state == PaymentState.REFUNDED
    refund = Refund.objects.get()
    assert refund.status == "succeeded" and refund.amount == payment.amount
    assert order.events.filter(kind="note", note__contains="given back").exists()
    assert services.find_discrepancies() == []


def test_a_bank_transfer_for_a_cancelled_order_becomes_a_refund_due(admin_user):
    order = sandbox_order()
    payment = start(order, provider="manual")
    cancel_order(order=order)
    services.confirm_manual_payment(payment=payment, actor=admin_user)
    refund = Refund.objects.get()
    assert refund.status == "due" and refund.amount == payment.amount
    assert services.find_discrepancies() == []  # owed back, in front of the merchant
    services.record_refund_sent(refund=refund, actor=admin_user)
    payment.refresh_from_db()
    assert payment.state == PaymentState.REFUNDED and payment.surplus


def test_a_second_payment_that_captures_is_refunded_and_the_order_keeps_the_first():
    """Item 4: a duplicate payment is surplus; the real payment stays held."""
    order = sandbox_order()
    first = start(order)
    Payment.objects.filter(pk=first.pk).update(redirect_url="")  # another tab: a second one
    second = start(order)
    assert second != first
    deliver(first)
    second.refresh_from_db()
    assert second.state == PaymentState.CANCELLED  # closed once the order was paid
    Payment.objects.filter(pk=second.pk).update(state=PaymentState.PENDING)
    deliver(second)  # captured anyway
    order.refresh_from_db()
    second.refresh_from_db()
    first.refresh_from_db()
    assert (order.status, order.payment_status) == ("open", "paid")
    assert order.total_paid == order.total and order.total_refunded == 0
    assert first.state == PaymentState.CAPTURED and not first.surplus
    assert second.surplus and second.state == PaymentState.REFUNDED
    assert services.find_discrepancies() == []


def test_cancelling_a_paid_order_refunds_what_was_captured():
    """Item 3: cancel gives back the money, the units and the coupon."""
    order = sandbox_order(price=Decimal("20.00"))
    deliver(start(order))
    order.refresh_from_db()
    services.cancel_order(order=order, actor=None, by_shopper=False)
    order.refresh_from_db()
    assert (order.status, order.payment_status) == ("cancelled", "refunded")
    assert order.total_refunded == order.total_paid == Decimal("25.00")
    assert Payment.objects.get().state == PaymentState.REFUNDED
    assert order.lines.get().quantity_restocked == 1
    assert services.find_discrepancies() == []


def test_cancelling_a_bank_transfer_order_without_confirmation_leaves_a_refund_due(admin_user):
    order = sandbox_order()
    payment = start(order, provider="manual")
    services.confirm_manual_payment(payment=payment, actor=admin_user)
    services.cancel_order(order=order, actor=admin_user, by_shopper=False)
    order.refresh_from_db()
    assert order.status == "cancelled" and order.payment_status == "paid"
    assert Refund.objects.get().status == "due"
    assert services.find_discrepancies() == []
    services.record_refund_sent(refund=Refund.objects.get(), actor=admin_user)
    order.refresh_from_db()
    assert order.payment_status == "refunded" and order.held == 0


def test_a_decline_leaves_the_order_waiting_and_a_retry_is_a_new_payment():
    order = sandbox_order()
    first = start(order)
    deliver(first, outcome="decline")
    first.refresh_from_db()
    assert first.state == PaymentState.FAILED and "declined" in first.failure_reason
    order.refresh_from_db()
    assert order.payment_status == "unpaid"
    second = start(order)
    assert second != first
    deliver(second)
    order.refresh_from_db()
    assert order.payment_status == "paid"


def test_out_of_order_events_never_move_a_payment_back():
    order = sandbox_order()
    payment = start(order)
    body, headers = gateway.build_callback(payment=payment, outcome="pay")
    services.receive_callback(provider_code="sandbox", body=body, headers=headers)
    deliver(payment, outcome="decline")  # a late decline after the capture
    late_auth = json.dumps(
        {
            "id": "evt_auth",
            "type": "payment.authorised",
            "payment": payment.reference,
            "amount": str(payment.amount),
            "currency": payment.currency,
        }
    ).encode()
    services.receive_callback(
        provider_code="sandbox", body=late_auth, headers={SIGNATURE_HEADER: sign(late_auth)}
    )
    payment.refresh_from_db()
    assert payment.state == PaymentState.CAPTURED
    order.refresh_from_db()
    assert order.payment_status == "paid"


def test_a_capture_after_a_decline_still_records_the_money():
    order = sandbox_order()
    payment = start(order)
    deliver(payment, outcome="decline")
    deliver(payment)
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == PaymentState.CAPTURED and order.payment_status == "paid"


def test_refunds_by_line_never_more_than_captured(admin_user):
    order = sandbox_order(price=Decimal("10.00"), quantity=2)  # total 25.00
    payment = start(order)
    deliver(payment)
    order.refresh_from_db()
    line = order.lines.get()
    with pytest.raises(OrderError):
        order_services.plan_refund(order=order, quantities={line.pk: 3})
    plan = order_services.plan_refund(order=order, quantities={line.pk: 1}, reason="one back")
    assert plan.amount == Decimal("10.00")
    services.refund_order(plan=plan, actor=admin_user, confirmed=False)
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == PaymentState.PARTIALLY_REFUNDED
    assert order.payment_status == "partially_refunded"
    assert order.total_refunded == Decimal("10.00")
    plan = order_services.plan_refund(
        order=order, quantities={line.pk: 1}, shipping=order.shipping_refundable
    )
    assert plan.amount == Decimal("15.00")
    services.refund_order(plan=plan, actor=None, confirmed=False)
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == PaymentState.REFUNDED and payment.refundable == 0
    assert order.payment_status == "refunded" and order.total_refunded == order.total_paid
    refunds = list(Refund.objects.order_by("pk"))
    assert [r.amount for r in refunds] == [Decimal("10.00"), Decimal("15.00")]
    assert refunds[0].actor == admin_user and refunds[0].reference.startswith("sbre_")
    assert OrderEvent.objects.filter(order=order, kind="payment", to_status="refunded").count() == 1
    with pytest.raises(OrderError):
        order_services.plan_refund(order=order, quantities={line.pk: 1})


def test_an_unpaid_order_cannot_be_refunded():
    order = sandbox_order()
    start(order)
    with pytest.raises(OrderError):
        order_services.plan_refund(order=order, quantities={order.lines.get().pk: 1})
    assert not Refund.objects.exists()


def test_manual_payment_waits_for_the_merchant(admin_user):
    order = sandbox_order()
    payment = start(order, provider="manual")
    order.refresh_from_db()
    assert order.payment_method == "manual"
    assert OrderEvent.objects.filter(order=order, note__contains="Payment method").exists()
    assert payment.redirect_url == "" and payment.state == PaymentState.PENDING
    services.confirm_manual_payment(payment=payment, actor=admin_user)
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == PaymentState.CAPTURED and order.payment_status == "paid"
    event = OrderEvent.objects.get(order=order, kind="payment", to_status="paid")
    assert event.actor == admin_user
    with pytest.raises(NotPayable):
        start(order, provider="manual")


def test_reconcile_reports_money_the_order_does_not_account_for(admin_user):
    # 1. A captured payment whose order is still unpaid (the order's side lost in a crash).
    order = sandbox_order()
    payment = start(order)
    Payment.objects.filter(pk=payment.pk).update(state=PaymentState.CAPTURED)
    # 2. A paid order whose payments hold less than it says (a refund made and not recorded).
    other = sandbox_order()
    paid = start(other)
    deliver(paid)
    Payment.objects.filter(pk=paid.pk).update(amount_refunded=Decimal("5.00"))
    found = services.find_discrepancies()
    assert sorted(item.kind for item in found) == ["captured_unpaid", "money_mismatch"]
    assert [item.repairable for item in found if item.kind == "money_mismatch"] == [False]
    for item in found:
        if item.repairable:
            services.repair(item)
    assert [item.kind for item in services.find_discrepancies()] == ["money_mismatch"]
    order.refresh_from_db()
    assert order.payment_status == "paid"


@pytest.mark.parametrize("delivered", [False, True])
def test_a_cancel_refused_for_shipped_goods_gives_nothing_back_at_the_provider(
    admin_user, monkeypatch, delivered
):
    """Found by the order-life state machine: the merchant's cancel of a shipped order
    refunded it at the provider before refusing (the rollback undid our rows, not the
    provider's refund), and on a completed order refunded everything without cancelling."""
    order = sandbox_order(quantity=2)
    deliver(start(order))
    line = order.lines.get()
    order_services.ship_lines(
        order=order, carrier="dhl", tracking_number="1", quantities={line.pk: 1 + delivered}
    )
    if delivered:
        order_services.mark_delivered(order=order)
    order.refresh_from_db()
    before = (order.status, order.payment_status, order.total_refunded)
    asked = []
    monkeypatch.setattr(
        "payments.providers.sandbox.SandboxProvider.refund",
        lambda provider, **kwargs: asked.append(kwargs) or "sbre_test",
    )
    with pytest.raises(OrderError):
        services.cancel_order(order=order, actor=admin_user, by_shopper=False)
    order.refresh_from_db()
    assert asked == []
    assert (order.status, order.payment_status, order.total_refunded) == before
    assert not Refund.objects.exists()
