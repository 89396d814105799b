"""What every provider does: start a payment, read a callback, give money back."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.http import HttpResponse, JsonResponse


@dataclass(frozen=True)
class StartResult:
    """Where the shopper goes next: a redirect to the gateway, or a page of ours."""

    redirect_url: str = ""
    #: The provider's id of the payment, when the provider makes one (Stripe's session id).
    reference: str = ""
    #: When the provider's page stops taking this payment, if it says.
    expires_at: datetime | None = None
    #: What the shopper scans with the provider's app to pay (WeChat Pay's Native code_url).
    qr_code: str = ""


@dataclass(frozen=True)
class Browser:
    """The shopper's browser, for providers whose way to pay differs on a phone (WeChat
    Pay: a QR code on a computer, its H5 page on a phone) or that must name the shopper's
    address to the gateway."""

    ip: str = ""
    phone: bool = False


@dataclass(frozen=True)
class CallbackEvent:
    """One verified event of a callback, in the shop's words.

    kind is one of "authorised", "captured", "failed", "cancelled", "refunded",
    "refund_failed" (reference: the provider's refund id), "refund_succeeded" (one refund,
    not a running total; data["refund"]: the provider's refund id), or "ignored" (an event
    type we store but do not act on).
    """

    event_id: str
    event_type: str
    kind: str
    #: The payment's provider reference the event is about ("" if it names none).
    reference: str
    #: Our payment's id, for events that carry it instead of a reference (from metadata).
    payment_id: str = ""
    amount: Decimal | None = None
    currency: str = ""
    reason: str = ""
    data: Mapping = field(default_factory=dict)


class Provider:
    code: str = ""
    #: True when the shopper pays on the provider's page (redirect and callback).
    online: bool = True
    #: The request header that carries the callback's signature.
    signature_header: str = ""
    #: The media type of the provider's callbacks (Alipay posts a form).
    callback_content_type: str = "application/json"
    #: True when query() can ask the provider what became of a payment (reconcile_payments
    #: then checks its payments left open past their deadline).
    queryable: bool = False

    @property
    def label(self) -> str:
        return str(settings.PAYMENT_PROVIDER_LABELS.get(self.code, self.code))

    def start(
        self, *, payment, return_url: str, cancel_url: str, browser: Browser | None = None
    ) -> StartResult:
        raise NotImplementedError

    def parse_callback(self, *, body: bytes, headers: Mapping[str, str]) -> list[CallbackEvent]:
        """Verify the signature over the raw body first (InvalidSignature), then read it
        (InvalidPayload). Nothing in an unverified body is looked at."""
        raise NotImplementedError

    def refund(self, *, payment, amount: Decimal, idempotency_key: str) -> str:
        """Give `amount` back through the provider; returns its reference for the refund."""
        raise NotImplementedError

    def close(self, *, payment) -> None:
        """Stop the provider from taking this open payment (the order was paid otherwise or
        cancelled). Nothing to do where the shopper has no open page at the provider."""

    def query(self, *, payment) -> CallbackEvent | None:
        """Ask the provider what became of an open payment, as the event its callback would
        have been; None while nothing is decided, or where the provider cannot be asked."""
        return None

    def verify_return(self, *, payment, params: Mapping[str, str]) -> bool:
        """True when the shopper's return from the provider's page is signed by it (then
        the return page asks the provider with query() rather than wait for the callback)."""
        return False

    def callback_response(
        self, *, status: int, error: str = "", received: int = 0, accepted: bool = True
    ) -> HttpResponse:
        """The answer to a callback delivery: 200 once stored (the provider stops retrying),
        4xx with why otherwise. `accepted`: every event was acted on without a problem
        (services.callback_accepted); a flagged one is the merchant's, so most providers are
        told to stop, and only one that must be asked again (Alipay) looks at it. Providers
        whose gateway expects another shape override this."""
        if error:
            return JsonResponse({"error": error}, status=status)
        return JsonResponse({"received": received})
