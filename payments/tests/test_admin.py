from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from orders.models import Order, OrderState
from payments.models import Payment, PaymentState, Refund
from payments.tests.factories import deliver, sandbox_order, start

pytestmark = pytest.mark.django_db


def test_order_admin_shows_payments_and_refund_link(admin_client):
    order = sandbox_order()
    payment = start(order)
    deliver(payment)
    html = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "sandbox" in html
    assert reverse("admin:payments_payment_refund", args=[payment.pk]) in html
    for name in ("admin:payments_payment_changelist", "admin:payments_paymentevent_changelist"):
        assert admin_client.get(reverse(name)).status_code == 200
    page = admin_client.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    assert page.status_code == 200 and "payment.captured" in page.content.decode()
    event = payment.events.get()
    page = admin_client.get(reverse("admin:payments_paymentevent_change", args=[event.pk]))
    assert page.status_code == 200 and 'name="payload"' not in page.content.decode()


def test_refund_form_partial_then_too_much(admin_client, admin_user):
    order = sandbox_order(price=Decimal("20.00"))
    payment = start(order)
    deliver(payment)
    url = reverse("admin:payments_payment_refund", args=[payment.pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"amount": "5.00", "reason": "scratched"})
    assert response.status_code == 302
    refund = Refund.objects.get()
    assert refund.actor == admin_user and refund.amount == Decimal("5.00")
    order.refresh_from_db()
    assert order.state == OrderState.PARTIALLY_REFUNDED
    response = admin_client.post(url, {"amount": "20.01", "reason": ""})
    assert response.status_code == 400 and Refund.objects.count() == 1
    response = admin_client.post(url, {"amount": "abc"})
    assert response.status_code == 400


def test_mark_paid_action_for_bank_transfer(admin_client, admin_user):
    order = sandbox_order()
    start(order, provider="manual")
    response = admin_client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "mark_paid", "_selected_action": [order.pk]},
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.state == OrderState.PAID
    payment = Payment.objects.get()
    assert payment.state == PaymentState.CAPTURED
    assert payment.changes.filter(to_state=PaymentState.CAPTURED, actor=admin_user).exists()


def test_reconcile_command_lists_then_applies():
    order = sandbox_order()
    payment = start(order)
    Payment.objects.filter(pk=payment.pk).update(state=PaymentState.CAPTURED)
    out = StringIO()
    call_command("reconcile_payments", stdout=out)
    assert "captured_unpaid" in out.getvalue() and order.number in out.getvalue()
    assert Order.objects.get().state == OrderState.PENDING_PAYMENT
    out = StringIO()
    call_command("reconcile_payments", "--apply", stdout=out)
    assert "1 repaired" in out.getvalue()
    assert Order.objects.get().state == OrderState.PAID
    out = StringIO()
    call_command("reconcile_payments", stdout=out)
    assert "0 discrepancies" in out.getvalue()
