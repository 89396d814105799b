"""Alipay offline, for tests: key pairs made here, notifications signed as Alipay signs them
(written here with `cryptography`, independently of the SDK that verifies them), and a
gateway that answers the SDK's server calls.

The SDK calls Alipay with urllib's urlopen (not requests), so the gateway is a urllib
HTTPS handler installed with urllib.request.install_opener: it intercepts at the HTTP
layer, checks our request's signature with the app's public key as Alipay would, and
answers with a body signed with "Alipay's" private key, which the SDK verifies.
"""

import base64
import io
import json
import urllib.parse
import urllib.request
import urllib.response
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

APP_ID = "2021000000000001"
SELLER_ID = "2088000000000001"


@dataclass(frozen=True)
class KeyPair:
    private: rsa.RSAPrivateKey

    @classmethod
    def new(cls) -> "KeyPair":
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @property
    def private_pem(self) -> str:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    @property
    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def sign(self, message: str) -> str:
        signature = self.private.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()

    def verifies(self, message: str, signature: str) -> bool:
        try:
            self.private.public_key().verify(
                base64.b64decode(signature), message.encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError):
            return False
        return True


def content_to_sign(params: dict[str, str], *, request: bool = False) -> str:
    """Alipay's string to sign: the parameters but sign (and, in what Alipay sends, also
    sign_type), empty ones left out, sorted by name, as name=value joined by &, values not
    URL-encoded. A request to Alipay signs its sign_type too."""
    left_out = ("sign",) if request else ("sign", "sign_type")
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in left_out and v != "")


def signed(params: dict[str, str], key: KeyPair) -> dict[str, str]:
    return {**params, "sign_type": "RSA2", "sign": key.sign(content_to_sign(params))}


def notification(payment, *, key: KeyPair, status="TRADE_SUCCESS", **changes) -> dict:
    """The asynchronous notification Alipay posts for `payment`, signed with `key`."""
    params = {
        "notify_time": "2026-12-01 10:00:00",
        "notify_type": "trade_status_sync",
        "notify_id": f"ac05099524730693a8b330c5ecf72da{payment.pk}",
        "charset": "utf-8",
        "version": "1.0",
        "app_id": APP_ID,
        "auth_app_id": APP_ID,
        "seller_id": SELLER_ID,
        "trade_no": f"2026120122001404{payment.pk:010d}",
        "out_trade_no": payment.reference,
        "trade_status": status,
        "total_amount": f"{payment.amount:.2f}",
        "receipt_amount": f"{payment.amount:.2f}",
        "buyer_id": "2088102177846880",
        "subject": f"订单 {payment.order.number}",
        "gmt_create": "2026-12-01 09:59:00",
        "gmt_payment": "2026-12-01 10:00:00",
        "passback_params": "",
        **changes,
    }
    return signed(params, key)


def form(params: dict[str, str]) -> str:
    return urllib.parse.urlencode(params)


@dataclass
class Call:
    """One request our side sent to the gateway, as Alipay receives it."""

    params: dict[str, str]
    signature_valid: bool

    @property
    def method(self) -> str:
        return self.params["method"]

    @property
    def biz(self) -> dict:
        return json.loads(self.params["biz_content"])


class FakeGateway(urllib.request.HTTPSHandler):
    """Alipay's gateway for the SDK's server calls: answers[method] is the response object
    (e.g. {"code": "10000", ...}) or an exception to raise; every call is recorded."""

    def __init__(self, *, app: KeyPair, alipay: KeyPair):
        super().__init__()
        self.app, self.alipay = app, alipay
        self.answers: dict = {}
        self.calls: list[Call] = []

    def https_open(self, request):
        query = urllib.parse.urlsplit(request.full_url).query
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        valid = self.app.verifies(content_to_sign(params, request=True), params.get("sign", ""))
        self.calls.append(Call(params=params, signature_valid=valid))
        answer = self.answers.get(params.get("method"))
        if isinstance(answer, Exception):
            raise answer
        if not valid:
            answer = {
                "code": "40002",
                "msg": "Invalid Arguments",
                "sub_code": "isv.invalid-signature",
            }
        answer = answer or {
            "code": "40004",
            "msg": "Business Failed",
            "sub_code": "ACQ.SYSTEM_ERROR",
        }
        name = params["method"].replace(".", "_") + "_response"
        inner = json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
        body = f'{{"{name}":{inner},"sign":"{self.alipay.sign(inner)}"}}'.encode()
        headers = Message()
        headers["Content-Type"] = "application/json;charset=utf-8"
        response = urllib.response.addinfourl(io.BytesIO(body), headers, request.full_url, 200)
        response.msg = "OK"
        return response


@contextmanager
def gateway(app: KeyPair, alipay: KeyPair):
    """Every urlopen in the process goes to a FakeGateway while the block runs."""
    fake = FakeGateway(app=app, alipay=alipay)
    urllib.request.install_opener(urllib.request.build_opener(fake))
    try:
        yield fake
    finally:
        urllib.request.install_opener(None)
