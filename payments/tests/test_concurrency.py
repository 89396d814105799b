"""100 deliveries of one valid callback at once, on PostgreSQL: one capture, one order
transition, 100 stored deliveries."""

import threading

import pytest
from django.db import connections

from orders.models import OrderEvent
from payments import gateway, services
from payments.models import Payment, PaymentEvent, PaymentState, PaymentStateChange
from payments.tests.factories import sandbox_order, start

DELIVERIES = 100
#: PostgreSQL's default max_connections is 100 and other test databases share the server:
#: 25 threads (25 connections, like 25 web workers) each deliver 4 times, all at once.
THREADS = 25


@pytest.mark.django_db(transaction=True)
def test_100_concurrent_deliveries_capture_once(postgres_only):
    order = sandbox_order()
    payment = start(order)
    body, headers = gateway.build_callback(payment=payment, outcome="pay")
    barrier = threading.Barrier(THREADS)
    errors = []

    def deliver():
        try:
            barrier.wait()
            for _i in range(DELIVERIES // THREADS):
                services.receive_callback(provider_code="sandbox", body=body, headers=headers)
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    order.refresh_from_db()
    assert order.payment_status == "paid" and order.total_paid == order.total
    assert OrderEvent.objects.filter(order=order, kind="payment", to_status="paid").count() == 1
    assert PaymentEvent.objects.count() == DELIVERIES
    assert PaymentEvent.objects.filter(processed=True).count() == 1
    assert PaymentEvent.objects.filter(duplicate=True).count() == DELIVERIES - 1
    assert Payment.objects.get().state == PaymentState.CAPTURED
    assert PaymentStateChange.objects.filter(to_state=PaymentState.CAPTURED).count() == 1
