"""reconcile_payments on Celery beat: the schedule names the task, and the task repairs."""

import pytest
from django.conf import settings

from orders.models import Order
from payments import tasks
from payments.models import Payment, PaymentState
from payments.tests.factories import sandbox_order, start
from shop.celery import app


def test_beat_runs_reconcile_payments_hourly():
    entry = settings.CELERY_BEAT_SCHEDULE["payments-reconcile"]
    assert entry["task"] == "payments.tasks.reconcile_payments"
    assert entry["schedule"] == 3600.0
    app.loader.import_default_modules()  # as a worker does: the name is a registered task
    assert entry["task"] in app.tasks and tasks.reconcile_payments.name == entry["task"]


@pytest.mark.django_db
def test_the_scheduled_task_repairs_a_lost_capture():
    order = sandbox_order()
    payment = start(order)
    Payment.objects.filter(pk=payment.pk).update(state=PaymentState.CAPTURED)
    result = tasks.reconcile_payments.delay().get()  # inline without a broker, as in tests
    assert result == {"asked": 0, "discrepancies": 1, "repaired": 1}
    assert Order.objects.get().payment_status == "paid"
    assert tasks.reconcile_payments.delay().get() == {
        "asked": 0,
        "discrepancies": 0,
        "repaired": 0,
    }
