"""WeChat Pay's side, played in tests: keys made here, notifications encrypted and signed as
WeChat Pay makes them, and its API's answers signed with the platform key, so the SDK's own
verification and decryption run on everything the shop receives. Nothing touches the network:
`responses` stands in for api.mch.weixin.qq.com at the HTTP layer."""

import base64
import json
import secrets
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.urls import reverse

from payments.tests.factories import enable_providers

API = "https://api.mch.weixin.qq.com"
MCHID = "1900000109"
APPID = "wxd678efh567hg6787"
PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001092026120100000000"
MERCHANT_SERIAL = "444F4864EA9B34415A1B2C3D4E5F60718293A4B5"


def _pem_private(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _pem_public(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class WeChatPaySide:
    """The keys of one merchant account: the merchant's API key, WeChat Pay's platform key
    and the API v3 key they share."""

    merchant_key: object
    platform_key: object
    api_v3_key: str

    @classmethod
    def make(cls) -> "WeChatPaySide":
        return cls(new_key(), new_key(), secrets.token_hex(16))

    def configure(self, settings) -> None:
        enable_providers(settings, ["manual", "sandbox", "wechatpay"])
        settings.SHOP_CURRENCY = "CNY"
        settings.WECHATPAY_MCHID = MCHID
        settings.WECHATPAY_APPID = APPID
        settings.WECHATPAY_API_V3_KEY = self.api_v3_key
        settings.WECHATPAY_PRIVATE_KEY = _pem_private(self.merchant_key)
        settings.WECHATPAY_CERT_SERIAL_NO = MERCHANT_SERIAL
        settings.WECHATPAY_PUBLIC_KEY = _pem_public(self.platform_key)
        settings.WECHATPAY_PUBLIC_KEY_ID = PUBLIC_KEY_ID
        settings.WECHATPAY_PLATFORM_CERT = ""

    # --- what WeChat Pay sends ----------------------------------------------------------

    def signature_headers(self, body: str, *, key=None, serial=PUBLIC_KEY_ID, timestamp=None):
        """Wechatpay-* headers: RSA-SHA256 over "timestamp\\nnonce\\nbody\\n"."""
        stamp = str(int(timestamp if timestamp is not None else time.time()))
        nonce = secrets.token_hex(16)
        message = f"{stamp}\n{nonce}\n{body}\n".encode()
        signature = (key or self.platform_key).sign(message, padding.PKCS1v15(), hashes.SHA256())
        return {
            "Wechatpay-Timestamp": stamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": base64.b64encode(signature).decode(),
            "Wechatpay-Serial": serial,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }

    def notification(
        self, resource: dict, *, event_type="TRANSACTION.SUCCESS", api_v3_key=None, **signing
    ) -> tuple[str, dict]:
        """A notification as WeChat Pay posts it: the resource encrypted with AES-256-GCM
        under the API v3 key (nonce and associated data in the clear), the body signed."""
        nonce = secrets.token_hex(6)  # 12 characters, used as bytes, as WeChat does
        associated = "transaction" if event_type.startswith("TRANSACTION") else "refund"
        key = (api_v3_key or self.api_v3_key).encode()
        ciphertext = AESGCM(key).encrypt(
            nonce.encode(), json.dumps(resource).encode(), associated.encode()
        )
        body = json.dumps(
            {
                "id": "EV-" + secrets.token_hex(8),
                "create_time": "2026-12-01T10:00:00+08:00",
                "resource_type": "encrypt-resource",
                "event_type": event_type,
                "summary": "支付成功" if event_type.startswith("TRANSACTION") else "退款成功",
                "resource": {
                    "original_type": associated,
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": base64.b64encode(ciphertext).decode(),
                    "associated_data": associated,
                    "nonce": nonce,
                },
            },
            ensure_ascii=False,
        )
        return body, self.signature_headers(body, **signing)

    def answer(self, status: int, data: dict | None = None):
        """A callback for `responses`: WeChat Pay's answer, signed with the platform key."""

        def reply(request):
            body = json.dumps(data) if data is not None else ""
            headers = self.signature_headers(body)
            if data is not None:
                headers["Content-Type"] = "application/json"
            return status, headers, body

        return reply

    # --- what the shop sends ------------------------------------------------------------

    def assert_signed_by_merchant(self, request) -> None:
        """The request carries the SDK's Authorization: RSA-SHA256 with the merchant's key
        over "method\\npath\\ntimestamp\\nnonce\\nbody\\n", naming our mchid and serial."""
        scheme, _space, params = request.headers["Authorization"].partition(" ")
        assert scheme == "WECHATPAY2-SHA256-RSA2048"
        fields = dict(part.split("=", 1) for part in params.split(","))
        fields = {k: v.strip('"') for k, v in fields.items()}
        assert fields["mchid"] == MCHID and fields["serial_no"] == MERCHANT_SERIAL
        url = request.url.removeprefix(API)
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        message = f"{request.method}\n{url}\n{fields['timestamp']}\n{fields['nonce_str']}\n{body}\n"
        self.merchant_key.public_key().verify(
            base64.b64decode(fields["signature"]),
            message.encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )


def paid_resource(payment, *, total=None, currency="CNY", mchid=MCHID, appid=APPID, **extra):
    """The decrypted resource of TRANSACTION.SUCCESS for `payment` (amount in fen)."""
    fen = int(payment.amount * 100) if total is None else total
    return {
        "mchid": mchid,
        "appid": appid,
        "out_trade_no": payment.reference,
        "transaction_id": extra.pop("transaction_id", "4200000000202612010000000001"),
        "trade_type": "NATIVE",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "success_time": "2026-12-01T10:00:00+08:00",
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {"total": fen, "payer_total": fen, "currency": currency, "payer_currency": "CNY"},
        **extra,
    }


def refund_resource(payment, *, refund_id, status="SUCCESS", amount=None, mchid=MCHID):
    fen = int((amount if amount is not None else payment.amount) * 100)
    return {
        "mchid": mchid,
        "out_trade_no": payment.reference,
        "transaction_id": "4200000000202612010000000001",
        "out_refund_no": f"{payment.reference}-refund",
        "refund_id": refund_id,
        "refund_status": status,
        "success_time": "2026-12-01T11:00:00+08:00",
        "user_received_account": "支付用户零钱",
        "amount": {
            "total": int(payment.amount * 100),
            "refund": fen,
            "payer_total": int(payment.amount * 100),
            "payer_refund": fen,
        },
    }


def deliver(client, body: str, headers: dict):
    """POST a notification to the shop's webhook, as WeChat Pay does."""
    return client.post(
        reverse("payments:webhook", kwargs={"provider": "wechatpay"}),
        data=body.encode(),
        content_type="application/json",
        headers=headers,
    )
