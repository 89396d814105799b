from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse

from accounts.tests.factories import UserFactory
from orders.models import Order
from payments.models import Payment, PaymentState, Refund
from payments.tests.factories import deliver, sandbox_order, start

pytestmark = pytest.mark.django_db


def test_order_admin_shows_payments_and_refund_link(admin_client):
    order = sandbox_order()
    payment = start(order)
    deliver(payment)
    html = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "Card (sandbox gateway)" in html  # the method by its name, never its code
    assert reverse("admin:orders_order_refund", args=[order.pk]) in html
    for name in ("admin:payments_payment_changelist", "admin:payments_paymentevent_changelist"):
        assert admin_client.get(reverse(name)).status_code == 200
    page = admin_client.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    assert page.status_code == 200 and "payment.captured" in page.content.decode()
    event = payment.events.get()
    page = admin_client.get(reverse("admin:payments_paymentevent_change", args=[event.pk]))
    assert page.status_code == 200 and 'name="payload"' not in page.content.decode()


def test_refund_page_states_the_amount_before_refunding_lines(admin_client, admin_user):
    order = sandbox_order(price=Decimal("20.00"), quantity=2)  # total 45.00
    deliver(start(order))
    line = order.lines.get()
    url = reverse("admin:orders_order_refund", args=[order.pk])
    assert admin_client.get(url).status_code == 200
    data = {f"line_{line.pk}": "1", f"restock_{line.pk}": "on", "reason": "scratched"}
    response = admin_client.post(url, data)
    assert response.status_code == 200 and "Refund $20.00 now" in response.content.decode()
    assert not Refund.objects.exists()  # nothing sent before the confirmation
    response = admin_client.post(url, {**data, "confirm": "1"})
    assert response.status_code == 302
    refund = Refund.objects.get()
    assert refund.actor == admin_user and refund.amount == Decimal("20.00")
    order.refresh_from_db()
    assert order.payment_status == "partially_refunded"
    response = admin_client.post(url, {f"line_{line.pk}": "2", "confirm": "1"})
    assert response.status_code == 400 and Refund.objects.count() == 1
    response = admin_client.post(url, {f"line_{line.pk}": "abc"})
    assert response.status_code == 400


def test_cancel_page_cancels_and_refunds(admin_client):
    order = sandbox_order()
    deliver(start(order))
    url = reverse("admin:orders_order_cancel", args=[order.pk])
    assert "goes back to the shopper" in admin_client.get(url).content.decode()
    assert admin_client.post(url, {}).status_code == 302
    order.refresh_from_db()
    assert (order.status, order.payment_status) == ("cancelled", "refunded")


def test_mark_paid_action_for_bank_transfer(admin_client, admin_user):
    order = sandbox_order()
    start(order, provider="manual")
    response = admin_client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "mark_paid", "_selected_action": [order.pk]},
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.payment_status == "paid"
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
    assert Order.objects.get().payment_status == "unpaid"
    out = StringIO()
    call_command("reconcile_payments", "--apply", stdout=out)
    assert "1 repaired" in out.getvalue()
    assert Order.objects.get().payment_status == "paid"
    out = StringIO()
    call_command("reconcile_payments", stdout=out)
    assert "0 discrepancies" in out.getvalue()


def test_a_flag_is_cleared_by_a_person_and_its_reason_kept(admin_client, admin_user):
    flagged, plain = start(sandbox_order()), start(sandbox_order())
    deliver(flagged, amount=Decimal("1.00"))  # a capture for the wrong amount
    flagged.refresh_from_db()
    reason = flagged.flag_reason
    assert flagged.flagged and "mismatch" in reason
    dashboard = admin_client.get(reverse("admin:index")).content.decode()
    assert "Payments flagged for review" in dashboard

    url = reverse("admin:payments_payment_changelist")
    response = admin_client.post(
        url, {"action": "clear_flag", "_selected_action": [flagged.pk, plain.pk]}, follow=True
    )
    assert "1 flag cleared" in response.content.decode()
    flagged.refresh_from_db()
    assert not flagged.flagged and flagged.flag_reason == ""
    assert flagged.state == PaymentState.PENDING  # clearing the flag moves no money
    change = flagged.changes.get(actor=admin_user)
    assert change.from_state == change.to_state == PaymentState.PENDING
    assert change.note == f"Flag cleared: {reason}"

    # Again, or on a payment never flagged: nothing changes, and the merchant is told.
    response = admin_client.post(
        url, {"action": "clear_flag", "_selected_action": [flagged.pk]}, follow=True
    )
    assert "None of the chosen payments was flagged." in response.content.decode()
    assert flagged.changes.filter(actor=admin_user).count() == 1


def test_only_staff_who_may_change_payments_clear_a_flag(client):
    payment = start(sandbox_order())
    deliver(payment, amount=Decimal("1.00"))
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_payment"))
    client.force_login(viewer)
    response = client.post(
        reverse("admin:payments_payment_changelist"),
        {"action": "clear_flag", "_selected_action": [payment.pk]},
    )
    assert response.status_code in (200, 302, 403)
    payment.refresh_from_db()
    assert payment.flagged
