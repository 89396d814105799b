"""Every write of the payments app: starting a payment, taking in a callback, refunding,
recording a manual payment, cancelling a paid order, reconciling payments with orders.

Callbacks are idempotent: every delivery is stored first (PaymentEvent), then processed
under the row locks of the order and the payment (always in that order, as refunds take
them), where "was this event id processed already?" and "process it" happen as one step; a
partial unique constraint (one processed row per provider and event id) backs this up.
This app is the only one that moves money; orders change only through orders.services
(record_payment, record_refund, refund_lines, cancel_locked_order).
"""

import json
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from orders import locks as order_locks
from orders import services as order_services
from orders.errors import OrderError
from orders.models import Order, OrderStatus, PaymentStatus
from payments import locks, selectors
from payments.errors import (
    InvalidPayload,
    InvalidSignature,
    NotPayable,
    PaymentError,
    ProviderUnavailable,
    RefundRejected,
)
from payments.models import (
    MONEY_TAKEN,
    ZERO,
    Payment,
    PaymentEvent,
    PaymentState,
    PaymentStateChange,
    Refund,
    RefundStatus,
)
from payments.providers import get_provider
from payments.providers.base import Browser, CallbackEvent, Provider, StartResult
from shop.money import format_money

logger = logging.getLogger(__name__)
P = PaymentState

#: The largest callback body stored and read. Real gateways send a few KB; 64 KB leaves room
#: for Stripe's biggest events while keeping a flood of junk from filling the table.
MAX_CALLBACK_BYTES = 64 * 1024
#: How much of an unsigned (forged) callback is kept for the merchant to look at.
FORGED_PAYLOAD_CHARS = 1024


# --- Starting ---------------------------------------------------------------------------


def amount_due(order: Order) -> Decimal:
    return order.amount_due


def awaits_payment(order: Order) -> bool:
    return order.status == OrderStatus.OPEN and order.payment_status in (
        PaymentStatus.UNPAID,
        PaymentStatus.PARTIALLY_PAID,
    )


def start_payment(
    *,
    order: Order,
    provider_code: str,
    return_url: str,
    cancel_url: str,
    browser: Browser | None = None,
) -> tuple[Payment, StartResult]:
    """Open a payment for what the order still owes with `provider_code` and say where the
    shopper goes next. An open payment of the same provider is reused (a reload of the
    redirect does not open a second one). A failed one is never reused: a retry is a new
    payment. The provider is called outside any transaction (it may be a network call)."""
    provider = get_provider(provider_code)
    with transaction.atomic():
        locked = order_locks.order_for_update(pk=order.pk)
        if not awaits_payment(locked) or amount_due(locked) <= 0:
            raise NotPayable(_("This order does not await payment."))
        if locked.payment_method != provider.code:
            order_services.set_payment_method(order=locked, payment_method=provider.code)
        open_payment = (
            Payment.objects.filter(
                order=locked, provider=provider.code, state=P.PENDING, amount=amount_due(locked)
            )
            .order_by("-pk")
            .first()
        )
        if open_payment is not None and (open_payment.redirect_url or not provider.online):
            return open_payment, StartResult(
                redirect_url=open_payment.redirect_url, reference=open_payment.reference
            )
        payment = Payment.objects.create(
            order=locked,
            provider=provider.code,
            amount=amount_due(locked),
            currency=locked.currency,
            reference="" if provider.online else f"manual-{secrets.token_hex(6)}",
        )
        _change(payment, to=P.PENDING, note=_("Payment started"), from_state=P.PENDING)
    try:
        result = provider.start(
            payment=payment, return_url=return_url, cancel_url=cancel_url, browser=browser
        )
    except ProviderUnavailable as error:
        with transaction.atomic():
            locked_payment = locks.payment_for_update(pk=payment.pk)
            locked_payment.failure_reason = error.message[:500]
            _set_state(locked_payment, to=P.FAILED, note=error.message)
        raise
    if result.reference or result.redirect_url or result.expires_at:
        payment.reference = result.reference or payment.reference
        payment.redirect_url = result.redirect_url
        payment.expires_at = result.expires_at
        payment.qr_code = result.qr_code
        payment.save(
            update_fields=["reference", "redirect_url", "expires_at", "qr_code", "updated_at"]
        )
    if result.expires_at is not None:
        # The shopper may pay on the provider's page until it expires: the order waits.
        order_services.extend_payment_deadline(order=order, until=result.expires_at)
    return payment, result


def _change(payment: Payment, *, to: str, note: str = "", actor=None, from_state=None):
    PaymentStateChange.objects.create(
        payment=payment,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        from_state=from_state or payment.state,
        to_state=to,
        note=str(note)[:500],
    )


def _set_state(payment: Payment, *, to: str, note: str = "", actor=None) -> None:
    """Change a payment's state (row already locked) and write its event row."""
    if payment.state == to:
        return
    _change(payment, to=to, note=note, actor=actor)
    payment.state = to
    fields = ["state", "updated_at"]
    if to == P.CAPTURED and payment.captured_at is None:
        payment.captured_at = timezone.now()
        fields.append("captured_at")
    if to in (P.FAILED, P.CANCELLED):
        fields.append("failure_reason")
    payment.save(update_fields=fields)


def _flag(payment: Payment, reason: str) -> None:
    payment.flagged = True
    payment.flag_reason = reason[:500]
    payment.save(update_fields=["flagged", "flag_reason", "updated_at"])
    logger.warning("payment %s flagged: %s", payment.pk, reason)


# --- Callbacks --------------------------------------------------------------------------


@dataclass
class CallbackResult:
    deliveries: list[PaymentEvent] = field(default_factory=list)


def receive_callback(
    *,
    provider_code: str,
    body: bytes,
    headers: Mapping[str, str],
    keep_forgery: Callable[[], bool] = lambda: True,
) -> CallbackResult:
    """Take in one delivery from a provider: verify, store, process once.

    The signature is checked over the raw bytes before anything in them is read. A forged or
    missing signature is stored (signature_valid=False, its first KB) when `keep_forgery()`
    allows, and raises InvalidSignature; a
    signed body we cannot read is stored, flagged, and raises InvalidPayload. Every event of
    a valid delivery is stored, then processed unless its id was processed before.
    """
    provider = get_provider(provider_code)
    body = bytes(body[:MAX_CALLBACK_BYTES])
    signature = (headers.get(provider.signature_header, "") if provider.signature_header else "")[
        :500
    ]
    # PostgreSQL keeps no NUL in text: shown as U+FFFD, the bytes verified were the raw ones.
    payload = body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    stored = {"provider": provider.code, "payload": payload, "signature": signature}
    try:
        events = provider.parse_callback(body=body, headers=headers)
    except InvalidSignature as error:
        # Anyone can post a forgery: keep enough to see what was tried, not what was sent.
        if keep_forgery():
            forged = {**stored, "payload": payload[:FORGED_PAYLOAD_CHARS]}
            PaymentEvent.objects.create(**forged, signature_valid=False, error=error.message[:500])
        raise
    except InvalidPayload as error:
        PaymentEvent.objects.create(
            **stored, signature_valid=True, flagged=True, error=error.message[:500]
        )
        raise
    result = CallbackResult()
    for event in events:
        delivery = PaymentEvent.objects.create(
            **stored, signature_valid=True, event_id=event.event_id, event_type=event.event_type
        )
        process_event(delivery=delivery, event=event, provider=provider)
        result.deliveries.append(delivery)
    return result


def callback_accepted(result: CallbackResult) -> bool:
    """True when every event of a delivery was acted on without a problem, now or at an
    earlier delivery of the same event (a provider that retries until told "success", as
    Alipay does, keeps retrying the others, each stored and changing nothing)."""
    for delivery in result.deliveries:
        if delivery.flagged or delivery.payment_id is None:
            return False
        if (
            delivery.duplicate
            and PaymentEvent.objects.filter(
                provider=delivery.provider, event_id=delivery.event_id, processed=True, flagged=True
            ).exists()
        ):
            return False
    return bool(result.deliveries)


def take_in_answer(*, payment: Payment, event: CallbackEvent) -> PaymentEvent:
    """Act on what a provider answered when asked about `payment` (Provider.query), as on
    its callback: stored as a delivery (the answer came signed over our own API call) and
    processed once per event id."""
    provider = get_provider(payment.provider)
    delivery = PaymentEvent.objects.create(
        provider=provider.code,
        payload=json.dumps(
            {"reference": event.reference, "amount": str(event.amount), **event.data}
        ),
        signature_valid=True,
        event_id=event.event_id,
        event_type=event.event_type,
    )
    process_event(delivery=delivery, event=event, provider=provider)
    return delivery


def confirm_return(*, payment: Payment | None, params: Mapping[str, str]) -> None:
    """The shopper came back from the provider's page. A return is no proof of payment (a
    shopper can type one): when the provider signed it, the provider is asked, and its
    answer is taken in as its callback would be. Unsigned returns change nothing."""
    if payment is None or payment.state not in (P.PENDING, P.AUTHORISED):
        return
    provider = get_provider(payment.provider)
    if not provider.verify_return(payment=payment, params=params):
        return
    try:
        event = provider.query(payment=payment)
    except ProviderUnavailable as error:
        logger.warning("payment %s not checked on return: %s", payment.pk, error.message)
        return
    if event is not None:
        take_in_answer(payment=payment, event=event)


def _payment_for(event: CallbackEvent, provider: Provider) -> Payment | None:
    """The payment the event is about, locked (after its order), or None."""
    if event.kind == "refund_failed":
        refund = Refund.objects.filter(reference=event.reference).order_by("pk").first()
        return locks.payment_for_update(pk=refund.payment_id) if refund else None
    payment_id = locks.payment_id_for_callback(
        provider=provider.code, reference=event.reference, payment_id=event.payment_id
    )
    return None if payment_id is None else locks.payment_for_update(pk=payment_id)


@transaction.atomic
def process_event(*, delivery: PaymentEvent, event: CallbackEvent, provider: Provider) -> None:
    """Act on one stored, verified event, at most once per (provider, event id)."""
    payment = _payment_for(event, provider)
    if payment is None:
        delivery.flagged = True
        delivery.error = _("No payment of ours matches this callback.")[:500]
        delivery.save(update_fields=["flagged", "error"])
        return
    delivery.payment = payment
    done = PaymentEvent.objects.filter(
        provider=provider.code, event_id=event.event_id, processed=True
    ).exists()
    if done:
        delivery.duplicate = True
        delivery.save(update_fields=["payment", "duplicate"])
        return
    try:
        with transaction.atomic():
            problem = _apply(payment, event=event, provider=provider)
    except (PaymentError, OrderError) as error:
        problem = error.message
    if problem:
        delivery.flagged = True
        delivery.error = problem[:500]
    delivery.processed = True
    delivery.save(update_fields=["payment", "processed", "flagged", "error"])


def _apply(payment: Payment, *, event: CallbackEvent, provider: Provider) -> str:
    """The effect of one event on a locked payment; returns a problem for the merchant, or
    "". Events may arrive out of order: one that would move a payment back (a decline after
    the capture, an authorisation after it) changes nothing."""
    note = _("%(event)s from %(provider)s") % {
        "event": event.event_type,
        "provider": provider.label,
    }
    if event.kind == "authorised":
        if payment.state == P.PENDING:
            _set_state(payment, to=P.AUTHORISED, note=note)
        return ""
    if event.kind in ("failed", "cancelled"):
        if payment.state in (P.PENDING, P.AUTHORISED):
            payment.failure_reason = event.reason[:500]
            _set_state(payment, to=P.FAILED if event.kind == "failed" else P.CANCELLED, note=note)
        return ""
    if event.kind == "captured":
        return _capture(payment, event=event, note=note)
    if event.kind == "refund_failed":
        return _refund_failed_at_provider(payment, event=event)
    if event.kind == "refunded":
        return _refunded_at_provider(payment, event=event, note=note)
    if event.kind == "refund_succeeded":
        return _refund_succeeded_at_provider(payment, event=event)
    return ""


def _mismatch(payment: Payment, *, amount: Decimal | None, currency: str) -> str:
    if amount is None or amount != payment.amount or currency.upper() != payment.currency:
        return _(
            "Amount mismatch: the provider reports %(got)s %(got_currency)s, "
            "the payment is for %(want)s %(want_currency)s."
        ) % {
            "got": amount,
            "got_currency": currency or "?",
            "want": payment.amount,
            "want_currency": payment.currency,
        }
    return ""


def _capture(payment: Payment, *, event: CallbackEvent, note: str) -> str:
    if payment.state in MONEY_TAKEN:
        return ""  # captured already (another event id for the same capture)
    problem = _mismatch(payment, amount=event.amount, currency=event.currency)
    if problem:
        _flag(payment, problem)
        return problem
    # A capture wins over an earlier decline or expiry: the money was taken after all.
    _set_state(payment, to=P.CAPTURED, note=note)
    return _pay_order(payment, note=note)


def _pay_order(payment: Payment, *, note: str, actor=None) -> str:
    """Count a captured payment on its order; money the order no longer wants (it was paid
    by another payment, or cancelled) is surplus and goes back at once."""
    order = order_locks.order_for_update(pk=payment.order_id)
    if not awaits_payment(order) or payment.amount > order.amount_due:
        _refund_surplus(payment, order=order)
        return ""
    order_services.record_payment(order=order, amount=payment.amount, actor=actor, note=note)
    order.refresh_from_db()
    if not awaits_payment(order):
        close_open_payments(order=order, note=_("The order was paid by another payment"))
    return ""


def _refund_surplus(payment: Payment, *, order: Order) -> None:
    """Give back a whole payment outside the order's life: through its provider, or, for
    money paid by hand, as a refund due that the merchant sends and then records."""
    payment.surplus = True
    payment.save(update_fields=["surplus", "updated_at"])
    reason = _(
        "Payment for order %(number)s arrived while the order was %(state)s: given back."
    ) % {
        "number": order.number,
        "state": f"{order.get_status_display()}, {order.get_payment_status_display()}".lower(),
    }
    _send_refund(payment, amount=payment.amount, reason=reason, actor=None, confirmed=False)
    order_services.note_on_order(order=order, note=reason)


def close_open_payments(*, order: Order, note: str) -> int:
    """Close the order's payments still open at their providers (a Stripe session is
    expired), so the shopper cannot pay twice; returns how many. A provider that cannot be
    reached leaves the payment open: if it captures later, it is refunded as surplus."""
    closed = 0
    for payment in locks.payments_of_order_for_update(order_id=order.pk):
        if payment.state not in (P.PENDING, P.AUTHORISED):
            continue
        try:
            get_provider(payment.provider).close(payment=payment)
        except ProviderUnavailable as error:
            logger.warning("payment %s not closed: %s", payment.pk, error.message)
            continue
        payment.failure_reason = str(note)[:500]
        _set_state(payment, to=P.CANCELLED, note=note)
        closed += 1
    return closed


def _refunded_at_provider(payment: Payment, *, event: CallbackEvent, note: str) -> str:
    """The provider says how much this payment has had back in all; record what we have
    not recorded yet (a refund made in the provider's dashboard). Our own refunds are
    recorded already, so their echo changes nothing."""
    if event.amount is None:
        return _("A refund callback without an amount.")
    if payment.state not in MONEY_TAKEN:
        problem = _("A refund was reported for a payment that was never captured.")
        _flag(payment, problem)
        return problem
    missing = min(event.amount, payment.amount) - payment.amount_refunded - _due(payment)
    if missing > 0:
        refund = Refund.objects.create(
            payment=payment,
            amount=missing,
            reason=_("Refunded at %(provider)s") % {"provider": payment.provider},
            reference=event.event_id[:255],
        )
        _settle(refund, actor=None)
    return ""


def _refund_succeeded_at_provider(payment: Payment, *, event: CallbackEvent) -> str:
    """The provider reports one refund done (WeChat Pay's REFUND.SUCCESS). Ours were
    recorded when the provider accepted them, so their echo changes nothing; one made in the
    provider's own tools is recorded now."""
    refund_id = str(event.data.get("refund", ""))[:255]
    if Refund.objects.filter(payment=payment, reference=refund_id).exists():
        return ""
    if event.amount is None or event.currency.upper() != payment.currency:
        return _("A refund callback without an amount.")
    if payment.state not in MONEY_TAKEN:
        problem = _("A refund was reported for a payment that was never captured.")
        _flag(payment, problem)
        return problem
    amount = min(event.amount, payment.amount - payment.amount_refunded)
    if amount > 0:
        refund = Refund.objects.create(
            payment=payment,
            amount=amount,
            reason=_("Refunded at %(provider)s") % {"provider": payment.provider},
            reference=refund_id,
        )
        _settle(refund, actor=None)
    return ""


def _refund_failed_at_provider(payment: Payment, *, event: CallbackEvent) -> str:
    """A refund the provider accepted has failed after all (Stripe's refund.failed): the
    money is owed to the shopper again, as a refund due, in front of the merchant."""
    refund = (
        Refund.objects.select_for_update(of=("self",))
        .filter(payment=payment, reference=event.reference, status=RefundStatus.SUCCEEDED)
        .first()
    )
    if refund is None:
        return ""  # unknown, or handled already
    payment.amount_refunded -= refund.amount
    payment.save(update_fields=["amount_refunded", "updated_at"])
    _set_state(
        payment,
        to=P.PARTIALLY_REFUNDED if payment.amount_refunded > 0 else P.CAPTURED,
        note=_("Refund failed at the provider"),
    )
    refund.status = RefundStatus.DUE
    refund.settled_at = None
    refund.reason = (_("Failed at the provider: %(reason)s") % {"reason": event.reason})[:500]
    refund.save(update_fields=["status", "settled_at", "reason"])
    if not payment.surplus:
        order_services.record_refund_reversed(order=payment.order, amount=refund.amount)
    problem = _("A refund of %(amount)s failed at the provider: send it again.") % {
        "amount": refund.amount
    }
    _flag(payment, problem)
    return problem


# --- Money in by hand, money back ---------------------------------------------------------


@transaction.atomic
def confirm_manual_payment(*, payment: Payment, actor, note: str = "") -> Payment:
    """The merchant saw the bank transfer (or the courier's cash): the payment is captured
    and counted on the order (or given back, if the order no longer wants it)."""
    locked = locks.payment_for_update(pk=payment.pk)
    if get_provider(locked.provider).online:
        raise PaymentError(_("Only manual payments are confirmed by hand."))
    if locked.state not in (P.PENDING, P.AUTHORISED):
        raise PaymentError(_("This payment is not waiting to be confirmed."))
    text = note or _("Payment received (confirmed by the merchant)")
    _set_state(locked, to=P.CAPTURED, note=text, actor=actor)
    problem = _pay_order(locked, note=text, actor=actor)
    if problem:
        raise PaymentError(problem)
    return locked


@transaction.atomic
def clear_flag(*, payment: Payment, actor) -> bool:
    """A person has dealt with what flagged the payment (checked the amount with the
    provider, sent the failed refund again...): the flag leaves the merchant's to-do, and
    its reason stays in the payment's history with who cleared it. False: not flagged."""
    locked = locks.payment_for_update(pk=payment.pk)
    if not locked.flagged:
        return False
    _change(
        locked,
        to=locked.state,
        note=_("Flag cleared: %(reason)s") % {"reason": locked.flag_reason},
        actor=actor,
    )
    locked.flagged = False
    locked.flag_reason = ""
    locked.save(update_fields=["flagged", "flag_reason", "updated_at"])
    return True


def check_transfer(*, order: Order, amount: Decimal) -> None:
    """Raise why a transfer of `amount` cannot be recorded for `order`: it must await payment
    and the amount must be exactly what it owes (a short or larger transfer is settled with
    the shopper first, never half-recorded)."""
    if not awaits_payment(order):
        raise NotPayable(_("This order does not await payment."))
    if amount != amount_due(order):
        raise PaymentError(
            _(
                "The order owes %(due)s, not %(amount)s: record a transfer of exactly what it "
                "owes, or settle the difference with the shopper first."
            )
            % {
                "due": format_money(amount_due(order), order.currency),
                "amount": format_money(amount, order.currency),
            }
        )


@transaction.atomic
def record_manual_payment(
    *,
    order: Order,
    actor,
    note: str = "",
    amount: Decimal | None = None,
    reference: str = "",
) -> Payment:
    """Mark an order paid by hand: its open manual payment is confirmed, or one is made.

    `amount`, when given, is what the merchant saw arrive (check_transfer() judges it).
    `reference` (the transfer's reference on the bank statement) is kept in the note."""
    order = order_locks.order_for_update(pk=order.pk)
    if amount is not None:
        check_transfer(order=order, amount=amount)
    reference = " ".join(reference.split())[:100]
    if reference and not note:
        note = _("Bank transfer received, reference %(reference)s") % {"reference": reference}
    payment = (
        Payment.objects.filter(order=order, provider="manual", state=P.PENDING)
        .order_by("-pk")
        .first()
    )
    if payment is None:
        if not awaits_payment(order) or amount_due(order) <= 0:
            raise NotPayable(_("This order does not await payment."))
        payment = Payment.objects.create(
            order=order,
            provider="manual",
            amount=amount_due(order),
            currency=order.currency,
            reference=f"manual-{secrets.token_hex(6)}",
        )
        _change(payment, to=P.PENDING, from_state=P.PENDING, actor=actor, note=_("Recorded"))
    return confirm_manual_payment(payment=payment, actor=actor, note=note)


def _due(payment: Payment) -> Decimal:
    return sum((r.amount for r in payment.refunds.filter(status=RefundStatus.DUE)), ZERO)


def _send_refund(
    payment: Payment, *, amount: Decimal, reason: str, actor, confirmed: bool, order_refund=None
) -> Refund:
    """Give `amount` of a locked, captured payment back. Online providers are asked at once
    (a network call with an idempotency key, so a retry never pays twice); money paid by
    hand goes back by hand: recorded as sent when the merchant `confirmed` they sent it,
    else left as a refund due. A provider that cannot be reached leaves it due as well."""
    refundable = payment.refundable - _due(payment)
    if amount <= ZERO or amount > refundable:
        raise RefundRejected(
            _("A refund must be more than zero and at most %(max)s %(currency)s.")
            % {"max": max(refundable, ZERO), "currency": payment.currency}
        )
    provider = get_provider(payment.provider)
    refund = Refund.objects.create(
        payment=payment,
        amount=amount,
        reason=str(reason)[:500],
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        status=RefundStatus.DUE,
        order_refund=order_refund,
    )
    if provider.online:
        try:
            refund.reference = provider.refund(
                payment=payment, amount=amount, idempotency_key=f"refund-{refund.pk}"
            )[:255]
        except ProviderUnavailable as error:
            _flag(payment, _("Refund not sent: %(error)s") % {"error": error.message})
            return refund
        refund.save(update_fields=["reference"])
    elif not confirmed:
        return refund
    _settle(refund, actor=actor)
    return refund


def _settle(refund: Refund, *, actor) -> None:
    """The refund's money has gone back: count it on the payment and the order."""
    payment = refund.payment
    refund.status = RefundStatus.SUCCEEDED
    refund.settled_at = timezone.now()
    refund.save(update_fields=["status", "settled_at"])
    payment.amount_refunded += refund.amount
    payment.save(update_fields=["amount_refunded", "updated_at"])
    full = payment.amount_refunded >= payment.amount
    text = refund.reason or _("Refund")
    _set_state(payment, to=P.REFUNDED if full else P.PARTIALLY_REFUNDED, note=text, actor=actor)
    if not payment.surplus:
        order_services.record_refund(
            order=payment.order,
            amount=refund.amount,
            actor=actor,
            note=_("Refund of %(amount)s: %(reason)s") % {"amount": refund.amount, "reason": text},
        )


@transaction.atomic
def record_refund_sent(*, refund: Refund, actor) -> Refund:
    """The merchant sent a refund due (by bank transfer): record it as given back."""
    locked = locks.refund_for_update(pk=refund.pk)
    if locked.status != RefundStatus.DUE:
        raise RefundRejected(_("This refund is not due."))
    provider = get_provider(locked.payment.provider)
    if provider.online and not locked.reference:
        # Never reached the provider: try it again rather than trust a hand transfer.
        locked.reference = provider.refund(
            payment=locked.payment, amount=locked.amount, idempotency_key=f"refund-{locked.pk}"
        )[:255]
        locked.save(update_fields=["reference"])
    _settle(locked, actor=actor)
    return locked


def refund_order(*, plan: order_services.RefundPlan, actor, confirmed: bool) -> list[Refund]:
    """Refund a plan of lines and shipping (orders.services.plan_refund) from the order's
    captured payments, newest first. The order's side (lines, stock, return) is written in
    the same transaction as the refunds; money paid by hand is recorded as sent only when
    the merchant `confirmed` they sent it, else it stays due."""
    with transaction.atomic():
        order_refund = order_services.refund_lines(plan=plan, actor=actor)
        return _pay_out(order_refund, actor=actor, confirmed=confirmed)


def _pay_out(order_refund, *, actor, confirmed: bool) -> list[Refund]:
    left = order_refund.amount
    refunds = []
    payments = [
        p
        for p in reversed(locks.payments_of_order_for_update(order_id=order_refund.order_id))
        if p.state in MONEY_TAKEN and not p.surplus
    ]
    for payment in payments:
        share = min(left, payment.refundable - _due(payment))
        if share <= 0:
            continue
        refunds.append(
            _send_refund(
                payment,
                amount=share,
                reason=order_refund.reason or _("Refund"),
                actor=actor,
                confirmed=confirmed,
                order_refund=order_refund,
            )
        )
        left -= share
        if left <= 0:
            break
    if left > 0:
        raise RefundRejected(
            _("The payments of this order hold %(short)s less than the refund.") % {"short": left}
        )
    return refunds


def cancel_order(
    *, order: Order, actor, by_shopper: bool, confirmed: bool = False, reason: str = ""
) -> Order:
    """Cancel an order before it ships, giving back what it holds: every line and the
    shipping are refunded (online: through the provider; by hand: recorded when the
    merchant `confirmed` they sent it, else due), open payments are closed, and the order is
    cancelled with its units back on the shelf. `reason` replaces the default note (who
    cancelled) on the refunds and events."""
    with transaction.atomic():
        locked = order_locks.order_for_update(pk=order.pk)
        signed_in = (
            by_shopper
            and getattr(actor, "is_authenticated", False)
            and (locked.user_id == actor.pk)
        )
        if by_shopper and not order_services.shopper_may_cancel(locked, signed_in=signed_in):
            raise NotPayable(_("This order can no longer be cancelled here: contact us."))
        # Refused before any money moves: a refund sent to a provider is not undone by
        # rolling this transaction back.
        order_services.check_cancellable(locked)
        note = reason or (
            _("Cancelled by the shopper") if by_shopper else _("Cancelled by the merchant")
        )
        close_open_payments(order=locked, note=note)
        if locked.total_paid - order_services.committed_refunds(locked) > 0:
            plan = order_services.plan_refund(
                order=locked,
                quantities={line.pk: line.quantity_refundable for line in locked.lines.all()},
                shipping=locked.shipping_refundable,
                reason=str(note),
            )
            order_refund = order_services.refund_lines(plan=plan, actor=actor)
            _pay_out(order_refund, actor=actor, confirmed=confirmed)
        locked.refresh_from_db()
        if locked.status == OrderStatus.OPEN:
            due = sum(
                (
                    r.amount
                    for r in Refund.objects.filter(
                        payment__order=locked, payment__surplus=False, status=RefundStatus.DUE
                    )
                ),
                ZERO,
            )
            order_services.cancel_locked_order(locked, actor=actor, note=note, refunds_due=due)
    order.refresh_from_db()
    return order


# --- Reconciliation -----------------------------------------------------------------------


@dataclass
class Discrepancy:
    #: "captured_unpaid": captured, the order does not count it; "money_mismatch": the
    #: order's paid-minus-refunded differs from its payments'; "cancelled_holding": a
    #: cancelled order holds money nobody owes back; "surplus_unrefunded": surplus money
    #: neither refunded nor due.
    kind: str
    order: Order
    payment: Payment | None
    repairable: bool
    note: str


def find_discrepancies() -> list[Discrepancy]:
    """Every order whose money disagrees with its payments, and captured money nobody has
    accounted for. Each says whether --apply can repair it."""
    found: list[Discrepancy] = []
    captured = (
        Payment.objects.filter(state=P.CAPTURED, surplus=False, order__total_paid=0)
        .select_related("order")
        .order_by("pk")
    )
    for payment in captured:
        found.append(
            Discrepancy(
                kind="captured_unpaid",
                order=payment.order,
                payment=payment,
                repairable=not payment.flagged,
                note=payment.flag_reason if payment.flagged else _("count it on the order"),
            )
        )
    flagged_ids = {d.payment.pk for d in found}
    held = (
        Payment.objects.filter(state__in=MONEY_TAKEN, surplus=False)
        .exclude(pk__in=flagged_ids)
        .values("order_id")
        .annotate(taken=Sum("amount"), back=Sum("amount_refunded"))
    )
    by_order = {row["order_id"]: row["taken"] - row["back"] for row in held}
    due = dict(
        Refund.objects.filter(status=RefundStatus.DUE, payment__surplus=False)
        .values("payment__order_id")
        .annotate(total=Sum("amount"))
        .values_list("payment__order_id", "total")
    )
    orders = Order.objects.filter(
        pk__in=set(by_order)
        | set(Order.objects.filter(total_paid__gt=0).values_list("pk", flat=True))
    ).order_by("pk")
    for order in orders:
        payments_hold = by_order.get(order.pk, ZERO)
        if payments_hold != order.held:
            found.append(
                Discrepancy(
                    kind="money_mismatch",
                    order=order,
                    payment=None,
                    repairable=False,
                    note=_("its payments hold %(payments)s, the order says %(order)s")
                    % {"payments": payments_hold, "order": order.held},
                )
            )
        elif order.status == OrderStatus.CANCELLED and order.held != due.get(order.pk, ZERO):
            found.append(
                Discrepancy(
                    kind="cancelled_holding",
                    order=order,
                    payment=None,
                    repairable=False,
                    note=_("cancelled, yet holds %(held)s not owed back") % {"held": order.held},
                )
            )
    surplus = Payment.objects.filter(surplus=True, state__in=MONEY_TAKEN).select_related("order")
    for payment in surplus.order_by("pk"):
        if payment.amount - payment.amount_refunded - _due(payment) > 0:
            found.append(
                Discrepancy(
                    kind="surplus_unrefunded",
                    order=payment.order,
                    payment=payment,
                    repairable=False,
                    note=_("surplus payment neither refunded nor due"),
                )
            )
    return found


@transaction.atomic
def repair(discrepancy: Discrepancy) -> None:
    """Repair one repairable discrepancy, writing the usual event rows."""
    note = _("Repaired by reconcile_payments")
    if discrepancy.kind == "captured_unpaid" and discrepancy.repairable:
        payment = locks.payment_for_update(pk=discrepancy.payment.pk)
        if payment.state == P.CAPTURED and payment.order.total_paid == 0:
            problem = _pay_order(payment, note=note)
            if problem:
                raise PaymentError(problem)
        return
    raise PaymentError(_("This discrepancy needs the merchant."))


@dataclass
class Reconciliation:
    """What one run of reconcile_payments found and did."""

    #: Open payments the providers were asked about (check_open_payments).
    checks: list["OpenPaymentCheck"]
    #: Each discrepancy with what became of it: "repaired", "needs the merchant",
    #: "NOT REPAIRED: <why>", or "" (listed only, without `apply`).
    found: list[tuple[Discrepancy, str]]

    @property
    def repaired(self) -> int:
        return sum(1 for _item, outcome in self.found if outcome == "repaired")


def reconcile_payments(*, apply: bool = False) -> Reconciliation:
    """Ask the providers about open payments, then list every discrepancy; with `apply`,
    act on the answers and repair what can be repaired (each with its events). The
    `reconcile_payments` command and the scheduled task (payments.tasks) run this."""
    checks = check_open_payments(apply=apply)
    found = []
    for item in find_discrepancies():
        if not item.repairable:
            outcome = "needs the merchant"
        elif not apply:
            outcome = ""
        else:
            try:
                repair(item)
            except PaymentError as error:
                outcome = f"NOT REPAIRED: {error.message}"
            else:
                outcome = "repaired"
        found.append((item, outcome))
    return Reconciliation(checks=checks, found=found)


@dataclass
class OpenPaymentCheck:
    payment: Payment
    #: What the provider says: "captured", "cancelled", "refunded", "open" (not paid, and
    #: the order still awaits it), "closed" (closed by us now), "to_close", "unreachable".
    outcome: str
    note: str = ""


def check_open_payments(*, now: datetime | None = None, apply: bool = False):
    """Payments still open at a provider that can be asked (Alipay) past their order's
    deadline, or of an order that no longer awaits them: each is asked about (its callback
    may have been lost). With `apply`, the answer is acted on as the callback would have
    been (a capture counts on the order, or is given back if the order was cancelled
    meanwhile; a closed trade cancels the payment), and a trade still open for an order
    that no longer awaits payment is closed at the provider (provider.close)."""
    now = now or timezone.now()
    checks = []
    for payment in selectors.open_payments_to_check(now=now):
        provider = get_provider(payment.provider)
        try:
            event = provider.query(payment=payment)
        except ProviderUnavailable as error:
            checks.append(OpenPaymentCheck(payment, "unreachable", error.message))
            continue
        if event is not None and event.kind != "ignored":
            if apply:
                take_in_answer(payment=payment, event=event)
            checks.append(OpenPaymentCheck(payment, event.kind, event.event_type))
        elif awaits_payment(payment.order):
            checks.append(OpenPaymentCheck(payment, "open", _("the order expires soon")))
        elif apply:
            checks.append(_close_payment(payment, note=_("Closed: the order no longer awaits it")))
        else:
            checks.append(OpenPaymentCheck(payment, "to_close", _("the order no longer awaits it")))
    return checks


@transaction.atomic
def _close_payment(payment: Payment, *, note: str) -> OpenPaymentCheck:
    locked = locks.payment_for_update(pk=payment.pk)
    if locked.state not in (P.PENDING, P.AUTHORISED):
        return OpenPaymentCheck(locked, locked.state, _("changed meanwhile"))
    try:
        get_provider(locked.provider).close(payment=locked)
    except ProviderUnavailable as error:
        return OpenPaymentCheck(locked, "unreachable", error.message)
    locked.failure_reason = str(note)[:500]
    _set_state(locked, to=P.CANCELLED, note=note)
    return OpenPaymentCheck(locked, "closed", note)
