"""Every write of the payments app: starting a payment, taking in a callback, refunding,
recording a manual payment, reconciling payments with orders.

Callbacks are idempotent: every delivery is stored first (PaymentEvent), then processed
under a lock on the payment row, where "was this event id processed already?" and "process
it" happen as one step; a partial unique constraint (one processed row per provider and event
id) backs this up. Orders change only through orders.services (mark_paid, record_refund).
"""

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orders import locks as order_locks
from orders import services as order_services
from orders.errors import OrderError
from orders.models import Order, OrderState
from payments import locks
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
)
from payments.providers import get_provider
from payments.providers.base import CallbackEvent, Provider, StartResult

logger = logging.getLogger(__name__)
P = PaymentState

#: The largest callback body stored and read. Real gateways send a few KB; 64 KB leaves room
#: for Stripe's biggest events while keeping a flood of junk from filling the table.
MAX_CALLBACK_BYTES = 64 * 1024


# --- Starting ---------------------------------------------------------------------------


def amount_due(order: Order) -> Decimal:
    return order.total - order.total_paid


def start_payment(
    *, order: Order, provider_code: str, return_url: str, cancel_url: str
) -> tuple[Payment, StartResult]:
    """Open a payment for what the order still owes with `provider_code` and say where the
    shopper goes next. An open payment of the same provider is reused (a reload of the
    redirect does not open a second one). A failed one is never reused: a retry is a new
    payment. The provider is called outside any transaction (it may be a network call)."""
    provider = get_provider(provider_code)
    with transaction.atomic():
        locked = order_locks.order_for_update(pk=order.pk)
        if locked.state != OrderState.PENDING_PAYMENT or amount_due(locked) <= 0:
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
        result = provider.start(payment=payment, return_url=return_url, cancel_url=cancel_url)
    except ProviderUnavailable as error:
        with transaction.atomic():
            locked_payment = locks.payment_for_update(pk=payment.pk)
            locked_payment.failure_reason = error.message[:500]
            _set_state(locked_payment, to=P.FAILED, note=error.message)
        raise
    if result.reference or result.redirect_url:
        payment.reference = result.reference or payment.reference
        payment.redirect_url = result.redirect_url
        payment.save(update_fields=["reference", "redirect_url", "updated_at"])
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
    *, provider_code: str, body: bytes, headers: Mapping[str, str]
) -> CallbackResult:
    """Take in one delivery from a provider: verify, store, process once.

    The signature is checked over the raw bytes before anything in them is read. A forged or
    missing signature is stored (signature_valid=False) and raises InvalidSignature; a
    signed body we cannot read is stored, flagged, and raises InvalidPayload. Every event of
    a valid delivery is stored, then processed unless its id was processed before.
    """
    provider = get_provider(provider_code)
    body = bytes(body[:MAX_CALLBACK_BYTES])
    signature = (headers.get(provider.signature_header, "") if provider.signature_header else "")[
        :500
    ]
    stored = {
        "provider": provider.code,
        "payload": body.decode("utf-8", errors="replace"),
        "signature": signature,
    }
    try:
        events = provider.parse_callback(body=body, headers=headers)
    except InvalidSignature as error:
        PaymentEvent.objects.create(**stored, signature_valid=False, error=error.message[:500])
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


def _payment_for(event: CallbackEvent, provider: Provider) -> Payment | None:
    payment = locks.payment_by_reference_for_update(
        provider=provider.code, reference=event.reference
    )
    if payment is None and event.payment_id.isdigit():
        payment = locks.payment_of_provider_for_update(
            provider=provider.code, pk=int(event.payment_id)
        )
    return payment


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
    if event.kind == "refunded":
        return _refunded_at_provider(payment, event=event, note=note)
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
    order = payment.order
    if order.state != OrderState.PENDING_PAYMENT:
        problem = _(
            "Money captured for order %(number)s, which is “%(state)s”: refund it or "
            "fulfil the order by hand."
        ) % {"number": order.number, "state": order.get_state_display()}
        _flag(payment, problem)
        return problem
    try:
        order_services.mark_paid(order=order, amount=payment.amount, actor=actor, note=note)
    except OrderError as error:
        _flag(payment, error.message)
        return error.message
    return ""


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
    missing = min(event.amount, payment.amount) - payment.amount_refunded
    if missing > 0:
        _record_refund(
            payment,
            amount=missing,
            reason=_("Refunded at %(provider)s") % {"provider": payment.provider},
            actor=None,
            reference=event.event_id,
        )
    return ""


# --- Money in by hand, money back ---------------------------------------------------------


@transaction.atomic
def confirm_manual_payment(*, payment: Payment, actor, note: str = "") -> Payment:
    """The merchant saw the bank transfer (or the courier's cash): the payment is captured
    and the order paid, each with its event row."""
    locked = locks.payment_for_update(pk=payment.pk)
    if get_provider(locked.provider).online:
        raise PaymentError(_("Only manual payments are confirmed by hand."))
    if locked.state not in (P.PENDING, P.AUTHORISED):
        raise PaymentError(_("This payment is not waiting to be confirmed."))
    if locked.order.state != OrderState.PENDING_PAYMENT:
        raise NotPayable(_("This order does not await payment."))
    text = note or _("Payment received (confirmed by the merchant)")
    _set_state(locked, to=P.CAPTURED, note=text, actor=actor)
    order_services.mark_paid(order=locked.order, amount=locked.amount, actor=actor, note=text)
    return locked


@transaction.atomic
def record_manual_payment(*, order: Order, actor, note: str = "") -> Payment:
    """Mark an order paid by hand: its open manual payment is confirmed, or one is made."""
    payment = (
        Payment.objects.filter(order=order, provider="manual", state=P.PENDING)
        .order_by("-pk")
        .first()
    )
    if payment is None:
        if order.state != OrderState.PENDING_PAYMENT or amount_due(order) <= 0:
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


def refund_payment(*, payment: Payment, amount: Decimal, reason: str, actor) -> Refund:
    """Give back `amount` of a captured payment: never more than captured minus refunded.

    Checked under the payment's row lock, so two refunds at once cannot both pass. The
    provider is asked (Stripe: a network call with an idempotency key) only once the order's
    side is known to accept the refund; then the Refund row, the payment's new state and the
    order's refund event are written in the same transaction.
    """
    amount = Decimal(amount)
    with transaction.atomic():
        locked = locks.payment_for_update(pk=payment.pk)
        order = locked.order
        if amount <= ZERO or amount > locked.refundable:
            raise RefundRejected(
                _("A refund must be more than zero and at most %(max)s %(currency)s.")
                % {"max": locked.refundable, "currency": locked.currency}
            )
        if amount > order.refundable:
            raise RefundRejected(
                _("The order has only %(max)s left to refund.") % {"max": order.refundable}
            )
        to = (
            OrderState.REFUNDED
            if order.total_refunded + amount >= order.total_paid
            else OrderState.PARTIALLY_REFUNDED
        )
        if to not in order_services.ORDER_TRANSITIONS.get(order.state, set()):
            raise RefundRejected(
                _("Order %(number)s cannot be refunded while “%(state)s”.")
                % {"number": order.number, "state": order.get_state_display()}
            )
        provider = get_provider(locked.provider)
        count = locked.refunds.count()
        reference = provider.refund(
            payment=locked, amount=amount, idempotency_key=f"refund-{locked.pk}-{count + 1}"
        )
        return _record_refund(
            locked, amount=amount, reason=reason, actor=actor, reference=reference
        )


def _record_refund(payment: Payment, *, amount: Decimal, reason: str, actor, reference: str):
    refund = Refund.objects.create(
        payment=payment,
        amount=amount,
        reason=reason[:500],
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        reference=reference[:255],
    )
    payment.amount_refunded += amount
    payment.save(update_fields=["amount_refunded", "updated_at"])
    full = payment.amount_refunded >= payment.amount
    text = reason or _("Refund")
    _set_state(payment, to=P.REFUNDED if full else P.PARTIALLY_REFUNDED, note=text, actor=actor)
    order_services.record_refund(
        order=payment.order,
        amount=amount,
        actor=actor,
        note=_("Refund of %(amount)s: %(reason)s") % {"amount": amount, "reason": text},
    )
    return refund


# --- Reconciliation -----------------------------------------------------------------------

#: Order states reached only after payment.
PAID_STATES = {s for s in OrderState.values if s not in (OrderState.PENDING_PAYMENT,)}


@dataclass
class Discrepancy:
    kind: str  # "captured_unpaid" or "paid_uncaptured"
    order: Order
    payment: Payment | None
    repairable: bool
    note: str


def find_discrepancies() -> list[Discrepancy]:
    """Captured payments whose order is not paid, and paid orders without a captured
    payment. Each says whether --apply can repair it."""
    found: list[Discrepancy] = []
    captured = (
        Payment.objects.filter(state=P.CAPTURED, order__state=OrderState.PENDING_PAYMENT)
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
                note=payment.flag_reason if payment.flagged else _("mark the order paid"),
            )
        )
    cancelled = (
        Payment.objects.filter(state=P.CAPTURED, order__state=OrderState.CANCELLED)
        .select_related("order")
        .order_by("pk")
    )
    for payment in cancelled:
        if payment.order.total_paid == 0:
            found.append(
                Discrepancy(
                    kind="captured_unpaid",
                    order=payment.order,
                    payment=payment,
                    repairable=False,
                    note=_("order cancelled: refund the payment"),
                )
            )
    uncaptured = (
        Order.objects.filter(total_paid__gt=0)
        .exclude(payments__state__in=MONEY_TAKEN)
        .order_by("pk")
    )
    for order in uncaptured:
        manual = order.payment_method == "manual"
        found.append(
            Discrepancy(
                kind="paid_uncaptured",
                order=order,
                payment=None,
                repairable=manual,
                note=_("record the manual payment")
                if manual
                else _("no captured payment: check the provider's dashboard"),
            )
        )
    return found


@transaction.atomic
def repair(discrepancy: Discrepancy) -> None:
    """Repair one repairable discrepancy, writing the usual event rows."""
    note = _("Repaired by reconcile_payments")
    if discrepancy.kind == "captured_unpaid" and discrepancy.repairable:
        payment = locks.payment_for_update(pk=discrepancy.payment.pk)
        if payment.state == P.CAPTURED and payment.order.state == OrderState.PENDING_PAYMENT:
            problem = _pay_order(payment, note=note)
            if problem:
                raise PaymentError(problem)
    elif discrepancy.kind == "paid_uncaptured" and discrepancy.repairable:
        order = order_locks.order_for_update(pk=discrepancy.order.pk)
        payment = Payment.objects.create(
            order=order,
            provider="manual",
            amount=order.total_paid,
            currency=order.currency,
            reference=f"manual-{secrets.token_hex(6)}",
            captured_at=order.paid_at or timezone.now(),
        )
        _change(payment, to=P.PENDING, from_state=P.PENDING, note=note)
        _set_state(payment, to=P.CAPTURED, note=note)
    else:
        raise PaymentError(_("This discrepancy needs the merchant."))
