"""WeChat Pay (微信支付), API v3, through the maintained SDK `wechatpayv3`.

On a computer the shopper scans a QR code of Native pay's code_url on a page of ours
(payments:wechatpay); on a phone browser they go to H5 pay's h5_url, which opens WeChat and
comes back to the return page. The SDK signs every request with the merchant's API key
(RSA-SHA256, the certificate's serial in the Authorization header) and verifies every
answer's signature with WeChat Pay's platform key.

A notification (/payments/webhook/wechatpay/) is verified by the SDK (RSA-SHA256 over
"timestamp\\nnonce\\nbody\\n" with the platform key) and its resource decrypted with the API v3
key (AES-256-GCM) before anything in it is read; its mchid and appid must be ours. A payment
is processed once per transaction_id (its event id, the same when reconcile_payments finds
the payment by querying), a refund once per refund id and outcome. Amounts are fen
(amount.total); the shop offers WeChat Pay in yuan only (settings refuse another currency).
"""

import json
from collections.abc import Mapping
from datetime import timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from functools import lru_cache
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from wechatpayv3 import WeChatPay, WeChatPayType

from payments import selectors
from payments.errors import InvalidPayload, InvalidSignature, ProviderUnavailable
from payments.providers.base import Browser, CallbackEvent, Provider, StartResult
from payments.wallet_demo import WECHATPAY_API_PATH as WECHATPAY_DEMO_API_PATH
from shop import money

SIGNATURE_HEADER = "Wechatpay-Signature"
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
NOTIFICATION_HEADERS = (
    "Wechatpay-Timestamp",
    "Wechatpay-Nonce",
    SIGNATURE_HEADER,
    "Wechatpay-Serial",
    "Wechatpay-Signature-Type",
)
CURRENCY = "CNY"
#: WeChat Pay's advice: refuse a notification whose timestamp is more than 5 minutes off
#: (a replayed one); each retry is signed afresh.
MAX_CLOCK_SKEW = 300
#: Connect and read timeouts of a call to WeChat Pay, in seconds: a shopper waits on the
#: order call, and WeChat answers within a second or two when it is well.
TIMEOUT = (5, 15)
#: The shortest life of a code_url we ask for: WeChat refuses a time_expire already past, and
#: a shopper needs a moment to scan. An order whose deadline is sooner waits until then.
SHORTEST_LIFE = timedelta(minutes=5)
CHINA = dt_timezone(timedelta(hours=8))
#: trade_state of the query API -> the shop's kind of event.
TRADE_STATES = {
    "SUCCESS": "captured",
    "REFUND": "captured",  # paid, then (partly) refunded: the money was taken
    "CLOSED": "cancelled",
    "REVOKED": "cancelled",
    "PAYERROR": "failed",
}


def platform_key() -> tuple[str, str]:
    """WeChat Pay's public key (PEM) and the id its notifications name in Wechatpay-Serial:
    the platform public key and its id, or a platform certificate's key and serial."""
    if settings.WECHATPAY_PUBLIC_KEY:
        return settings.WECHATPAY_PUBLIC_KEY, settings.WECHATPAY_PUBLIC_KEY_ID
    certificate = x509.load_pem_x509_certificate(settings.WECHATPAY_PLATFORM_CERT.encode())
    pem = certificate.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode(), format(certificate.serial_number, "X")


def notify_url() -> str:
    with translation.override(settings.LANGUAGE_CODE):  # one URL, never /zh-hans/...
        path = reverse("payments:webhook", kwargs={"provider": "wechatpay"})
    return settings.SHOP_URL.rstrip("/") + path


@lru_cache(maxsize=4)
def _client(
    *, mchid, appid, api_v3_key, private_key, serial_no, key, key_id, url, gateway
) -> WeChatPay:
    # Given the platform key, the SDK never downloads certificates when it starts.
    wechatpay = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=mchid,
        private_key=private_key,
        cert_serial_no=serial_no,
        appid=appid,
        apiv3_key=api_v3_key,
        notify_url=url,
        timeout=TIMEOUT,
        public_key=key,
        public_key_id=key_id,
    )
    if gateway:
        wechatpay._core._gate_way = gateway  # the SDK's API root (api.mch.weixin.qq.com)
    return wechatpay


def client() -> WeChatPay:
    """The SDK's client for the current settings (built once per set of keys)."""
    key, key_id = platform_key()
    return _client(
        mchid=settings.WECHATPAY_MCHID,
        appid=settings.WECHATPAY_APPID,
        api_v3_key=settings.WECHATPAY_API_V3_KEY,
        private_key=settings.WECHATPAY_PRIVATE_KEY,
        serial_no=settings.WECHATPAY_CERT_SERIAL_NO,
        key=key,
        key_id=key_id,
        url=notify_url(),
        # The offline demo's API, played by the shop itself (payments/wallet_demo).
        gateway=settings.SHOP_URL.rstrip("/") + WECHATPAY_DEMO_API_PATH
        if settings.PAYMENT_WALLETS_DEMO
        else "",
    )


def _call(method, **kwargs) -> tuple[int, dict]:
    """One call to WeChat Pay through the SDK: (status, JSON answer). The SDK raises a bare
    Exception for an answer whose signature fails and requests' errors for the network:
    either way WeChat Pay could not be heard, and the caller records nothing."""
    try:
        status, text = method(**kwargs)
    except Exception as error:
        message = _("WeChat Pay could not be reached: %(error)s") % {"error": error}
        raise ProviderUnavailable(message) from error
    try:
        answer = json.loads(text) if text else {}
    except (TypeError, ValueError):
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    return status, answer


def _refused(status: int, answer: dict) -> ProviderUnavailable:
    return ProviderUnavailable(
        _("WeChat Pay refused: %(code)s %(message)s")
        % {"code": answer.get("code", status), "message": answer.get("message", "")}
    )


def is_ours(resource: Mapping, *, appid: bool = True) -> bool:
    return resource.get("mchid") == settings.WECHATPAY_MCHID and (
        not appid or resource.get("appid") == settings.WECHATPAY_APPID
    )


def _amount(resource: Mapping, field: str = "total") -> tuple[Decimal | None, str]:
    amount = resource.get("amount") or {}
    currency = str(amount.get("currency") or CURRENCY).upper()
    value = amount.get(field)
    if not isinstance(value, int):
        return None, currency
    return money.from_minor(value, currency), currency


def trade_event(trade: Mapping, *, event_type: str) -> CallbackEvent:
    """A verified, decrypted transaction (a notification's resource or a query's answer)
    as the shop's event. Its id is WeChat Pay's transaction_id once paid."""
    state = str(trade.get("trade_state") or "")
    kind = TRADE_STATES.get(state, "ignored")
    reference = str(trade.get("out_trade_no") or "")[:255]
    transaction_id = str(trade.get("transaction_id") or "")
    if kind == "captured" and not transaction_id:
        raise InvalidPayload("WeChat Pay: a paid transaction without transaction_id")
    amount, currency = _amount(trade)
    return CallbackEvent(
        event_id=(transaction_id if kind == "captured" else f"{reference}:{state}")[:255],
        event_type=event_type[:100],
        kind=kind,
        reference=reference,
        amount=amount,
        currency=currency,
        reason=str(trade.get("trade_state_desc") or "")[:500],
        data={"transaction_id": transaction_id, "trade_state": state},
    )


def refund_event(refund: Mapping, *, event_type: str) -> CallbackEvent:
    """A refund notification's resource: success is one refund of the payment (ours echoed,
    or one made in WeChat Pay's merchant platform); abnormal or closed, a failed refund."""
    status = str(refund.get("refund_status") or "")
    refund_id = str(refund.get("refund_id") or "")
    if not refund_id or not status:
        raise InvalidPayload("WeChat Pay: a refund notification without refund_id or status")
    amount, currency = _amount(refund, "refund")
    succeeded = status == "SUCCESS"
    return CallbackEvent(
        event_id=f"{refund_id}:{status}"[:255],
        event_type=event_type[:100],
        kind="refund_succeeded" if succeeded else "refund_failed",
        # A failed refund is found by its refund id (Refund.reference), a success by its payment.
        reference=str(refund.get("out_trade_no") or "")[:255] if succeeded else refund_id[:255],
        amount=amount,
        currency=currency,
        reason=status,
        data={"refund": refund_id, "out_refund_no": str(refund.get("out_refund_no") or "")},
    )


class WeChatPayProvider(Provider):
    code = "wechatpay"
    online = True
    queryable = True
    signature_header = SIGNATURE_HEADER

    def start(
        self, *, payment, return_url: str, cancel_url: str, browser: Browser | None = None
    ) -> StartResult:
        browser = browser or Browser()
        order = payment.order
        if payment.currency != CURRENCY:
            raise ProviderUnavailable(_("WeChat Pay takes payments in yuan (CNY) only."))
        now = timezone.now()
        expires_at = max(order.payment_deadline or now, now + SHORTEST_LIFE)
        out_trade_no = f"{order.number}-{payment.pk}"
        params = {
            # What the shopper reads in WeChat (at most 127 characters).
            "description": (
                _("%(shop)s order %(number)s")
                % {"shop": settings.SHOP_NAME, "number": order.number}
            )[:127],
            "out_trade_no": out_trade_no,
            "amount": {"total": money.to_minor(payment.amount, CURRENCY), "currency": CURRENCY},
            "time_expire": expires_at.astimezone(CHINA).isoformat(timespec="seconds"),
        }
        if browser.phone:
            params["pay_type"] = WeChatPayType.H5
            params["scene_info"] = {"payer_client_ip": browser.ip, "h5_info": {"type": "Wap"}}
        else:
            params["pay_type"] = WeChatPayType.NATIVE
        status, answer = _call(client().pay, **params)
        if status != 200:
            raise _refused(status, answer)
        if browser.phone and answer.get("h5_url"):
            # WeChat sends the shopper back to redirect_url once they paid (or gave up).
            redirect_url = f"{answer['h5_url']}&redirect_url={quote(return_url, safe='')}"
            return StartResult(
                redirect_url=redirect_url, reference=out_trade_no, expires_at=expires_at
            )
        if not browser.phone and answer.get("code_url"):
            return StartResult(
                redirect_url=selectors.url_for("payments:wechatpay", order),
                reference=out_trade_no,
                expires_at=expires_at,
                qr_code=str(answer["code_url"])[:255],
            )
        raise ProviderUnavailable(_("WeChat Pay gave no way to pay."))

    def parse_callback(self, *, body: bytes, headers: Mapping[str, str]) -> list[CallbackEvent]:
        given = {name: str(headers.get(name) or "") for name in NOTIFICATION_HEADERS}
        _key, key_id = platform_key()
        # Checked before the SDK: it would download certificates for a serial it does not
        # know (a forger's), and it does not look at the timestamp.
        if given["Wechatpay-Serial"] != key_id:
            raise InvalidSignature("WeChat Pay: not signed with our platform key")
        if given["Wechatpay-Signature-Type"] != SIGNATURE_TYPE:
            raise InvalidSignature("WeChat Pay: unknown signature type")
        try:
            skew = abs(timezone.now().timestamp() - int(given["Wechatpay-Timestamp"]))
        except ValueError:
            skew = MAX_CLOCK_SKEW + 1
        if skew > MAX_CLOCK_SKEW:
            raise InvalidSignature("WeChat Pay: timestamp missing or too far from now")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidSignature("WeChat Pay: body is not UTF-8") from error
        try:
            # None when the signature fails or the resource does not decrypt (its GCM tag).
            notification = client().callback(given, text)
        except Exception as error:  # the SDK's bare Exception: unknown algorithm, bad JSON
            raise InvalidPayload(f"WeChat Pay: unreadable notification: {error}"[:200]) from error
        if not notification:
            raise InvalidSignature("WeChat Pay: signature or decryption failed")
        event_type = str(notification.get("event_type") or "")
        resource = notification.get("resource")
        if not isinstance(resource, dict):
            raise InvalidPayload("WeChat Pay: resource is not an object")
        if event_type.startswith("REFUND."):
            if not is_ours(resource, appid=False):
                raise InvalidPayload("WeChat Pay: a notification for another merchant")
            return [refund_event(resource, event_type=event_type)]
        if not is_ours(resource):
            raise InvalidPayload("WeChat Pay: a notification for another merchant or app")
        return [trade_event(resource, event_type=event_type or "TRANSACTION")]

    def callback_response(
        self, *, status: int, error: str = "", received: int = 0, accepted: bool = True
    ) -> HttpResponse:
        # WeChat Pay's protocol: 200 (or 204) once received; 4xx/5xx with code FAIL to have
        # the notification sent again.
        if error:
            return JsonResponse({"code": "FAIL", "message": error}, status=status)
        return JsonResponse({"code": "SUCCESS", "message": "成功"})

    def query(self, *, payment) -> CallbackEvent | None:
        if not payment.reference:
            return None
        status, answer = _call(client().query, out_trade_no=payment.reference)
        if status != 200:
            raise _refused(status, answer)
        if not is_ours(answer):
            raise ProviderUnavailable(_("WeChat Pay answered for another merchant or app."))
        return trade_event(answer, event_type="QUERY")

    def close(self, *, payment) -> None:
        if not payment.reference:
            return
        status, answer = _call(client().close, out_trade_no=payment.reference)
        if status not in (200, 204):
            raise _refused(status, answer)

    def refund(self, *, payment, amount: Decimal, idempotency_key: str) -> str:
        status, answer = _call(
            client().refund,
            # The same out_refund_no is the same refund at WeChat Pay: a retry never pays twice.
            out_refund_no=f"{payment.reference}-{idempotency_key}"[:64],
            out_trade_no=payment.reference,
            amount={
                "refund": money.to_minor(amount, CURRENCY),
                "total": money.to_minor(payment.amount, CURRENCY),
                "currency": CURRENCY,
            },
        )
        if status != 200 or answer.get("status") in ("CLOSED", "ABNORMAL"):
            raise _refused(status, answer)
        if not answer.get("refund_id"):
            raise ProviderUnavailable(_("WeChat Pay gave no refund id."))
        return str(answer["refund_id"])


provider = WeChatPayProvider()
