"""The sandbox gateway: a hosted payment page inside the shop (/payments/sandbox/<token>/)
that behaves like a real gateway's. Its callbacks are JSON bodies signed with HMAC-SHA256
over the raw bytes with settings.SANDBOX_PAYMENT_SECRET, sent in `X-Sandbox-Signature` as
`sha256=<hex>`; payments.gateway builds and delivers them.
"""

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.urls import reverse

from payments.errors import InvalidPayload, InvalidSignature
from payments.providers.base import Browser, CallbackEvent, Provider, StartResult

SIGNATURE_HEADER = "X-Sandbox-Signature"

#: Sandbox event type -> the shop's kind of event.
KINDS = {
    "payment.authorised": "authorised",
    "payment.captured": "captured",
    "payment.failed": "failed",
    "payment.cancelled": "cancelled",
    "refund.succeeded": "refunded",
}


def sign(body: bytes, *, secret: str | None = None) -> str:
    key = (secret if secret is not None else settings.SANDBOX_PAYMENT_SECRET).encode()
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


class SandboxProvider(Provider):
    code = "sandbox"
    online = True
    signature_header = SIGNATURE_HEADER

    def start(
        self, *, payment, return_url: str, cancel_url: str, browser: Browser | None = None
    ) -> StartResult:
        token = secrets.token_urlsafe(24)
        return StartResult(
            redirect_url=reverse("payments:sandbox", kwargs={"token": token}), reference=token
        )

    def parse_callback(self, *, body: bytes, headers: Mapping[str, str]) -> list[CallbackEvent]:
        given = headers.get(SIGNATURE_HEADER, "")
        if not given or not settings.SANDBOX_PAYMENT_SECRET:
            raise InvalidSignature
        if not hmac.compare_digest(given.encode(), sign(body).encode()):
            raise InvalidSignature
        try:
            data = json.loads(body)
            event_id = str(data["id"])[:255]
            event_type = str(data["type"])[:100]
            reference = str(data.get("payment", ""))[:255]
            amount = Decimal(str(data["amount"])) if data.get("amount") is not None else None
            currency = str(data.get("currency", ""))[:3].upper()
        except (ValueError, KeyError, TypeError, InvalidOperation) as error:
            raise InvalidPayload(f"Unreadable sandbox callback: {error}") from error
        if not event_id:
            raise InvalidPayload("Sandbox callback without an id")
        return [
            CallbackEvent(
                event_id=event_id,
                event_type=event_type,
                kind=KINDS.get(event_type, "ignored"),
                reference=reference,
                amount=amount,
                currency=currency,
                reason=str(data.get("reason", ""))[:500],
                data=data,
            )
        ]

    def refund(self, *, payment, amount: Decimal, idempotency_key: str) -> str:
        # The sandbox holds no money: the refund is accepted locally, as a gateway would.
        return "sbre_" + secrets.token_urlsafe(12)


provider = SandboxProvider()
