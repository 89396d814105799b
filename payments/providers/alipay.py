"""Alipay (支付宝) through the maintained SDK `python-alipay-sdk` (RSA2, public key mode).

The shopper pays on Alipay's page: computer-website pay (alipay.trade.page.pay) on a
desktop, mobile-website pay (alipay.trade.wap.pay) on a phone. Both are a GET to Alipay's
gateway with our signed request; Alipay creates the trade when the shopper opens it. The
trade's out_trade_no is the payment's reference.

Alipay tells us the outcome by an asynchronous notification (a form POST to notify_url,
payments.views.webhook): the SDK verifies it with Alipay's public key before anything
in it is read; app_id and seller_id must be ours. The shopper's return (return_url) carries
a signed query too, but a return is only a hint to ask Alipay (alipay.trade.query): it never
pays an order by itself. Refunds (alipay.trade.refund), queries and closing a trade
(alipay.trade.close) are signed server calls that the SDK makes with urllib.

Amounts are yuan with two decimals ("88.00"); Alipay takes CNY only.
"""

import binascii
import socket
import urllib.error
import urllib.parse
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig
from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from payments.errors import InvalidPayload, InvalidSignature, ProviderUnavailable
from payments.providers.base import Browser, CallbackEvent, Provider, StartResult

CURRENCY = "CNY"
#: Alipay's times are Beijing time, without a zone.
BEIJING = ZoneInfo("Asia/Shanghai")
#: Trade states that mean the money was taken (TRADE_FINISHED: no refund possible any more).
PAID = {"TRADE_SUCCESS", "TRADE_FINISHED"}
#: Seconds an API call to Alipay may take: a refund or query runs in a merchant's request.
API_TIMEOUT = 10
#: Alipay's answer code for "done".
SUCCESS_CODE = "10000"
#: Our own parameters on the return URL (payments.selectors.url_for): not signed by Alipay.
OWN_RETURN_PARAMS = {"key", "wait", "abandoned"}
#: Errors of an API call: network, HTTP, an answer that is not JSON, a bad signature on it.
API_ERRORS = (
    urllib.error.URLError,
    socket.timeout,
    TimeoutError,
    ConnectionError,
    ValueError,
    AliPayException,
    AliPayValidationError,
)


class BeijingAliPay(AliPay):
    """The SDK's client, stamping requests in Beijing time: the SDK stamps them with the
    server's local time (UTC here), which Alipay would read as eight hours ago."""

    def build_body(self, *args, **kwargs):
        data = super().build_body(*args, **kwargs)
        data["timestamp"] = _beijing(timezone.now())
        return data


def client() -> AliPay:
    """An SDK client for the keys in settings (read at each call, so tests and a key
    rotation take effect without a restart)."""
    alipay = BeijingAliPay(
        appid=settings.ALIPAY_APP_ID,
        app_private_key_string=settings.ALIPAY_APP_PRIVATE_KEY,
        alipay_public_key_string=settings.ALIPAY_PUBLIC_KEY,
        sign_type="RSA2",
        debug=settings.ALIPAY_SANDBOX,
        config=AliPayConfig(timeout=API_TIMEOUT),
    )
    if settings.PAYMENT_WALLETS_DEMO:
        # The offline demo's gateway, a page of the shop (payments/wallet_demo): the SDK
        # sends the shopper and its own calls there as it would to Alipay's.
        with translation.override(settings.LANGUAGE_CODE):
            path = reverse("payments:demo-alipay-gateway")
        alipay._gateway = settings.SHOP_URL.rstrip("/") + path
    return alipay


def yuan(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01'))}"


def out_trade_no(payment) -> str:
    """Letters, digits and underscores, at most 64: the order number and our payment id."""
    return f"{payment.order.number.replace('-', '')}_{payment.pk}"


def notify_url() -> str:
    base = (settings.ALIPAY_NOTIFY_BASE_URL or settings.SHOP_URL).rstrip("/")
    with translation.override(settings.LANGUAGE_CODE):  # one URL, never /zh-hans/...
        return base + reverse("payments:webhook", kwargs={"provider": "alipay"})


def _beijing(moment: datetime) -> str:
    return timezone.localtime(moment, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _signed_fields(data: Mapping[str, str]) -> dict[str, str]:
    """What Alipay signs: every parameter but sign and sign_type, and none that is empty
    (Alipay's own SDKs leave empty values out; python-alipay-sdk would sign "k=")."""
    return {k: v for k, v in data.items() if k not in ("sign", "sign_type") and v != ""}


def verify(data: Mapping[str, str]) -> bool:
    """True when `data` (a notification's form or a return's query) carries Alipay's RSA2
    signature over its other fields, checked by the SDK with Alipay's public key."""
    signature = data.get("sign", "")
    if not signature or data.get("sign_type", "RSA2") != "RSA2":
        return False
    try:
        return client().verify(_signed_fields(data), signature)
    except (ValueError, TypeError, binascii.Error, AliPayException):
        return False


def _amount(value) -> Decimal | None:
    try:
        return Decimal(str(value)).quantize(Decimal("0.01")) if value not in (None, "") else None
    except InvalidOperation:
        return None


class AlipayProvider(Provider):
    code = "alipay"
    online = True
    queryable = True
    callback_content_type = "application/x-www-form-urlencoded"

    def start(
        self, *, payment, return_url: str, cancel_url: str, browser: Browser | None = None
    ) -> StartResult:
        phone = browser is not None and browser.phone
        if payment.currency != CURRENCY:
            raise ProviderUnavailable(_("Alipay takes payments in Chinese yuan (CNY) only."))
        order = payment.order
        expires_at = max(order.payment_deadline or timezone.now(), timezone.now())
        expires_at += timedelta(minutes=1)  # Alipay takes at least a minute from now
        reference = out_trade_no(payment)
        alipay = client()
        pay = alipay.api_alipay_trade_wap_pay if phone else alipay.api_alipay_trade_page_pay
        extra = {"quit_url": cancel_url} if phone else {}
        query = pay(
            subject=_("Order %(number)s") % {"number": order.number},
            out_trade_no=reference,
            total_amount=yuan(payment.amount),
            return_url=return_url,
            notify_url=notify_url(),
            time_expire=_beijing(expires_at),
            **extra,
        )
        return StartResult(
            # The SDK keeps the gateway of its sandbox switch in _gateway; its own README
            # sends the shopper to that address with the signed query.
            redirect_url=f"{alipay._gateway}?{query}",
            reference=reference,
            expires_at=expires_at,
        )

    def parse_callback(self, *, body: bytes, headers: Mapping[str, str]) -> list[CallbackEvent]:
        try:
            data = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError) as error:
            raise InvalidSignature(_("The callback signature is missing or invalid.")) from error
        if not verify(data):
            raise InvalidSignature
        # Verified: Alipay wrote this. It must also be about our app and our account.
        if data.get("app_id") != settings.ALIPAY_APP_ID:
            raise InvalidPayload(f"Notification for another app: {data.get('app_id', '')[:40]}")
        if settings.ALIPAY_SELLER_ID and data.get("seller_id") != settings.ALIPAY_SELLER_ID:
            raise InvalidPayload(f"Notification for another seller: {data.get('seller_id')}")
        if not data.get("notify_id") or not data.get("out_trade_no"):
            raise InvalidPayload("Notification without notify_id or out_trade_no")
        return [_event(data, event_id=data["notify_id"])]

    def callback_response(
        self, *, status: int, error: str = "", received: int = 0, accepted: bool = True
    ) -> HttpResponse:
        """Alipay reads only the body: "success" once every event is stored and acted on
        (committed), "failure" for anything else, which Alipay sends again for a while."""
        answer = "success" if accepted and not error else "failure"
        return HttpResponse(answer, content_type="text/plain")

    def verify_return(self, *, payment, params: Mapping[str, str]) -> bool:
        """True when the shopper's return carries Alipay's signature for this payment."""
        data = {k: v for k, v in params.items() if k not in OWN_RETURN_PARAMS}
        return (
            verify(data)
            and data.get("out_trade_no") == payment.reference
            and data.get("app_id") == settings.ALIPAY_APP_ID
        )

    def query(self, *, payment) -> CallbackEvent | None:
        """What Alipay says of this payment's trade (alipay.trade.query), as an event; None
        while nothing is decided (the shopper has not opened or not paid it yet)."""
        answer = self._call("api_alipay_trade_query", out_trade_no=payment.reference)
        if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            return None
        _check(answer)
        if answer.get("out_trade_no") != payment.reference:
            raise ProviderUnavailable(_("Alipay answered about another trade."))
        status = answer.get("trade_status", "")
        if status not in PAID and status != "TRADE_CLOSED":
            return None
        return _event(
            answer,
            event_id=f"query:{answer.get('trade_no', '')}:{status}",
            event_type=f"trade.query {status}",
        )

    def refund(self, *, payment, amount: Decimal, idempotency_key: str) -> str:
        # out_request_no identifies the refund at Alipay: the same one sent again refunds
        # once (fund_change "N" the second time), so a retry never pays twice.
        answer = self._call(
            "api_alipay_trade_refund",
            refund_amount=yuan(amount),
            out_trade_no=payment.reference,
            out_request_no=idempotency_key,
        )
        _check(answer)
        return idempotency_key

    def close(self, *, payment) -> None:
        if not payment.reference:
            return
        answer = self._call("api_alipay_trade_close", out_trade_no=payment.reference)
        if answer.get("sub_code") in ("ACQ.TRADE_NOT_EXIST", "ACQ.TRADE_STATUS_ERROR"):
            return  # never opened by the shopper, or closed or paid already: nothing open
        _check(answer)

    def _call(self, method: str, **kwargs) -> dict:
        try:
            return getattr(client(), method)(**kwargs)
        except API_ERRORS as error:
            raise ProviderUnavailable(
                _("Alipay could not be reached: %(error)s") % {"error": str(error)[:200]}
            ) from error


def _check(answer: Mapping) -> None:
    if answer.get("code") != SUCCESS_CODE:
        raise ProviderUnavailable(
            _("Alipay refused: %(reason)s")
            % {"reason": answer.get("sub_msg") or answer.get("msg") or answer.get("code")}
        )


def _event(data: Mapping, *, event_id: str, event_type: str = "") -> CallbackEvent:
    """A notification's (or a query's) fields in the shop's words. A notification with
    refund_fee reports a refund made at Alipay (refund_fee: all refunded so far)."""
    status = str(data.get("trade_status", ""))
    refunded = _amount(data.get("refund_fee"))
    if refunded is not None and refunded > 0:
        kind, amount = "refunded", refunded
    elif status in PAID:
        kind, amount = "captured", _amount(data.get("total_amount"))
    elif status == "TRADE_CLOSED":
        kind, amount = "cancelled", None
    else:
        kind, amount = "ignored", None
    return CallbackEvent(
        event_id=str(event_id)[:255],
        event_type=(event_type or f"trade_status_sync {status}")[:100],
        kind=kind,
        reference=str(data.get("out_trade_no", ""))[:255],
        amount=amount,
        currency=CURRENCY,
        data={"trade_no": str(data.get("trade_no", "")), "status": status},
    )


provider = AlipayProvider()
