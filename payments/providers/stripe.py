"""Stripe Checkout through the official `stripe` package.

start() creates a Checkout Session (network) and sends the shopper to its URL; the session
id is the payment's reference. The webhook (/payments/webhook/stripe/) is verified with
stripe.Webhook.construct_event against settings.STRIPE_WEBHOOK_SECRET before anything in it is
read. Handled: checkout.session.completed, checkout.session.expired, refund.failed,
payment_intent.payment_failed, charge.refunded; everything else is stored and ignored.
Amounts are whole numbers of the currency's minor unit, as many decimals as shop.money says
(Babel's CLDR data): 10.00 USD is 1000, ¥1,000 is 1000, 1.000 KWD is 1000. Stripe's one
exception is kept here: its API counts ISK in hundredths, though the króna has no decimals.
Three-decimal amounts must end in 0 for Stripe; ours do, as the database keeps two decimals.
"""

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal

import stripe
from django.conf import settings
from django.utils import timezone

from payments.errors import InvalidPayload, InvalidSignature, ProviderUnavailable
from payments.providers.base import Browser, CallbackEvent, Provider, StartResult
from shop import money

SIGNATURE_HEADER = "Stripe-Signature"
#: Currencies Stripe's API counts in hundredths although they have no minor unit in use
#: (Stripe's "special cases": ISK stays two-decimal for backwards compatibility, amounts
#: a multiple of 100). Everything else follows the currency data.
STRIPE_HUNDREDTHS = frozenset({"ISK"})


def to_minor(amount: Decimal, currency: str) -> int:
    """The amount Stripe's API expects: whole minor units of `currency`."""
    if currency.upper() in STRIPE_HUNDREDTHS:
        return money.to_minor(amount, currency) * 100
    return money.to_minor(amount, currency)


def from_minor(value, currency: str) -> Decimal | None:
    """An amount from Stripe (minor units of `currency`) as a Decimal; None stays None."""
    if value is None or not currency:
        return None
    if currency.upper() in STRIPE_HUNDREDTHS:
        return money.quantize(Decimal(int(value)) / 100, currency)
    return money.from_minor(value, currency)


#: Stripe takes a session expiry between 30 minutes and 24 hours from its creation.
SESSION_LIFETIME = (timedelta(minutes=31), timedelta(hours=23, minutes=59))


def session_expiry(deadline: datetime | None, *, now: datetime | None = None) -> datetime:
    """The session's expiry: the order's deadline, within what Stripe accepts. A deadline
    sooner than Stripe's minimum gives the minimum, and the order waits for it
    (payments.services.start_payment extends its deadline)."""
    now = now or timezone.now()
    shortest, longest = (now + span for span in SESSION_LIFETIME)
    return min(max(deadline or shortest, shortest), longest)


class StripeProvider(Provider):
    code = "stripe"
    online = True
    signature_header = SIGNATURE_HEADER

    def start(
        self, *, payment, return_url: str, cancel_url: str, browser: Browser | None = None
    ) -> StartResult:
        order = payment.order
        expires_at = session_expiry(order.payment_deadline)
        try:
            session = stripe.checkout.Session.create(
                api_key=settings.STRIPE_SECRET_KEY,
                mode="payment",
                client_reference_id=order.number,
                customer_email=order.email or None,
                line_items=[
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": payment.currency.lower(),
                            "unit_amount": to_minor(payment.amount, payment.currency),
                            "product_data": {"name": f"Order {order.number}"},
                        },
                    }
                ],
                metadata={"order": order.number, "payment": str(payment.pk)},
                # Intents and their charges carry our payment's id: their events (failed,
                # refunded) name no Checkout Session.
                payment_intent_data={
                    "metadata": {"order": order.number, "payment": str(payment.pk)}
                },
                success_url=return_url,
                cancel_url=cancel_url,
                expires_at=int(expires_at.timestamp()),
                idempotency_key=f"payment-{payment.pk}",
            )
        except stripe.StripeError as error:
            raise ProviderUnavailable(str(error.user_message or error)) from error
        return StartResult(
            redirect_url=session["url"], reference=session["id"], expires_at=expires_at
        )

    def close(self, *, payment) -> None:
        if not payment.reference:
            return
        try:
            stripe.checkout.Session.expire(payment.reference, api_key=settings.STRIPE_SECRET_KEY)
        except stripe.InvalidRequestError:
            return  # expired or completed already: nothing left open
        except stripe.StripeError as error:
            raise ProviderUnavailable(str(error.user_message or error)) from error

    def parse_callback(self, *, body: bytes, headers: Mapping[str, str]) -> list[CallbackEvent]:
        try:
            event = stripe.Webhook.construct_event(
                body, headers.get(SIGNATURE_HEADER) or None, settings.STRIPE_WEBHOOK_SECRET
            )
        except stripe.SignatureVerificationError as error:
            raise InvalidSignature(str(error)[:200]) from error
        except ValueError as error:  # signed, but not JSON
            raise InvalidPayload(str(error)[:200]) from error
        try:
            # Verified: read the plain JSON (StripeObject is no dict in stripe >= 13).
            return [self._event(json.loads(body))] if event else []
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            raise InvalidPayload(f"Unreadable Stripe event: {error}") from error

    def _event(self, event) -> CallbackEvent:
        kind, reference, amount, currency, reason = "ignored", "", None, "", ""
        obj = event["data"]["object"]
        event_type = event["type"]
        if event_type == "checkout.session.completed":
            reference = obj["id"]
            paid = obj.get("payment_status") in ("paid", "no_payment_required")
            kind = "captured" if paid else "authorised"
            currency = obj.get("currency") or ""
            amount = from_minor(obj.get("amount_total"), currency)
        elif event_type == "checkout.session.async_payment_succeeded":
            reference, kind = obj["id"], "captured"
            currency = obj.get("currency") or ""
            amount = from_minor(obj.get("amount_total"), currency)
        elif event_type in ("checkout.session.expired", "checkout.session.async_payment_failed"):
            reference = obj["id"]
            kind = "cancelled" if event_type.endswith("expired") else "failed"
        elif event_type == "payment_intent.payment_failed":
            kind = "failed"
            error = obj.get("last_payment_error") or {}
            reason = str(error.get("message") or "")
            currency = obj.get("currency") or ""
            amount = from_minor(obj.get("amount"), currency)
        elif event_type == "refund.failed":
            kind, reference = "refund_failed", obj["id"]
            currency = obj.get("currency") or ""
            amount = from_minor(obj.get("amount"), currency)
            reason = str(obj.get("failure_reason") or "")
        elif event_type == "charge.refunded":
            # Cumulative: what the charge has had back in all, wherever it was refunded.
            kind = "refunded"
            currency = obj.get("currency") or ""
            amount = from_minor(obj.get("amount_refunded"), currency)
        metadata = obj.get("metadata") or {}
        return CallbackEvent(
            event_id=event["id"],
            event_type=event_type,
            kind=kind,
            reference=reference,
            amount=amount,
            currency=currency.upper(),
            reason=reason[:500],
            payment_id=str(metadata.get("payment", ""))[:20],
            data={"object": obj.get("object", ""), "order": metadata.get("order", "")},
        )

    def refund(self, *, payment, amount: Decimal, idempotency_key: str) -> str:
        try:
            session = stripe.checkout.Session.retrieve(
                payment.reference, api_key=settings.STRIPE_SECRET_KEY
            )
            refund = stripe.Refund.create(
                api_key=settings.STRIPE_SECRET_KEY,
                payment_intent=session["payment_intent"],
                amount=to_minor(amount, payment.currency),
                idempotency_key=idempotency_key,
            )
        except stripe.StripeError as error:
            raise ProviderUnavailable(str(error.user_message or error)) from error
        return refund["id"]


provider = StripeProvider()
