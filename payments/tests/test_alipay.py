"""Alipay offline: key pairs made here, notifications signed as Alipay signs them and sent
through the real view (the SDK's own verification runs), server calls answered by a fake
gateway at the HTTP layer (payments/tests/alipay_fakes.py)."""

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
from datetime import datetime, timedelta
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders import services as order_services
from orders.models import Order, OrderEvent
from orders.selectors import guest_key
from orders.tests.factories import order_of
from payments import services
from payments.errors import ProviderUnavailable
from payments.models import Payment, PaymentEvent, PaymentState, Refund
from payments.providers.alipay import provider as alipay_provider
from payments.tests import alipay_fakes as fakes
from payments.tests.factories import RETURN

pytestmark = pytest.mark.django_db

APP = fakes.KeyPair.new()
ALIPAY = fakes.KeyPair.new()
#: Someone who is not Alipay.
FORGER = fakes.KeyPair.new()
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148 Safari/604.1"
NOTIFY = "/payments/webhook/alipay/"


@pytest.fixture(autouse=True)
def alipay_on(settings):
    settings.SHOP_CURRENCY = "CNY"
    settings.PAYMENT_PROVIDERS = ["manual", "alipay"]
    settings.SHOP_PAYMENT_METHODS = [(c, c) for c in settings.PAYMENT_PROVIDERS]
    settings.ALIPAY_APP_ID = fakes.APP_ID
    settings.ALIPAY_SELLER_ID = fakes.SELLER_ID
    settings.ALIPAY_APP_PRIVATE_KEY = APP.private_pem
    settings.ALIPAY_PUBLIC_KEY = ALIPAY.public_pem
    settings.ALIPAY_SANDBOX = True
    settings.SHOP_URL = "https://shop.example.cn"


@pytest.fixture
def gateway():
    with fakes.gateway(APP, ALIPAY) as fake:
        yield fake


def alipay_order(price=Decimal("12.34")):
    """A placed order in CNY awaiting Alipay (total = price + 5.00)."""
    order, _variant = order_of(1, price=price, payment="alipay")
    return order


@pytest.fixture
def payment():
    order = alipay_order()
    paid, _result = services.start_payment(
        order=order, provider_code="alipay", return_url=RETURN, cancel_url=RETURN
    )
    return paid


def notify(client, params):
    return client.post(
        NOTIFY, data=fakes.form(params), content_type="application/x-www-form-urlencoded"
    )


def redirect_params(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


# --- Starting -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agent", "method", "product"),
    [
        (DESKTOP, "alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"),
        (PHONE, "alipay.trade.wap.pay", "QUICK_WAP_PAY"),
    ],
)
def test_checkout_sends_desktops_to_page_pay_and_phones_to_wap_pay(
    client, django_assert_max_num_queries, agent, method, product
):
    order = alipay_order()
    url = reverse("payments:start", kwargs={"number": order.number})
    url += "?key=" + guest_key(number=order.number)
    with django_assert_max_num_queries(20):
        response = client.get(url, headers={"User-Agent": agent})
    assert response.status_code == 302
    target = response["Location"]
    assert target.startswith("https://openapi-sandbox.dl.alipaydev.com/gateway.do?")
    params = redirect_params(target)
    # Signed with the app's private key as Alipay checks it.
    assert APP.verifies(fakes.content_to_sign(params, request=True), params["sign"])
    # Alipay reads its timestamps in Beijing time.
    sent = datetime.strptime(params["timestamp"], "%Y-%m-%d %H:%M:%S")
    beijing_now = timezone.localtime(timezone.now(), ZoneInfo("Asia/Shanghai"))
    assert abs(sent - beijing_now.replace(tzinfo=None)) < timedelta(minutes=2)
    assert params["method"] == method and params["app_id"] == fakes.APP_ID
    assert params["notify_url"] == "https://shop.example.cn/payments/webhook/alipay/"
    assert params["return_url"].startswith("http://testserver/payments/return/")
    biz = json.loads(params["biz_content"])
    payment = Payment.objects.get()
    assert biz["out_trade_no"] == payment.reference
    assert payment.reference == f"{order.number.replace('-', '')}_{payment.pk}"
    assert biz["total_amount"] == "17.34" and biz["product_code"] == product
    assert biz["time_expire"]  # Beijing time, the order's deadline
    assert ("quit_url" in biz) == (method == "alipay.trade.wap.pay")
    order.refresh_from_db()
    assert payment.expires_at and order.payment_deadline >= payment.expires_at


def test_the_notify_url_is_the_same_for_a_chinese_shopper(client):
    order = alipay_order()
    url = reverse("payments:start", kwargs={"number": order.number})
    response = client.get(f"/zh-hans{url}?key={guest_key(number=order.number)}")
    params = redirect_params(response["Location"])
    assert params["notify_url"] == "https://shop.example.cn/payments/webhook/alipay/"
    assert json.loads(params["biz_content"])["subject"] == f"订单 {order.number}"
    assert "/zh-hans/payments/return/" in params["return_url"]


def test_alipay_refuses_anything_but_yuan(settings):
    settings.SHOP_CURRENCY = "USD"
    order = alipay_order()
    with pytest.raises(ProviderUnavailable, match="CNY"):
        services.start_payment(
            order=order, provider_code="alipay", return_url=RETURN, cancel_url=RETURN
        )
    assert Payment.objects.get().state == PaymentState.FAILED


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SHOP_CURRENCY": "USD"}, "Alipay takes CNY only"),
        ({"SHOP_CURRENCY": "CNY"}, "Set ALIPAY_APP_ID"),
    ],
)
def test_settings_refuse_alipay_without_yuan_or_keys(env, message, tmp_path):
    environment = {"PATH": "/usr/bin:/bin", "PAYMENT_PROVIDERS": "manual,alipay", **env}
    done = subprocess.run(
        [sys.executable, "-c", "import shop.settings"],
        env=environment,
        capture_output=True,
        text=True,
        cwd=str(settings.BASE_DIR),
        timeout=60,
        check=False,
    )
    assert done.returncode != 0 and message in done.stderr


def test_settings_read_the_keys_from_files(tmp_path):
    (tmp_path / "app.pem").write_text(APP.private_pem)
    (tmp_path / "alipay.pem").write_text(ALIPAY.public_pem)
    environment = {
        "PATH": "/usr/bin:/bin",
        "PAYMENT_PROVIDERS": "manual,alipay",
        "SHOP_CURRENCY": "CNY",
        "ALIPAY_APP_ID": fakes.APP_ID,
        "ALIPAY_APP_PRIVATE_KEY_FILE": str(tmp_path / "app.pem"),
        "ALIPAY_PUBLIC_KEY_FILE": str(tmp_path / "alipay.pem"),
    }
    code = "from shop import settings as s; print(s.ALIPAY_PUBLIC_KEY == open(%r).read())"
    done = subprocess.run(
        [sys.executable, "-c", code % str(tmp_path / "alipay.pem")],
        env=environment,
        capture_output=True,
        text=True,
        cwd=str(settings.BASE_DIR),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


# --- Notifications ------------------------------------------------------------------------


def test_a_valid_notification_pays_once_and_is_answered_success(client, payment):
    params = fakes.notification(payment, key=ALIPAY)
    first = notify(client, params)
    assert first.status_code == 200 and first.content == b"success"
    again = notify(client, params)
    assert again.content == b"success"
    order = Order.objects.get()
    assert order.payment_status == "paid" and order.total_paid == Decimal("17.34")
    payment.refresh_from_db()
    assert payment.state == PaymentState.CAPTURED
    assert OrderEvent.objects.filter(order=order, to_status="paid").count() == 1
    assert PaymentEvent.objects.filter(processed=True).count() == 1
    assert PaymentEvent.objects.filter(duplicate=True).count() == 1


def test_trade_finished_captures_and_an_empty_field_is_left_out_of_the_signature(client, payment):
    params = fakes.notification(payment, key=ALIPAY, status="TRADE_FINISHED", body="")
    assert notify(client, params).content == b"success"
    assert Order.objects.get().payment_status == "paid"


def test_wait_buyer_pay_is_stored_and_changes_nothing(client, payment):
    params = fakes.notification(payment, key=ALIPAY, status="WAIT_BUYER_PAY")
    assert notify(client, params).content == b"success"
    payment.refresh_from_db()
    assert payment.state == PaymentState.PENDING
    assert Order.objects.get().payment_status == "unpaid"


def _tampered(payment):
    params = fakes.notification(payment, key=ALIPAY)
    return {**params, "total_amount": "0.01"}


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda p: fakes.notification(p, key=FORGER), id="forged"),
        pytest.param(_tampered, id="tampered"),
        pytest.param(
            lambda p: {k: v for k, v in fakes.notification(p, key=ALIPAY).items() if k != "sign"},
            id="unsigned",
        ),
        pytest.param(
            lambda p: fakes.notification(p, key=ALIPAY, total_amount="1.00"),
            id="signed-other-amount",
        ),
        pytest.param(
            lambda p: fakes.notification(p, key=ALIPAY, app_id="2021000000009999"),
            id="other-app",
        ),
        pytest.param(
            lambda p: fakes.notification(p, key=ALIPAY, seller_id="2088000000009999"),
            id="other-seller",
        ),
        pytest.param(
            lambda p: fakes.notification(p, key=ALIPAY, out_trade_no="NOT_OURS_1"),
            id="unknown-trade",
        ),
        pytest.param(
            lambda p: {**fakes.notification(p, key=ALIPAY), "sign_type": "RSA"}, id="rsa1"
        ),
        pytest.param(
            lambda p: {**fakes.notification(p, key=ALIPAY), "sign": "!!not base64!!"},
            id="garbled-signature",
        ),
    ],
)
def test_bad_notifications_change_nothing_and_get_failure(client, payment, make):
    response = notify(client, make(payment))
    assert response.status_code == 200 and response.content == b"failure"
    payment.refresh_from_db()
    assert payment.state == PaymentState.PENDING
    order = Order.objects.get()
    assert order.payment_status == "unpaid" and order.total_paid == 0
    assert not PaymentEvent.objects.filter(processed=True, flagged=False).exists()


def test_a_genuine_notification_replayed_with_another_amount_is_flagged_every_time(client, payment):
    params = fakes.notification(payment, key=ALIPAY, total_amount="1.00")
    assert notify(client, params).content == b"failure"
    assert notify(client, params).content == b"failure"  # Alipay's retry: still no
    payment.refresh_from_db()
    assert payment.flagged and "1.00" in payment.flag_reason
    assert Order.objects.get().payment_status == "unpaid"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00garbage", "application/x-www-form-urlencoded"),
        (b'{"trade_status": "TRADE_SUCCESS"}', "application/json"),
        (b"a=" + b"x" * 70_000, "application/x-www-form-urlencoded"),
    ],
)
def test_junk_posted_to_notify_gets_failure_never_a_500(client, payment, body, content_type):
    response = client.post(NOTIFY, data=body, content_type=content_type)
    assert response.status_code == 200 and response.content == b"failure"
    assert Order.objects.get().payment_status == "unpaid"


def test_notify_takes_posts_only(client):
    assert client.get(NOTIFY).status_code == 405


def test_a_refund_made_at_alipay_is_recorded_from_its_notification(client, payment):
    notify(client, fakes.notification(payment, key=ALIPAY))
    refund = fakes.notification(
        payment,
        key=ALIPAY,
        notify_id="refund-notify-1",
        refund_fee="7.34",
        gmt_refund="2026-12-02 10:00:00.000",
        out_biz_no="HZRF001",
    )
    assert notify(client, refund).content == b"success"
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("7.34")
    assert payment.state == PaymentState.PARTIALLY_REFUNDED


# --- Return page --------------------------------------------------------------------------


def _return_url(order, params):
    url = reverse("payments:return", kwargs={"number": order.number})
    key = guest_key(number=order.number)
    return url + "?" + urllib.parse.urlencode({"key": key, **params})


def _return_params(payment, key=ALIPAY):
    return fakes.signed(
        {
            "charset": "utf-8",
            "out_trade_no": payment.reference,
            "method": "alipay.trade.page.pay.return",
            "total_amount": f"{payment.amount:.2f}",
            "trade_no": "2026120122001404000000001",
            "auth_app_id": fakes.APP_ID,
            "version": "1.0",
            "app_id": fakes.APP_ID,
            "seller_id": fakes.SELLER_ID,
            "timestamp": "2026-12-01 10:00:01",
        },
        key,
    )


def _trade(payment, status):
    return {
        "code": "10000",
        "msg": "Success",
        "trade_no": "2026120122001404000000001",
        "out_trade_no": payment.reference,
        "trade_status": status,
        "total_amount": f"{payment.amount:.2f}",
        "buyer_logon_id": "ada***@example.com",
    }


def test_a_signed_return_asks_alipay_and_shows_paid(
    client, payment, gateway, django_assert_max_num_queries
):
    gateway.answers["alipay.trade.query"] = _trade(payment, "TRADE_SUCCESS")
    with django_assert_max_num_queries(60):
        response = client.get(_return_url(payment.order, _return_params(payment)))
    assert response.status_code == 200 and "Refresh" not in response
    assert "payment-result--paid" in response.content.decode()
    [call] = gateway.calls
    assert call.signature_valid and call.method == "alipay.trade.query"
    assert call.biz == {"out_trade_no": payment.reference}
    assert Order.objects.get().payment_status == "paid"
    # The notification that follows changes nothing more.
    assert notify(client, fakes.notification(payment, key=ALIPAY)).content == b"success"
    assert OrderEvent.objects.filter(to_status="paid").count() == 1


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda p: _return_params(p, key=FORGER), id="forged"),
        pytest.param(lambda p: {**_return_params(p), "total_amount": "0.01"}, id="tampered"),
    ],
)
def test_an_unsigned_return_never_pays_nor_asks(client, payment, gateway, make):
    gateway.answers["alipay.trade.query"] = _trade(payment, "TRADE_SUCCESS")
    response = client.get(_return_url(payment.order, make(payment)))
    assert response.status_code == 200
    assert "payment-result--pending" in response.content.decode()
    assert gateway.calls == []
    assert Order.objects.get().payment_status == "unpaid"


def test_a_return_while_alipay_is_unreachable_shows_processing(client, payment, gateway):
    gateway.answers["alipay.trade.query"] = urllib.error.URLError("timed out")
    response = client.get(_return_url(payment.order, _return_params(payment)))
    assert response.status_code == 200 and "Refresh" in response
    assert Order.objects.get().payment_status == "unpaid"


# --- Refunds ------------------------------------------------------------------------------


def _paid(client, payment):
    assert notify(client, fakes.notification(payment, key=ALIPAY)).content == b"success"
    order = Order.objects.get()
    return order


def test_refund_goes_through_alipay_with_one_out_request_no_per_refund(
    client, payment, gateway, admin_user
):
    order = _paid(client, payment)
    gateway.answers["alipay.trade.refund"] = {
        "code": "10000",
        "msg": "Success",
        "trade_no": "2026120122001404000000001",
        "out_trade_no": payment.reference,
        "refund_fee": "12.34",
        "fund_change": "Y",
    }
    plan = order_services.plan_refund(
        order=order, quantities={order.lines.get().pk: 1}, reason="damaged"
    )
    services.refund_order(plan=plan, actor=admin_user, confirmed=False)
    refund = Refund.objects.get()
    [call] = gateway.calls
    assert call.signature_valid and call.method == "alipay.trade.refund"
    assert call.params["app_id"] == fakes.APP_ID and call.params["sign_type"] == "RSA2"
    assert call.biz == {
        "refund_amount": "12.34",
        "out_trade_no": payment.reference,
        "out_request_no": f"refund-{refund.pk}",
    }
    assert refund.status == "succeeded" and refund.reference == f"refund-{refund.pk}"
    order.refresh_from_db()
    assert order.total_refunded == Decimal("12.34")
    assert order.payment_status == "partially_refunded"


def test_a_refund_alipay_refuses_is_due_and_flagged_then_sent_again_with_the_same_number(
    client, payment, gateway, admin_user
):
    order = _paid(client, payment)
    gateway.answers["alipay.trade.refund"] = {
        "code": "40004",
        "msg": "Business Failed",
        "sub_code": "ACQ.SELLER_BALANCE_NOT_ENOUGH",
        "sub_msg": "卖家余额不足",
    }
    plan = order_services.plan_refund(order=order, quantities={order.lines.get().pk: 1})
    services.refund_order(plan=plan, actor=admin_user, confirmed=False)
    refund = Refund.objects.get()
    payment.refresh_from_db()
    assert refund.status == "due" and payment.flagged and "卖家余额不足" in payment.flag_reason
    assert Order.objects.get().total_refunded == 0
    gateway.answers["alipay.trade.refund"] = {"code": "10000", "msg": "Success"}
    services.record_refund_sent(refund=refund, actor=admin_user)
    first, second = gateway.calls
    assert first.biz["out_request_no"] == second.biz["out_request_no"] == f"refund-{refund.pk}"
    refund.refresh_from_db()
    assert refund.status == "succeeded"


def test_a_forged_gateway_answer_is_not_believed(client, payment, gateway, admin_user):
    order = _paid(client, payment)
    gateway.alipay = FORGER  # someone in the middle answers "Success"
    gateway.answers["alipay.trade.refund"] = {"code": "10000", "msg": "Success"}
    plan = order_services.plan_refund(order=order, quantities={order.lines.get().pk: 1})
    services.refund_order(plan=plan, actor=admin_user, confirmed=False)
    assert Refund.objects.get().status == "due"
    assert Order.objects.get().total_refunded == 0


# --- Reconciliation -----------------------------------------------------------------------


def _past_deadline(payment):
    Order.objects.filter(pk=payment.order_id).update(
        payment_deadline=timezone.now() - timedelta(minutes=5)
    )


def reconcile(*args) -> str:
    out = StringIO()
    call_command("reconcile_payments", *args, stdout=out)
    return out.getvalue()


def test_reconcile_finds_a_payment_whose_notification_was_lost(payment, gateway):
    _past_deadline(payment)
    gateway.answers["alipay.trade.query"] = _trade(payment, "TRADE_SUCCESS")
    listed = reconcile()
    assert f"open_payment\torder {payment.order.number}\tpayment {payment.pk}\tcaptured" in listed
    assert Order.objects.get().payment_status == "unpaid"  # listed, not changed
    reconcile("--apply")
    assert Order.objects.get().payment_status == "paid"
    assert {(call.method, call.signature_valid) for call in gateway.calls} == {
        ("alipay.trade.query", True)
    }
    assert "open_payment" not in reconcile()  # nothing open any more


def test_reconcile_closes_the_trade_of_an_expired_order(payment, gateway):
    _past_deadline(payment)
    assert order_services.expire_unpaid_orders() == 1
    gateway.answers["alipay.trade.query"] = _trade(payment, "WAIT_BUYER_PAY")
    gateway.answers["alipay.trade.close"] = {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": payment.reference,
    }
    assert "\tto_close\t" in reconcile()
    payment.refresh_from_db()
    assert payment.state == PaymentState.PENDING
    assert "\tclosed\t" in reconcile("--apply")
    close = gateway.calls[-1]
    assert close.method == "alipay.trade.close" and close.signature_valid
    assert close.biz == {"out_trade_no": payment.reference}
    payment.refresh_from_db()
    assert payment.state == PaymentState.CANCELLED


def test_reconcile_cancels_a_payment_alipay_closed_and_skips_one_never_opened(payment, gateway):
    _past_deadline(payment)
    gateway.answers["alipay.trade.query"] = {
        "code": "40004",
        "msg": "Business Failed",
        "sub_code": "ACQ.TRADE_NOT_EXIST",
    }
    assert "\topen\t" in reconcile("--apply")  # the order has not expired yet
    gateway.answers["alipay.trade.query"] = _trade(payment, "TRADE_CLOSED")
    assert "\tcancelled\t" in reconcile("--apply")
    payment.refresh_from_db()
    assert payment.state == PaymentState.CANCELLED


def test_reconcile_says_when_alipay_cannot_be_reached(payment, gateway):
    _past_deadline(payment)
    gateway.answers["alipay.trade.query"] = urllib.error.URLError("no route to host")
    assert "\tunreachable\t" in reconcile("--apply")
    payment.refresh_from_db()
    assert payment.state == PaymentState.PENDING


def test_cancelling_a_paid_order_elsewhere_closes_the_open_alipay_trade(payment, gateway):
    gateway.answers["alipay.trade.close"] = {"code": "10000", "msg": "Success"}
    services.cancel_order(order=payment.order, actor=None, by_shopper=False)
    assert [call.method for call in gateway.calls] == ["alipay.trade.close"]
    payment.refresh_from_db()
    assert payment.state == PaymentState.CANCELLED
    assert alipay_provider.queryable


# --- Concurrency (PostgreSQL) ---------------------------------------------------------------

#: 50 deliveries of one notification at once. PostgreSQL's max_connections (100) is shared
#: with other test databases: 25 threads (25 connections, like 25 web workers) each post
#: twice, all released by one barrier.
DELIVERIES = 50
THREADS = 25


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_50_notifications_at_once_pay_once(postgres_only, payment):
    params = fakes.notification(payment, key=ALIPAY)
    barrier = threading.Barrier(THREADS)
    answers, errors = [], []

    def deliver():
        try:
            own = Client()
            barrier.wait()
            for _i in range(DELIVERIES // THREADS):
                answers.append(notify(own, params).content)
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
    assert answers == [b"success"] * DELIVERIES
    order = Order.objects.get()
    assert order.payment_status == "paid" and order.total_paid == payment.amount
    assert OrderEvent.objects.filter(order=order, kind="payment", to_status="paid").count() == 1
    assert PaymentEvent.objects.count() == DELIVERIES
    assert PaymentEvent.objects.filter(processed=True).count() == 1
    assert PaymentEvent.objects.filter(duplicate=True).count() == DELIVERIES - 1
