"""One WeChat Pay notification delivered 50 times at once, on PostgreSQL, through the real
webhook (each delivery verified and decrypted by the SDK): one capture, one order
transition, 50 stored deliveries, every one answered 200."""

import threading
from decimal import Decimal

import pytest
import responses
from django.db import connections
from django.test import Client

from orders.models import OrderEvent
from orders.tests.factories import order_of
from payments.models import PaymentEvent, PaymentState, PaymentStateChange
from payments.tests.factories import start
from payments.tests.wechat import API, WeChatPaySide, deliver, paid_resource

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DELIVERIES = 50
#: 25 threads (25 connections, like 25 web workers; other test databases share the server's
#: 100) each deliver twice, all at once.
THREADS = 25


def test_50_concurrent_notifications_pay_once(postgres_only, settings):
    side = WeChatPaySide.make()
    side.configure(settings)
    order, _variant = order_of(1, price=Decimal("12.34"), payment="wechatpay")
    with responses.RequestsMock() as api:
        api.add_callback(
            responses.POST,
            API + "/v3/pay/transactions/native",
            callback=side.answer(200, {"code_url": "weixin://wxpay/bizpayurl?pr=x"}),
        )
        payment = start(order, provider="wechatpay")
    body, headers = side.notification(paid_resource(payment))
    barrier = threading.Barrier(THREADS)
    statuses, errors = [], []

    def notify():
        try:
            client = Client()
            barrier.wait()
            for _i in range(DELIVERIES // THREADS):
                statuses.append(deliver(client, body, headers).status_code)
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=notify) for _i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert statuses == [200] * DELIVERIES
    order.refresh_from_db()
    assert order.payment_status == "paid" and order.total_paid == Decimal("17.34")
    assert OrderEvent.objects.filter(order=order, kind="payment", to_status="paid").count() == 1
    assert PaymentEvent.objects.count() == DELIVERIES
    assert PaymentEvent.objects.filter(processed=True).count() == 1
    assert PaymentEvent.objects.filter(duplicate=True).count() == DELIVERIES - 1
    payment.refresh_from_db()
    assert payment.state == PaymentState.CAPTURED
    assert PaymentStateChange.objects.filter(to_state=PaymentState.CAPTURED).count() == 1
