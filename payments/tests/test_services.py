import json
from decimal import Decimal

import pytest

from orders.models import OrderEvent, OrderState
from orders.services import cancel_order
from payments import gateway, services
from payments.errors import InvalidPayload, InvalidSignature, NotPayable, RefundRejected
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
    assert order.state == OrderState.PAID and order.total_paid == order.total
    assert OrderEvent.objects.filter(order=order, to_state=OrderState.PAID).count() == 1
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
    assert payment.state == PaymentState.PENDING and order.state == OrderState.PENDING_PAYMENT
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
    assert order.state == OrderState.PENDING_PAYMENT and order.total_paid == 0
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


def test_a_capture_for_a_cancelled_order_is_flagged_and_does_not_pay_it():
    order = sandbox_order()
    payment = start(order)
    cancel_order(order=order, note="changed my mind")
    deliver(payment)
    payment.refresh_from_db()
    order.refresh_from_db()
    assert order.state == OrderState.CANCELLED and order.total_paid == 0
    assert payment.state == PaymentState.CAPTURED  # the money was taken: the truth is kept
    assert payment.flagged and "refund" in payment.flag_reason
    assert PaymentEvent.objects.get().flagged


def test_a_decline_leaves_the_order_waiting_and_a_retry_is_a_new_payment():
    order = sandbox_order()
    first = start(order)
    deliver(first, outcome="decline")
    first.refresh_from_db()
    assert first.state == PaymentState.FAILED and "declined" in first.failure_reason
    order.refresh_from_db()
    assert order.state == OrderState.PENDING_PAYMENT
    second = start(order)
    assert second != first
    deliver(second)
    order.refresh_from_db()
    assert order.state == OrderState.PAID


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
    assert order.state == OrderState.PAID


def test_a_capture_after_a_decline_still_records_the_money():
    order = sandbox_order()
    payment = start(order)
    deliver(payment, outcome="decline")
    deliver(payment)
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == PaymentState.CAPTURED and order.state == OrderState.PAID


def test_refunds_full_or_partial_never_more_than_captured(admin_user):
    order = sandbox_order(price=Decimal("20.00"))  # total 25.00
    payment = start(order)
    deliver(payment)
    with pytest.raises(RefundRejected):
        services.refund_payment(
            payment=payment, amount=Decimal("25.01"), reason="too much", actor=admin_user
        )
    with pytest.raises(RefundRejected):
        services.refund_payment(payment=payment, amount=Decimal("0"), reason="", actor=None)
    services.refund_payment(
        payment=payment, amount=Decimal("10.00"), reason="one item back", actor=admin_user
    )
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == PaymentState.PARTIALLY_REFUNDED
    assert order.state == OrderState.PARTIALLY_REFUNDED
    assert order.total_refunded == Decimal("10.00")
    with pytest.raises(RefundRejected):
        services.refund_payment(payment=payment, amount=Decimal("15.01"), reason="", actor=None)
    services.refund_payment(payment=payment, amount=Decimal("15.00"), reason="rest", actor=None)
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == PaymentState.REFUNDED and payment.refundable == 0
    assert order.state == OrderState.REFUNDED and order.total_refunded == order.total_paid
    refunds = list(Refund.objects.order_by("pk"))
    assert [r.amount for r in refunds] == [Decimal("10.00"), Decimal("15.00")]
    assert refunds[0].actor == admin_user and refunds[0].reference.startswith("sbre_")
    assert OrderEvent.objects.filter(order=order, to_state=OrderState.REFUNDED).count() == 1


def test_a_pending_payment_cannot_be_refunded():
    payment = start(sandbox_order())
    with pytest.raises(RefundRejected):
        services.refund_payment(payment=payment, amount=Decimal("1.00"), reason="", actor=None)
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
    assert payment.state == PaymentState.CAPTURED and order.state == OrderState.PAID
    event = OrderEvent.objects.get(order=order, to_state=OrderState.PAID)
    assert event.actor == admin_user
    with pytest.raises(NotPayable):
        start(order, provider="manual")


def test_reconcile_lists_and_repairs(admin_user):
    # 1. A captured payment whose order is still unpaid (e.g. mark_paid lost in a crash).
    order = sandbox_order()
    payment = start(order)
    Payment.objects.filter(pk=payment.pk).update(state=PaymentState.CAPTURED)
    # 2. An order paid by hand with no payment row, by bank transfer: repairable.
    manual = sandbox_order()
    start(manual, provider="manual")
    from orders.services import mark_paid

    Payment.objects.filter(order=manual).delete()
    mark_paid(order=manual, amount=manual.total)
    found = services.find_discrepancies()
    assert sorted(item.kind for item in found) == ["captured_unpaid", "paid_uncaptured"]
    assert all(item.repairable for item in found)
    for item in found:
        services.repair(item)
    assert services.find_discrepancies() == []
    order.refresh_from_db()
    assert order.state == OrderState.PAID
    assert Payment.objects.get(order=manual).state == PaymentState.CAPTURED
