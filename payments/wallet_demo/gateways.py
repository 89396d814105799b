"""The wallets' side of the demo: what Alipay's and WeChat Pay's servers do, played with the
demo keys. Each checks our request's signature with our public key as the wallet does,
answers with a body signed by the wallet's key (which the SDKs verify), and, when the
shopper pays on its cashier, posts the notification the wallet would post: Alipay's form
signed with RSA2, WeChat Pay's JSON with its resource encrypted with the API v3 key
(AES-256-GCM) and signed over timestamp, nonce and body.

Written by hand because no library plays the wallets' side; the formats are the wallets'
published ones, the same the tests sign with (payments/tests/alipay_fakes.py, wechat.py).
A trade the demo has seen is kept in the cache for a day (its state answers queries).
"""

import base64
import hashlib
import json
import secrets
import time
import urllib.parse
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from payments.wallet_demo import keys as demo_keys

#: A trade is remembered this long (seconds): longer than any order waits for payment.
TRADE_TTL = 24 * 60 * 60
#: Seconds the cashier waits for the shop to answer a notification.
NOTIFY_TIMEOUT = 15
BEIJING_FORMAT = "%Y-%m-%d %H:%M:%S"


class NotDelivered(Exception):
    """The shop did not take the notification (no answer, or not the wallet's "success")."""


@lru_cache(maxsize=4)
def _keys(path: Path) -> dict:
    return demo_keys.load_or_create(path)


def keys() -> dict:
    return _keys(Path(settings.PAYMENT_WALLETS_DEMO_KEYS_FILE))


def _private(pem: str):
    return serialization.load_pem_private_key(pem.encode(), password=None)


def _sign(private_pem: str, message: str) -> str:
    signature = _private(private_pem).sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def _verifies(private_pem: str, message: str, signature: str) -> bool:
    """True when `signature` is the holder of `private_pem`'s, checked with its public key."""
    try:
        _private(private_pem).public_key().verify(
            base64.b64decode(signature), message.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def remember(wallet: str, reference: str, trade: dict) -> None:
    cache.set(f"wallets-demo:{wallet}:{reference}", trade, TRADE_TTL)


def recall(wallet: str, reference: str) -> dict | None:
    return cache.get(f"wallets-demo:{wallet}:{reference}")


# --- Alipay ---------------------------------------------------------------------------------


def alipay_content(params: dict[str, str], *, request: bool) -> str:
    """Alipay's string to sign: sorted name=value pairs, empty values and sign left out (and
    sign_type too in what Alipay sends)."""
    left_out = ("sign",) if request else ("sign", "sign_type")
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in left_out and v != "")


def alipay_request_valid(params: dict[str, str]) -> bool:
    """Our request carries the app's RSA2 signature (Alipay checks it with the app's key)."""
    return params.get("app_id") == demo_keys.ALIPAY_APP_ID and _verifies(
        keys()["alipay"]["app_private"],
        alipay_content(params, request=True),
        params.get("sign", ""),
    )


def alipay_signed(params: dict[str, str]) -> dict[str, str]:
    content = alipay_content(params, request=False)
    return {
        **params,
        "sign_type": "RSA2",
        "sign": _sign(keys()["alipay"]["alipay_private"], content),
    }


def _beijing_now() -> str:
    return timezone.localtime(timezone.now(), timezone.get_fixed_timezone(480)).strftime(
        BEIJING_FORMAT
    )


def alipay_open(params: dict[str, str]) -> dict:
    """A page or wap pay request opened at the cashier: the trade, remembered unpaid."""
    biz = json.loads(params["biz_content"])
    trade = recall("alipay", biz["out_trade_no"]) or {
        "out_trade_no": biz["out_trade_no"],
        "trade_no": f"{timezone.now():%Y%m%d}2200{secrets.randbelow(10**14):014d}",
        "trade_status": "WAIT_BUYER_PAY",
    }
    trade.update(
        subject=biz.get("subject", ""),
        total_amount=biz["total_amount"],
        method=params["method"],
        notify_url=params.get("notify_url", ""),
        return_url=params.get("return_url", ""),
        quit_url=biz.get("quit_url", ""),
    )
    remember("alipay", trade["out_trade_no"], trade)
    return trade


def _alipay_common(trade: dict) -> dict[str, str]:
    return {
        "app_id": demo_keys.ALIPAY_APP_ID,
        "auth_app_id": demo_keys.ALIPAY_APP_ID,
        "seller_id": demo_keys.ALIPAY_SELLER_ID,
        "charset": "utf-8",
        "version": "1.0",
        "out_trade_no": trade["out_trade_no"],
        "trade_no": trade["trade_no"],
        "total_amount": trade["total_amount"],
    }


def alipay_pay(trade: dict) -> str:
    """The shopper paid: Alipay's notification is posted to the trade's notify_url and the
    shop must answer "success" (once: a trade paid already is not paid again). Returns the
    signed return URL the shopper is sent to."""
    if trade["trade_status"] != "TRADE_SUCCESS":
        trade = {**trade, "trade_status": "TRADE_SUCCESS", "gmt_payment": _beijing_now()}
        _alipay_notify(trade)
        remember("alipay", trade["out_trade_no"], trade)
    back = alipay_signed(
        {
            **_alipay_common(trade),
            "method": trade["method"] + ".return",
            "timestamp": trade["gmt_payment"],
        }
    )
    separator = "&" if "?" in trade["return_url"] else "?"
    return trade["return_url"] + separator + urllib.parse.urlencode(back)


def _alipay_notify(trade: dict) -> None:
    notification = alipay_signed(
        {
            **_alipay_common(trade),
            "notify_time": trade["gmt_payment"],
            "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16),
            "trade_status": "TRADE_SUCCESS",
            "receipt_amount": trade["total_amount"],
            "buyer_pay_amount": trade["total_amount"],
            "subject": trade["subject"],
            "gmt_create": trade["gmt_payment"],
            "gmt_payment": trade["gmt_payment"],
        }
    )
    answer = _post(
        trade["notify_url"],
        data=notification,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    if answer.text.strip() != "success":
        raise NotDelivered(answer.text[:200])


def alipay_api(params: dict[str, str]) -> str:
    """The gateway's answer to a server call (query, refund, close), signed as Alipay signs:
    the response object's JSON text, signed with Alipay's key."""
    method = params.get("method", "")
    if not alipay_request_valid(params):
        answer = {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature"}
    else:
        biz = json.loads(params.get("biz_content") or "{}")
        trade = recall("alipay", biz.get("out_trade_no", ""))
        answer = _alipay_answer(method, biz, trade)
    name = method.replace(".", "_") + "_response"
    inner = json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
    return f'{{"{name}":{inner},"sign":"{_sign(keys()["alipay"]["alipay_private"], inner)}"}}'


def _alipay_answer(method: str, biz: dict, trade: dict | None) -> dict:
    done = {"code": "10000", "msg": "Success"}
    if trade is None:
        return {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST"}
    if method == "alipay.trade.query":
        return {
            **done,
            "out_trade_no": trade["out_trade_no"],
            "trade_no": trade["trade_no"],
            "trade_status": trade["trade_status"],
            "total_amount": trade["total_amount"],
        }
    if method == "alipay.trade.close":
        if trade["trade_status"] != "WAIT_BUYER_PAY":
            return {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_STATUS_ERROR"}
        remember("alipay", trade["out_trade_no"], {**trade, "trade_status": "TRADE_CLOSED"})
        return {**done, "out_trade_no": trade["out_trade_no"], "trade_no": trade["trade_no"]}
    if method == "alipay.trade.refund" and trade["trade_status"] == "TRADE_SUCCESS":
        refunds = {**trade.get("refunds", {})}
        fund_change = "N" if biz["out_request_no"] in refunds else "Y"
        refunds[biz["out_request_no"]] = biz["refund_amount"]
        remember("alipay", trade["out_trade_no"], {**trade, "refunds": refunds})
        refunded = sum((Decimal(v) for v in refunds.values()), Decimal("0"))
        return {
            **done,
            "out_trade_no": trade["out_trade_no"],
            "trade_no": trade["trade_no"],
            "fund_change": fund_change,
            "refund_fee": f"{refunded:.2f}",
        }
    return {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_STATUS_ERROR"}


# --- WeChat Pay -----------------------------------------------------------------------------


def wechat_request_valid(*, method: str, path: str, body: str, authorization: str) -> bool:
    """Our request's Authorization: RSA-SHA256 with the merchant's key over
    "method\\npath\\ntimestamp\\nnonce\\nbody\\n", naming our mchid and serial."""
    scheme, _space, fields = authorization.partition(" ")
    try:
        given = {k: v.strip('"') for k, v in (p.split("=", 1) for p in fields.split(","))}
    except ValueError:
        return False
    wechat = keys()["wechatpay"]
    return (
        scheme == "WECHATPAY2-SHA256-RSA2048"
        and given.get("mchid") == demo_keys.WECHATPAY_MCHID
        and given.get("serial_no") == wechat["serial_no"]
        and _verifies(
            wechat["merchant_private"],
            f"{method}\n{path}\n{given.get('timestamp')}\n{given.get('nonce_str')}\n{body}\n",
            given.get("signature", ""),
        )
    )


def wechat_signature_headers(body: str) -> dict[str, str]:
    """Wechatpay-* headers: the platform key's RSA-SHA256 over "timestamp\\nnonce\\nbody\\n"."""
    stamp, nonce = str(int(time.time())), secrets.token_hex(16)
    return {
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": _sign(
            keys()["wechatpay"]["platform_private"], f"{stamp}\n{nonce}\n{body}\n"
        ),
        "Wechatpay-Serial": demo_keys.WECHATPAY_PUBLIC_KEY_ID,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }


def wechat_open(order: dict) -> dict:
    """A Native or H5 order placed through the API: the trade, remembered unpaid, and the
    token of its cashier page (the code_url or h5_url points at it)."""
    token = secrets.token_urlsafe(16)
    trade = {
        "token": token,
        "mchid": order.get("mchid"),
        "appid": order.get("appid"),
        "out_trade_no": order["out_trade_no"],
        "description": order.get("description", ""),
        "notify_url": order.get("notify_url", ""),
        "amount": {"total": int(order["amount"]["total"]), "currency": "CNY"},
        "trade_state": "NOTPAY",
    }
    remember("wechatpay", order["out_trade_no"], trade)
    cache.set(f"wallets-demo:wechatpay-token:{token}", order["out_trade_no"], TRADE_TTL)
    return trade


def wechat_trade_for_token(token: str) -> dict | None:
    reference = cache.get(f"wallets-demo:wechatpay-token:{token}")
    return recall("wechatpay", reference) if reference else None


def wechat_resource(trade: dict) -> dict:
    """The transaction as WeChat Pay describes it (a notification's resource, a query's answer)."""
    fen = trade["amount"]["total"]
    paid = trade["trade_state"] == "SUCCESS"
    return {
        "mchid": trade["mchid"],
        "appid": trade["appid"],
        "out_trade_no": trade["out_trade_no"],
        "transaction_id": trade.get("transaction_id", ""),
        "trade_type": trade.get("trade_type", "NATIVE"),
        "trade_state": trade["trade_state"],
        "trade_state_desc": "支付成功" if paid else "订单未支付",
        "bank_type": "OTHERS",
        "success_time": trade.get("success_time", ""),
        "payer": {"openid": "oDEMO0000000000000000000000"},
        "amount": {"total": fen, "payer_total": fen, "currency": "CNY", "payer_currency": "CNY"},
    }


def wechat_pay(trade: dict) -> dict:
    """The shopper paid: TRANSACTION.SUCCESS, encrypted and signed, is posted to the trade's
    notify_url; the shop must answer 200 or 204."""
    trade = {
        **trade,
        "trade_state": "SUCCESS",
        "transaction_id": f"4200{secrets.randbelow(10**24):024d}",
        "success_time": timezone.localtime(timezone.now(), timezone.get_fixed_timezone(480))
        .replace(microsecond=0)
        .isoformat(),
    }
    nonce = secrets.token_hex(6)  # 12 characters, used as bytes, as WeChat Pay does
    plain = json.dumps(wechat_resource(trade), ensure_ascii=False).encode()
    ciphertext = AESGCM(keys()["wechatpay"]["api_v3_key"].encode()).encrypt(
        nonce.encode(), plain, b"transaction"
    )
    body = json.dumps(
        {
            "id": secrets.token_hex(18),
            "create_time": trade["success_time"],
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(ciphertext).decode(),
                "associated_data": "transaction",
                "nonce": nonce,
            },
        },
        ensure_ascii=False,
    )
    answer = _post(
        trade["notify_url"],
        data=body.encode(),
        headers={"Content-Type": "application/json", **wechat_signature_headers(body)},
    )
    if answer.status_code not in (200, 204):
        raise NotDelivered(answer.text[:200])
    remember("wechatpay", trade["out_trade_no"], trade)
    return trade


def wechat_api(
    *, method: str, path: str, body: str, authorization: str, cashier_url
) -> tuple[int, dict | None]:
    """The API's answer (status, JSON or None) to a signed call of the SDK. `path` is what
    the SDK signed (after the API's root); `cashier_url(token, h5)` makes a cashier's URL."""
    if not wechat_request_valid(method=method, path=path, body=body, authorization=authorization):
        return 401, {"code": "SIGN_ERROR", "message": "签名错误"}
    route = path.split("?", 1)[0]
    data = json.loads(body) if body else {}
    kind = route.rsplit("/", 1)[-1]
    if method == "POST" and route in ("/v3/pay/transactions/native", "/v3/pay/transactions/h5"):
        trade = wechat_open(data)
        if kind == "h5":
            trade["trade_type"] = "MWEB"
            remember("wechatpay", trade["out_trade_no"], trade)
            return 200, {"h5_url": cashier_url(trade["token"], h5=True)}
        return 200, {"code_url": cashier_url(trade["token"], h5=False)}
    prefix = "/v3/pay/transactions/out-trade-no/"
    if route.startswith(prefix):
        reference = route.removeprefix(prefix).removesuffix("/close")
        trade = recall("wechatpay", reference)
        if trade is None:
            return 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}
        if method == "GET":
            return 200, wechat_resource(trade)
        if trade["trade_state"] == "NOTPAY":
            remember("wechatpay", reference, {**trade, "trade_state": "CLOSED"})
        return 204, None
    if method == "POST" and route == "/v3/refund/domestic/refunds":
        trade = recall("wechatpay", data.get("out_trade_no", ""))
        if trade is None or trade["trade_state"] != "SUCCESS":
            return 400, {"code": "INVALID_REQUEST", "message": "订单状态不正确"}
        return 200, {
            # The same out_refund_no is the same refund, with the same id.
            "refund_id": "50000" + hashlib.sha256(data["out_refund_no"].encode()).hexdigest()[:24],
            "out_refund_no": data["out_refund_no"],
            "out_trade_no": trade["out_trade_no"],
            "status": "SUCCESS",
            "amount": data.get("amount", {}),
        }
    return 404, {"code": "NOT_FOUND", "message": "无此接口"}


def _post(url: str, **kwargs) -> requests.Response:
    try:
        return requests.post(url, timeout=NOTIFY_TIMEOUT, **kwargs)
    except requests.RequestException as error:
        raise NotDelivered(str(error)[:200]) from error
