"""WeChat Pay offline: keys and API v3 key made here, notifications encrypted and signed as
WeChat Pay does and sent through the real webhook (the SDK verifies and decrypts them), and
every call to WeChat Pay's API answered by `responses` with a signed answer, the shop's
signed request checked."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import responses
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderEvent
from orders.tests.factories import order_of
from payments import selectors, services
from payments.models import Payment, PaymentEvent, PaymentState, Refund, RefundStatus
from payments.tests.factories import start
from payments.tests.wechat import (
    API,
    APPID,
    MCHID,
    WeChatPaySide,
    deliver,
    new_key,
    paid_resource,
    refund_resource,
)
from shop.tests.utils import read_settings, run_django

pytestmark = pytest.mark.django_db

CODE_URL = "weixin://wxpay/bizpayurl?pr=AbCdEf123"
NATIVE = API + "/v3/pay/transactions/native"
H5 = API + "/v3/pay/transactions/h5"
REFUNDS = API + "/v3/refund/domestic/refunds"
PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1"
)


@pytest.fixture(scope="module")
def side():
    return WeChatPaySide.make()


@pytest.fixture(autouse=True)
def wechat_on(settings, side):
    side.configure(settings)


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def payment(api, side):
    """A guest's order of ¥17.34 opened with WeChat Pay's Native pay (a QR code)."""
    order = wechat_order()
    api.add_callback(responses.POST, NATIVE, callback=side.answer(200, {"code_url": CODE_URL}))
    return start(order, provider="wechatpay")


def wechat_order(price=Decimal("12.34")):
    """A guest's order to be paid with WeChat Pay (total: price + ¥5.00 shipping)."""
    order, _variant = order_of(1, price=price, payment="wechatpay")
    return order


def state_of(payment):
    payment.refresh_from_db()
    payment.order.refresh_from_db()
    return payment.state, payment.order.payment_status


# --- Starting -------------------------------------------------------------------------


def test_native_order_is_signed_and_gives_the_qr_page(api, side, payment, settings):
    request = api.calls[0].request
    side.assert_signed_by_merchant(request)
    sent = json.loads(request.body)
    assert sent["mchid"] == MCHID and sent["appid"] == APPID
    assert sent["amount"] == {"total": 1734, "currency": "CNY"}
    assert sent["out_trade_no"] == payment.reference == f"{payment.order.number}-{payment.pk}"
    assert sent["notify_url"] == settings.SHOP_URL + "/payments/webhook/wechatpay/"
    assert sent["time_expire"].endswith("+08:00")
    assert payment.qr_code == CODE_URL
    assert payment.redirect_url == selectors.url_for("payments:wechatpay", payment.order)
    assert payment.order.payment_method == "wechatpay"


def test_a_phone_goes_to_h5_pay_and_comes_back_to_the_return_page(client, api, side):
    order = wechat_order()
    h5_url = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx1&package=1"
    api.add_callback(responses.POST, H5, callback=side.answer(200, {"h5_url": h5_url}))
    response = client.get(
        selectors.url_for("payments:start", order),
        headers={"User-Agent": PHONE_UA},
        REMOTE_ADDR="203.0.113.9",
    )
    side.assert_signed_by_merchant(api.calls[0].request)
    sent = json.loads(api.calls[0].request.body)
    assert sent["scene_info"] == {"payer_client_ip": "203.0.113.9", "h5_info": {"type": "Wap"}}
    assert response.status_code == 302
    assert response["Location"].startswith(h5_url + "&redirect_url=http%3A%2F%2Ftestserver")
    assert "payments%2Freturn%2F" in response["Location"]


def test_a_computer_goes_to_the_qr_page(client, api, side):
    order = wechat_order()
    api.add_callback(responses.POST, NATIVE, callback=side.answer(200, {"code_url": CODE_URL}))
    response = client.get(selectors.url_for("payments:start", order))
    assert response.status_code == 302
    assert response["Location"] == selectors.url_for("payments:wechatpay", order)


def test_a_refusal_or_an_unsigned_answer_sends_the_shopper_back_to_choose(client, api, side):
    order = wechat_order()
    forged = WeChatPaySide(side.merchant_key, new_key(), side.api_v3_key)
    api.add_callback(responses.POST, NATIVE, callback=forged.answer(200, {"code_url": CODE_URL}))
    response = client.get(selectors.url_for("payments:start", order), follow=True)
    assert "WeChat Pay could not be reached" in response.content.decode()
    api.replace(
        responses.POST,
        NATIVE,
        status=400,
        json={"code": "PARAM_ERROR", "message": "bad"},
    )
    response = client.get(selectors.url_for("payments:start", order), follow=True)
    assert "WeChat Pay refused: PARAM_ERROR" in response.content.decode()
    assert not Payment.objects.filter(qr_code=CODE_URL).exists()


def test_wechat_pay_takes_yuan_only(client, api, settings):
    settings.SHOP_CURRENCY = "USD"
    order = wechat_order()
    response = client.get(selectors.url_for("payments:start", order), follow=True)
    assert "WeChat Pay takes payments in yuan (CNY) only." in response.content.decode()
    assert not api.calls


# --- The QR code page ---------------------------------------------------------------------


def test_qr_page_shows_the_code_amount_and_order(client, payment, django_assert_max_num_queries):
    url = selectors.url_for("payments:wechatpay", payment.order)
    with django_assert_max_num_queries(8):
        response = client.get(url)
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count("<svg") == 1 and "wechatpay__qr" in page
    assert payment.order.number in page and "17.34" in page
    assert "I have paid — check" in page and "payment-status.js" in page
    assert response["Cache-Control"] == "private, no-store"


def test_qr_page_in_chinese(client, payment):
    url = selectors.url_for("payments:wechatpay", payment.order)
    page = client.get("/zh-hans" + url).content.decode()
    assert "微信支付" in page and "扫一扫" in page and "¥17.34" in page


def test_qr_page_of_a_paid_order_moves_on_to_the_order(client, side, payment):
    deliver(client, *side.notification(paid_resource(payment)))
    response = client.get(selectors.url_for("payments:wechatpay", payment.order))
    assert response.status_code == 302
    assert response["Location"] == selectors.url_for("orders:detail", payment.order)


def test_qr_page_is_the_owners_only(client, payment):
    url = reverse("payments:wechatpay", kwargs={"number": payment.order.number})
    assert client.get(url).status_code == 404
    assert client.get(url + "?key=forged").status_code == 404
    assert client.get(reverse("payments:wechatpay", kwargs={"number": "NOPE"})).status_code == 404


def test_status_says_pending_then_paid(client, side, payment, django_assert_max_num_queries):
    url = selectors.url_for("payments:status", payment.order)
    with django_assert_max_num_queries(6):
        assert client.get(url).json()["outcome"] == "pending"
    deliver(client, *side.notification(paid_resource(payment)))
    status = client.get(url).json()
    assert status == {
        "outcome": "paid",
        "next": selectors.url_for("orders:detail", payment.order),
    }


# --- Notifications --------------------------------------------------------------------


def test_a_valid_notification_pays_once(client, side, payment):
    body, headers = side.notification(paid_resource(payment))
    first = deliver(client, body, headers)
    again = deliver(client, *side.notification(paid_resource(payment)))  # a retry, signed anew
    assert first.status_code == again.status_code == 200
    assert first.json() == {"code": "SUCCESS", "message": "成功"}
    assert state_of(payment) == (PaymentState.CAPTURED, "paid")
    assert payment.order.total_paid == Decimal("17.34")
    assert PaymentEvent.objects.filter(processed=True).count() == 1
    assert PaymentEvent.objects.filter(duplicate=True).count() == 1
    assert PaymentEvent.objects.get(processed=True).event_id == "4200000000202612010000000001"


def _tampered(side, payment):
    body, headers = side.notification(paid_resource(payment))
    return body.replace('"TRANSACTION.SUCCESS"', '"TRANSACTION.SUCCESS" '), headers


@pytest.mark.parametrize(
    "forge",
    [
        # signed with another key than WeChat Pay's
        lambda side, p: side.notification(paid_resource(p), key=new_key()),
        # the body changed after signing
        _tampered,
        # signed by WeChat Pay, but naming another key id (the SDK would go and fetch it)
        lambda side, p: side.notification(paid_resource(p), serial="PUB_KEY_ID_OTHER"),
        # a replay of an old notification
        lambda side, p: side.notification(paid_resource(p), timestamp=0),
        # signed, but encrypted with another API v3 key: the resource does not decrypt
        lambda side, p: side.notification(paid_resource(p), api_v3_key="k" * 32),
        # no signature at all
        lambda side, p: (side.notification(paid_resource(p))[0], {}),
    ],
    ids=["other-key", "tampered", "other-serial", "stale", "other-api-v3-key", "unsigned"],
)
def test_forged_notifications_change_nothing(client, side, payment, forge):
    response = deliver(client, *forge(side, payment))
    assert response.status_code == 400
    assert response.json() == {"code": "FAIL", "message": "invalid signature"}
    assert state_of(payment) == (PaymentState.PENDING, "unpaid")
    assert not PaymentEvent.objects.filter(signature_valid=True).exists()


@pytest.mark.parametrize(
    "resource",
    [
        lambda p: paid_resource(p, mchid="1900000999"),
        lambda p: paid_resource(p, appid="wx0000000000000000"),
    ],
    ids=["other-mchid", "other-appid"],
)
def test_another_merchants_notification_changes_nothing(client, side, payment, resource):
    response = deliver(client, *side.notification(resource(payment)))
    assert response.status_code == 400 and response.json()["code"] == "FAIL"
    assert state_of(payment) == (PaymentState.PENDING, "unpaid")
    stored = PaymentEvent.objects.get()
    assert stored.flagged and not stored.processed and "another merchant" in stored.error


@pytest.mark.parametrize(
    "resource",
    [
        lambda p: paid_resource(p, total=1),
        lambda p: paid_resource(p, currency="USD", transaction_id="4200000000202612010000000002"),
    ],
    ids=["one-fen", "dollars"],
)
def test_a_wrong_amount_or_currency_is_flagged_never_paid(client, side, payment, resource):
    response = deliver(client, *side.notification(resource(payment)))
    assert response.status_code == 200  # stored for the merchant: WeChat need not retry
    assert state_of(payment) == (PaymentState.PENDING, "unpaid")
    assert payment.flagged and "Amount mismatch" in payment.flag_reason


def test_a_notification_for_no_payment_of_ours_is_stored_and_flagged(client, side, payment):
    resource = paid_resource(payment, out_trade_no="NOT-OURS-1")
    assert deliver(client, *side.notification(resource)).status_code == 200
    assert PaymentEvent.objects.get().flagged
    assert state_of(payment) == (PaymentState.PENDING, "unpaid")


def test_bad_requests_are_answered_as_wechat_expects(client, side, payment):
    url = reverse("payments:webhook", kwargs={"provider": "wechatpay"})
    response = client.post(url, data="a=b", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and response.json()["code"] == "FAIL"
    response = client.post(url, data=b"", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "FAIL"
    body, headers = side.notification(paid_resource(payment))
    body = "x" * (services.MAX_CALLBACK_BYTES + 1)
    assert deliver(client, body, headers).status_code == 413
    assert state_of(payment) == (PaymentState.PENDING, "unpaid")


# --- Refunds --------------------------------------------------------------------------


@pytest.fixture
def paid(client, side, payment):
    deliver(client, *side.notification(paid_resource(payment)))
    payment.refresh_from_db()
    return payment


def test_cancelling_a_paid_order_refunds_through_the_refund_api(api, side, paid):
    answer = {"refund_id": "50000000382019052709732678859", "status": "PROCESSING"}
    api.add_callback(responses.POST, REFUNDS, callback=side.answer(200, answer))
    services.cancel_order(order=paid.order, actor=None, by_shopper=False)
    request = api.calls[-1].request
    side.assert_signed_by_merchant(request)
    sent = json.loads(request.body)
    refund = Refund.objects.get()
    assert sent["out_trade_no"] == paid.reference
    assert sent["out_refund_no"] == f"{paid.reference}-refund-{refund.pk}"
    assert sent["amount"] == {"refund": 1734, "total": 1734, "currency": "CNY"}
    assert refund.reference == answer["refund_id"] and refund.status == RefundStatus.SUCCEEDED
    assert state_of(paid) == (PaymentState.REFUNDED, "refunded")


def test_the_refund_notification_of_our_refund_changes_nothing_more(client, api, side, paid):
    answer = {"refund_id": "5000000038201905270973267885A", "status": "PROCESSING"}
    api.add_callback(responses.POST, REFUNDS, callback=side.answer(200, answer))
    services.cancel_order(order=paid.order, actor=None, by_shopper=False)
    resource = refund_resource(paid, refund_id=answer["refund_id"])
    response = deliver(client, *side.notification(resource, event_type="REFUND.SUCCESS"))
    assert response.status_code == 200
    assert Refund.objects.count() == 1
    assert state_of(paid) == (PaymentState.REFUNDED, "refunded")
    assert paid.amount_refunded == Decimal("17.34")


def test_a_failed_refund_is_due_again(client, api, side, paid):
    answer = {"refund_id": "5000000038201905270973267885B", "status": "PROCESSING"}
    api.add_callback(responses.POST, REFUNDS, callback=side.answer(200, answer))
    services.cancel_order(order=paid.order, actor=None, by_shopper=False)
    resource = refund_resource(paid, refund_id=answer["refund_id"], status="ABNORMAL")
    body, headers = side.notification(resource, event_type="REFUND.ABNORMAL")
    assert deliver(client, body, headers).status_code == 200
    assert deliver(client, body, headers).status_code == 200  # processed once
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.DUE and "ABNORMAL" in refund.reason
    paid.refresh_from_db()
    assert paid.amount_refunded == 0 and paid.flagged


def test_a_refund_made_in_wechats_merchant_platform_is_recorded(client, side, paid):
    resource = refund_resource(paid, refund_id="50000000382019052700000000001", amount=5)
    body, headers = side.notification(resource, event_type="REFUND.SUCCESS")
    assert deliver(client, body, headers).status_code == 200
    assert deliver(client, *side.notification(resource, event_type="REFUND.SUCCESS")).json()
    refund = Refund.objects.get()
    assert refund.amount == Decimal("5.00") and refund.status == RefundStatus.SUCCEEDED
    assert state_of(paid) == (PaymentState.PARTIALLY_REFUNDED, "partially_refunded")


def test_a_refund_the_api_refuses_stays_due(api, paid):
    api.add(responses.POST, REFUNDS, status=403, json={"code": "NOTENOUGH", "message": "余额不足"})
    services.cancel_order(order=paid.order, actor=None, by_shopper=False)
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.DUE and not refund.reference
    paid.refresh_from_db()
    assert paid.flagged and "NOTENOUGH" in paid.flag_reason


# --- Reconciliation -------------------------------------------------------------------


def query_url(payment):
    return f"{API}/v3/pay/transactions/out-trade-no/{payment.reference}?mchid={MCHID}"


def close_url(payment):
    return f"{API}/v3/pay/transactions/out-trade-no/{payment.reference}/close"


def past_deadline(payment):
    Order.objects.filter(pk=payment.order_id).update(
        payment_deadline=timezone.now() - timedelta(minutes=1)
    )


def test_reconcile_waits_while_the_order_awaits_payment_then_closes_the_trade(api, side, payment):
    """Past its deadline but not yet expired, the order may still be paid: nothing closes.
    Cancelled while WeChat Pay could not be reached, its trade stays open there until
    reconcile_payments --apply closes it."""
    past_deadline(payment)
    unpaid = {"mchid": MCHID, "appid": APPID, "out_trade_no": payment.reference}
    api.add_callback(
        responses.GET,
        query_url(payment),
        callback=side.answer(200, unpaid | {"trade_state": "NOTPAY"}),
    )
    call_command("reconcile_payments", "--apply")
    assert state_of(payment) == (PaymentState.PENDING, "unpaid")
    api.add(responses.POST, close_url(payment), status=500, json={"code": "SYSTEM_ERROR"})
    services.cancel_order(order=payment.order, actor=None, by_shopper=False)
    assert state_of(payment)[0] == PaymentState.PENDING  # WeChat Pay was down
    api.remove(responses.POST, close_url(payment))
    api.add_callback(responses.POST, close_url(payment), callback=side.answer(204))
    call_command("reconcile_payments")  # lists, changes nothing
    assert state_of(payment)[0] == PaymentState.PENDING
    closes = [call for call in api.calls if call.request.url.endswith("/close")]
    assert len(closes) == 1
    call_command("reconcile_payments", "--apply")
    side.assert_signed_by_merchant(api.calls[-1].request)
    assert json.loads(api.calls[-1].request.body) == {"mchid": MCHID}
    assert state_of(payment)[0] == PaymentState.CANCELLED


def test_reconcile_records_a_payment_whose_notification_never_came(client, api, side, payment):
    past_deadline(payment)
    api.add_callback(
        responses.GET, query_url(payment), callback=side.answer(200, paid_resource(payment))
    )
    assert [check.outcome for check in services.check_open_payments()] == ["captured"]
    call_command("reconcile_payments", "--apply")
    assert state_of(payment) == (PaymentState.CAPTURED, "paid")
    # The notification arrives at last: the same transaction, processed once.
    assert deliver(client, *side.notification(paid_resource(payment))).status_code == 200
    assert PaymentEvent.objects.filter(processed=True).count() == 1
    assert OrderEvent.objects.filter(order=payment.order, to_status="paid").count() == 1
    assert services.check_open_payments() == []


def test_reconcile_says_when_wechat_pay_cannot_be_asked(api, payment, capsys):
    past_deadline(payment)
    api.add(responses.GET, query_url(payment), status=500, json={"code": "SYSTEM_ERROR"})
    call_command("reconcile_payments", "--apply")
    assert "unreachable" in capsys.readouterr().out
    assert state_of(payment) == (PaymentState.PENDING, "unpaid")


# --- Settings ---------------------------------------------------------------------------


def _certificate(key) -> str:
    """A platform certificate for `key`, as WeChat Pay issues them (self-signed here)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x5157F09EFDC096DE15EBE81A47057A7232F1B8E1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def test_a_platform_certificate_verifies_notifications_named_by_its_serial(
    client, settings, side, payment
):
    settings.WECHATPAY_PUBLIC_KEY = settings.WECHATPAY_PUBLIC_KEY_ID = ""
    settings.WECHATPAY_PLATFORM_CERT = _certificate(side.platform_key)
    serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    rejected = deliver(client, *side.notification(paid_resource(payment)))  # the key id
    assert rejected.status_code == 400
    accepted = deliver(client, *side.notification(paid_resource(payment), serial=serial))
    assert accepted.status_code == 200
    assert state_of(payment) == (PaymentState.CAPTURED, "paid")


def test_wechat_pay_takes_yuan_and_its_keys_from_files_or_refuses_to_start(tmp_path, settings):
    WeChatPaySide.make().configure(settings)  # the keys' PEMs, written to files below
    (tmp_path / "apiclient_key.pem").write_text(settings.WECHATPAY_PRIVATE_KEY)
    (tmp_path / "pub_key.pem").write_text(settings.WECHATPAY_PUBLIC_KEY)
    configured = {
        "DEBUG": "true",
        "PAYMENT_PROVIDERS": "manual,wechatpay",
        "WECHATPAY_MCHID": MCHID,
        "WECHATPAY_APPID": APPID,
        "WECHATPAY_API_V3_KEY": "a" * 32,
        "WECHATPAY_PRIVATE_KEY_FILE": str(tmp_path / "apiclient_key.pem"),
        "WECHATPAY_CERT_SERIAL_NO": "444F4864EA9B34415A1B2C3D4E5F60718293A4B5",
        "WECHATPAY_PUBLIC_KEY_FILE": str(tmp_path / "pub_key.pem"),
        "WECHATPAY_PUBLIC_KEY_ID": "PUB_KEY_ID_01",
    }
    found = read_settings(["WECHATPAY_PRIVATE_KEY"], SHOP_CURRENCY="CNY", **configured)
    assert found["WECHATPAY_PRIVATE_KEY"] == settings.WECHATPAY_PRIVATE_KEY
    result = run_django("", SHOP_CURRENCY="USD", **configured)
    assert result.returncode != 0 and "WeChat Pay takes yuan only" in result.stderr
    result = run_django(
        "", **{**configured, "SHOP_CURRENCY": "CNY", "WECHATPAY_API_V3_KEY": "short"}
    )
    assert result.returncode != 0 and "Set WECHATPAY_MCHID" in result.stderr
