"""The wallets' offline demo (payments/wallet_demo): the SDKs' calls and the demo's
notifications travel as HTTP; here `responses` (requests) and a urllib handler carry them
to the test client, so every one goes through the shop's real views: the notify endpoint
and the SDKs' own verification and decryption included."""

import io
import json
import os
import re
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
import urllib.response
from decimal import Decimal
from email.message import Message
from pathlib import Path

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.checks import run_checks
from django.test import Client
from django.urls import reverse
from django.utils import translation

from orders.models import Order
from orders.selectors import guest_key
from orders.tests.factories import order_of
from payments.models import PaymentEvent, PaymentState
from payments.providers.alipay import provider as alipay_provider
from payments.tests.factories import enable_wallets_demo
from payments.wallet_demo import keys as demo_keys

pytestmark = pytest.mark.django_db

DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148 Safari/604.1"
SHOP = "http://testserver"


@pytest.fixture(scope="session")
def keys_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wallets-demo") / "keys.json"
    demo_keys.load_or_create(path)
    return path


@pytest.fixture
def demo(settings, keys_file):
    enable_wallets_demo(settings, keys_file)
    settings.SHOP_URL = SHOP
    return settings


class ToTestClient(urllib.request.HTTPHandler):
    """urllib's HTTP (python-alipay-sdk's server calls) answered by the shop's views."""

    def http_open(self, request):
        url = urllib.parse.urlsplit(request.full_url)
        with translation.override(translation.get_language()):
            answer = Client().get(f"{url.path}?{url.query}")
        headers = Message()
        headers["Content-Type"] = answer["Content-Type"]
        response = urllib.response.addinfourl(
            io.BytesIO(answer.content), headers, request.full_url, answer.status_code
        )
        response.msg = "OK"
        return response


@pytest.fixture
def shop_over_http():
    """Every HTTP call to SHOP_URL (requests and urllib) is answered by the shop's views."""

    def reply(request):
        url = urllib.parse.urlsplit(request.url)
        body = request.body or b""
        # The nested request runs in this thread: it must not change the outer one's language.
        with translation.override(translation.get_language()):
            answer = _send(request, url, body)
        return answer.status_code, dict(answer.items()), answer.content

    def _send(request, url, body):
        return Client().generic(
            request.method,
            f"{url.path}?{url.query}" if url.query else url.path,
            data=body.encode() if isinstance(body, str) else body,
            content_type=request.headers.get("Content-Type", ""),
            headers={
                k: v
                for k, v in request.headers.items()
                if k.lower().startswith("wechatpay") or k == "Authorization"
            },
        )

    urllib.request.install_opener(urllib.request.build_opener(ToTestClient()))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        for method in ("GET", "POST"):
            http.add_callback(method, re.compile(re.escape(SHOP) + "/.*"), callback=reply)
        yield http
    urllib.request.install_opener(None)


def placed(payment: str, price=Decimal("99.00")) -> Order:
    order, _variant = order_of(1, price=price, payment=payment)
    return order


def start(client, order, agent=DESKTOP):
    url = reverse("payments:start", kwargs={"number": order.number})
    return client.get(
        f"/zh-hans{url}?key={guest_key(number=order.number)}", headers={"User-Agent": agent}
    )


# --- Alipay -------------------------------------------------------------------------------


@pytest.mark.parametrize(("agent", "method"), [(DESKTOP, "page"), (PHONE, "wap")])
def test_alipay_demo_pays_through_the_notify_endpoint_and_returns_signed(
    client, demo, shop_over_http, django_assert_max_num_queries, agent, method
):
    order = placed("alipay")
    gateway = start(client, order, agent)["Location"]
    assert gateway.startswith(f"{SHOP}/payments/demo/alipay/gateway.do?")
    assert f"alipay.trade.{method}.pay" in gateway
    with django_assert_max_num_queries(3):  # the cashier reads no row of the shop's
        cashier = client.get(gateway.removeprefix(SHOP))
    page = cashier.content.decode()
    assert cashier.status_code == 200
    assert "DEMO · 沙箱" in page and "支付宝收银台（演示）" in page and "¥104.00" in page
    form = re.search(r'name="request" value="([^"]+)"', page).group(1).replace("&amp;", "&")
    back = client.post(reverse("payments:demo-alipay-pay"), {"request": form})
    # Alipay's notification reached the shop's endpoint, was verified by the SDK and paid.
    [delivery] = PaymentEvent.objects.filter(provider="alipay")
    assert delivery.signature_valid
    order.refresh_from_db()
    assert order.payment_status == "paid" and order.total_paid == Decimal("104.00")
    # ... and the shopper comes back with Alipay's signed return, in Chinese.
    assert back.status_code == 302 and "/zh-hans/payments/return/" in back["Location"]
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(back["Location"]).query))
    assert alipay_provider.verify_return(payment=order.payments.get(), params=params)
    assert "感谢您的付款" in client.get(back["Location"]).content.decode()


def test_alipay_demo_refunds_and_answers_queries_as_alipay(client, demo, shop_over_http):
    order = placed("alipay")
    gateway = start(client, order)["Location"]
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(gateway).query))
    payment = order.payments.get()
    assert alipay_provider.query(payment=payment) is None  # not opened at the cashier yet
    client.get(gateway.removeprefix(SHOP))
    client.post(reverse("payments:demo-alipay-pay"), {"request": urllib.parse.urlencode(params)})
    event = alipay_provider.query(payment=payment)
    assert event.kind == "captured" and event.amount == Decimal("104.00")
    # A refund sent twice with one out_request_no is one refund (the SDK verifies each answer).
    assert alipay_provider.refund(payment=payment, amount=Decimal("4.00"), idempotency_key="r1")
    assert alipay_provider.refund(payment=payment, amount=Decimal("4.00"), idempotency_key="r1")


def test_a_notification_the_shop_cannot_verify_pays_nothing(client, demo, shop_over_http):
    """No bypass: with another Alipay public key in settings the SDK refuses the demo's
    notification, the shop answers failure, and the cashier says so."""
    order = placed("alipay")
    gateway = start(client, order)["Location"]
    query = urllib.parse.urlsplit(gateway).query
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    demo.ALIPAY_PUBLIC_KEY = other.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    answer = client.post(reverse("payments:demo-alipay-pay"), {"request": query}, follow=True)
    assert "SHOP_URL" in answer.content.decode()  # "could not deliver ... at SHOP_URL"
    order.refresh_from_db()
    assert order.payment_status != "paid"
    assert not PaymentEvent.objects.filter(signature_valid=True).exists()


@pytest.mark.parametrize(
    "request_query",
    ["", "garbage", "method=alipay.trade.page.pay&biz_content=%7B%7D&sign=Zm9v&app_id=1"],
)
def test_the_alipay_demo_refuses_unsigned_requests(client, demo, request_query):
    answer = client.get(f"/payments/demo/alipay/gateway.do?{request_query}")
    if "page.pay" in request_query:  # the cashier: a page that says why
        assert answer.status_code == 400 and b"signature" in answer.content
    else:  # a server call: answered as Alipay answers a bad signature
        assert b'"sub_code":"isv.invalid-signature"' in answer.content
    answer = client.post(reverse("payments:demo-alipay-pay"), {"request": request_query})
    assert answer.status_code == 400
    assert not PaymentEvent.objects.exists()


# --- WeChat Pay ---------------------------------------------------------------------------


def test_wechat_demo_qr_code_opens_the_cashier_and_the_order_is_paid(
    client, demo, shop_over_http, django_assert_max_num_queries
):
    order = placed("wechatpay")
    qr_page = start(client, order)["Location"]
    assert "/zh-hans/payments/wechatpay/" in qr_page
    payment = order.payments.get()
    # The QR code's target (the SDK's code_url, from the demo API) is the demo cashier.
    assert payment.qr_code.startswith(f"{SHOP}/payments/demo/wechatpay/pay/")
    with django_assert_max_num_queries(12):
        page = client.get(qr_page).content.decode()
    link = re.search(r'<a href="(/zh-hans/payments/demo/wechatpay/pay/[^"]+)"', page).group(1)
    link = link.replace("&amp;", "&")
    cashier = client.get(link)
    assert cashier.status_code == 200
    assert "微信支付（演示）" in cashier.content.decode() and "¥104.00" in cashier.content.decode()
    back = client.post(link)
    assert back["Location"] == qr_page.removeprefix(SHOP)  # and the page moves on by itself
    [delivery] = PaymentEvent.objects.filter(provider="wechatpay")
    assert delivery.signature_valid
    order.refresh_from_db()
    assert order.payment_status == "paid"
    status = client.get(qr_page.replace("/wechatpay/", "/status/"))
    assert status.json()["outcome"] == "paid"
    # Paid: the cashier says so, and a second Pay sends nothing.
    assert "支付成功" in client.get(link).content.decode()
    client.post(link)
    assert PaymentEvent.objects.count() == 1


def test_wechat_demo_h5_on_a_phone_comes_back_to_the_return_page(client, demo, shop_over_http):
    order = placed("wechatpay")
    h5 = start(client, order, PHONE)["Location"]
    assert h5.startswith(f"{SHOP}/payments/demo/wechatpay/pay/") and "h5=1" in h5
    back = client.post(h5.removeprefix(SHOP))
    assert "/zh-hans/payments/return/" in back["Location"]
    order.refresh_from_db()
    assert order.payment_status == "paid"


def test_wechat_demo_goes_through_the_real_decryption(client, demo, shop_over_http):
    """No bypass: with another API v3 key the notification does not decrypt; nothing paid."""
    order = placed("wechatpay")
    start(client, order)
    cashier = order.payments.get().qr_code.removeprefix(SHOP)
    demo.WECHATPAY_API_V3_KEY = "0" * 32
    answer = client.post(cashier, follow=True)
    assert "SHOP_URL" in answer.content.decode()  # "could not deliver ... at SHOP_URL"
    order.refresh_from_db()
    assert order.payment_status != "paid"


def test_the_wechat_demo_api_refuses_unsigned_calls_and_unknown_cashiers(client, demo):
    answer = client.post(
        "/payments/demo/wechatpay/api/v3/pay/transactions/native",
        data=b'{"out_trade_no": "x"}',
        content_type="application/json",
        headers={"Authorization": 'WECHATPAY2-SHA256-RSA2048 mchid="1",signature="Zm9v"'},
    )
    assert answer.status_code == 401 and answer.json()["code"] == "SIGN_ERROR"
    assert client.get("/payments/demo/wechatpay/pay/no-such-token/").status_code == 404


def test_the_wechat_cashier_never_sends_the_shopper_to_another_host(client, demo, shop_over_http):
    order = placed("wechatpay")
    start(client, order)
    cashier = order.payments.get().qr_code.removeprefix(SHOP)
    back = client.post(cashier + "?return=https://evil.example.com/")
    assert back["Location"] == cashier + "?return=https://evil.example.com/"


# --- Only while developing ----------------------------------------------------------------


@pytest.mark.parametrize(("demo_on", "debug"), [(False, True), (True, False)])
def test_the_demo_pages_do_not_exist_outside_development(client, demo, demo_on, debug):
    demo.PAYMENT_WALLETS_DEMO = demo_on
    demo.DEBUG = debug
    assert client.get("/payments/demo/alipay/gateway.do?method=x").status_code == 404
    assert client.get("/payments/demo/wechatpay/pay/token/").status_code == 404
    assert client.post("/payments/demo/wechatpay/api/v3/pay/transactions/native").status_code == (
        404
    )


def test_a_system_check_refuses_the_demo_with_debug_off(settings):
    settings.PAYMENT_WALLETS_DEMO = True
    settings.DEBUG = False
    assert [e.id for e in run_checks() if e.id.startswith("payments.")] == ["payments.E001"]
    settings.DEBUG = True
    assert not [e for e in run_checks() if e.id.startswith("payments.")]


def test_settings_refuse_the_demo_with_debug_off_and_turn_it_on_for_a_yuan_shop(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.PAYMENT_WALLETS_DEMO, settings.PAYMENT_PROVIDERS[:2])"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ALIPAY_", "WECHATPAY_"))} | {
        "DJANGO_SETTINGS_MODULE": "shop.settings",
        "SECRET_KEY": "x" * 50,
    }
    keys = str(tmp_path / "keys.json")
    refused = subprocess.run(
        [sys.executable, "-c", code],
        env=base | {"DEBUG": "false", "SHOP_CURRENCY": "CNY", "PAYMENT_WALLETS_DEMO": "true"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0 and "development only" in refused.stderr
    # A yuan shop in development without wallet keys: both wallets, in demo mode (the
    # pytest guard of settings.py is not in play in a plain interpreter).
    on = subprocess.run(
        [sys.executable, "-c", code],
        env=base
        | {"DEBUG": "true", "SHOP_CURRENCY": "CNY", "PAYMENT_WALLETS_DEMO_KEYS_FILE": keys},
        capture_output=True,
        text=True,
        check=True,
    )
    assert on.stdout.strip() == "True ['alipay', 'wechatpay']"
    assert Path(keys).exists()


def test_the_demo_keys_are_made_once_whoever_comes_first(tmp_path):
    path = tmp_path / "keys.json"
    found = []
    threads = [
        threading.Thread(target=lambda: found.append(demo_keys.load_or_create(path)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(keys == found[0] for keys in found)
    assert demo_keys.load_or_create(path) == found[0]
    assert json.loads(path.read_text()) == found[0]
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_paid_payments_are_captured_once(client, demo, shop_over_http):
    """The demo's Pay pressed twice (a double click) posts one notification."""
    order = placed("alipay")
    query = urllib.parse.urlsplit(start(client, order)["Location"]).query
    client.get(f"/payments/demo/alipay/gateway.do?{query}")
    client.post(reverse("payments:demo-alipay-pay"), {"request": query})
    client.post(reverse("payments:demo-alipay-pay"), {"request": query})
    payment = order.payments.get()
    assert payment.state == PaymentState.CAPTURED
    order.refresh_from_db()
    assert order.total_paid == Decimal("104.00")


def test_the_scheduled_reconciliation_asks_the_demo_wallet_about_a_lost_notification(
    client, demo, shop_over_http
):
    """The shopper paid at WeChat Pay's cashier, its notification never arrived: past the
    order's deadline the hourly task asks WeChat Pay (the demo's API, through the SDK) and
    counts the payment, under the id the notification would have carried."""
    from django.utils import timezone

    from payments import tasks
    from payments.wallet_demo import gateways

    order = placed("wechatpay")
    start(client, order)
    payment = order.payments.get()
    trade = gateways.recall("wechatpay", payment.reference)
    gateways.remember(
        "wechatpay",
        payment.reference,
        {**trade, "trade_state": "SUCCESS", "transaction_id": "4200000000000000000000000001"},
    )
    Order.objects.filter(pk=order.pk).update(payment_deadline=timezone.now())
    assert tasks.reconcile_payments.delay().get()["asked"] == 1
    order.refresh_from_db()
    assert order.payment_status == "paid"
    assert payment.events.get().event_id == "4200000000000000000000000001"
