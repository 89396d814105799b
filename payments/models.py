"""Payments: what was asked of a provider for an order, every callback it sent us, and what
was given back.

A Payment is one attempt to collect money for an order through one provider; a declined
attempt stays failed and the shopper retries with a new one. Every change of a payment's
state is a PaymentStateChange row. Every callback delivery is a PaymentEvent row, kept as
received (raw body, signature valid or not), whether or not it changed anything.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 12, "decimal_places": 2}
ZERO = Decimal("0.00")


class PaymentState(models.TextChoices):
    PENDING = "pending", _("Pending")
    AUTHORISED = "authorised", _("Authorised")
    CAPTURED = "captured", _("Captured")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")


#: States in which money has been taken (and may be given back).
MONEY_TAKEN = {PaymentState.CAPTURED, PaymentState.PARTIALLY_REFUNDED, PaymentState.REFUNDED}


class PaymentQuerySet(models.QuerySet):
    def captured(self):
        return self.filter(state__in=MONEY_TAKEN)


class Payment(models.Model):
    State = PaymentState

    order = models.ForeignKey(
        "orders.Order", verbose_name=_("order"), related_name="payments", on_delete=models.PROTECT
    )
    #: A code of settings.PAYMENT_PROVIDERS (a module in payments/providers/).
    provider = models.CharField(_("provider"), max_length=32)
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3)
    state = models.CharField(
        _("state"), max_length=24, choices=PaymentState.choices, default=PaymentState.PENDING
    )
    #: The provider's id for this payment (sandbox token, Stripe Checkout Session id).
    reference = models.CharField(_("provider reference"), max_length=255, blank=True)
    #: Where the shopper was sent to pay (a reload of the checkout's redirect reuses it).
    redirect_url = models.CharField(_("payment page"), max_length=2000, blank=True)
    amount_refunded = models.DecimalField(_("refunded"), **MONEY, default=ZERO)
    #: Set when a callback disagreed with what we asked for (amount, currency, order state):
    #: the merchant must look; such a payment never marks the order paid.
    flagged = models.BooleanField(_("needs attention"), default=False)
    flag_reason = models.CharField(_("why"), max_length=500, blank=True)
    failure_reason = models.CharField(_("failure reason"), max_length=500, blank=True)
    #: Money that arrived for an order that no longer wanted it (paid already by another
    #: payment, or cancelled): refunded outside the order's life, never counted on it.
    surplus = models.BooleanField(_("surplus"), default=False)
    #: When the provider's payment page stops taking the payment (Stripe's session expiry).
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    #: What the shopper scans with the provider's app to pay (WeChat Pay's Native code_url).
    qr_code = models.CharField(_("QR code"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    captured_at = models.DateTimeField(_("captured at"), null=True, blank=True)

    objects = PaymentQuerySet.as_manager()

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["provider", "reference"], name="payment_provider_ref"),
            models.Index(fields=["state", "created_at"], name="payment_state_created"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0) & Q(amount_refunded__lte=F("amount")),
                name="payment_refund_within_amount",
            ),
            models.UniqueConstraint(
                fields=["provider", "reference"],
                condition=~Q(reference=""),
                name="payment_unique_reference",
            ),
        ]

    def __str__(self):
        return f"{self.provider} {self.amount} {self.currency} ({self.get_state_display()})"

    @property
    def refundable(self) -> Decimal:
        if self.state not in MONEY_TAKEN:
            return ZERO
        return self.amount - self.amount_refunded


class PaymentStateChange(models.Model):
    """One change of a payment's state: who (or which callback), when, from, to, why."""

    payment = models.ForeignKey(Payment, related_name="changes", on_delete=models.CASCADE)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        related_name="+",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    from_state = models.CharField(_("from"), max_length=24, choices=PaymentState.choices)
    to_state = models.CharField(_("to"), max_length=24, choices=PaymentState.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("payment state change")
        verbose_name_plural = _("payment state changes")
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"{self.payment_id}: {self.from_state} → {self.to_state}"


class PaymentEvent(models.Model):
    """One callback delivery, stored as received before anything is decided on it.

    The same event (provider, event_id) may be delivered many times; it is processed at most
    once: the partial unique constraint allows one processed row per event id.
    """

    provider = models.CharField(_("provider"), max_length=32)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    #: The raw body, decoded as UTF-8 with replacement (bodies are capped in size).
    payload = models.TextField(_("payload"), blank=True)
    signature = models.CharField(_("signature header"), max_length=500, blank=True)
    signature_valid = models.BooleanField(_("signature valid"), default=False)
    event_id = models.CharField(_("event id"), max_length=255, blank=True)
    event_type = models.CharField(_("event type"), max_length=100, blank=True)
    payment = models.ForeignKey(
        Payment,
        verbose_name=_("payment"),
        related_name="events",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    processed = models.BooleanField(_("processed"), default=False)
    #: A later delivery of an event already processed: stored, changed nothing.
    duplicate = models.BooleanField(_("duplicate"), default=False)
    flagged = models.BooleanField(_("needs attention"), default=False)
    error = models.CharField(_("error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("payment callback")
        verbose_name_plural = _("payment callbacks")
        ordering = ["-received_at", "-pk"]
        indexes = [models.Index(fields=["provider", "event_id"], name="payment_event_id")]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"],
                condition=Q(processed=True),
                name="payment_event_processed_once",
            )
        ]

    def __str__(self):
        return f"{self.provider} {self.event_type or '?'} {self.event_id or '-'}"


class RefundStatus(models.TextChoices):
    #: To be sent back by hand (a bank transfer), or failed at the provider and owed again.
    DUE = "due", _("Refund due")
    SUCCEEDED = "succeeded", _("Refunded")


class Refund(models.Model):
    """Money given back (or owed back) from one payment. Only succeeded refunds count in the
    payment's amount_refunded and the order's total_refunded."""

    Status = RefundStatus

    payment = models.ForeignKey(
        Payment, verbose_name=_("payment"), related_name="refunds", on_delete=models.PROTECT
    )
    amount = models.DecimalField(_("amount"), **MONEY)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        related_name="+",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    #: The provider's id of the refund (empty for manual payments: money sent by hand).
    reference = models.CharField(_("provider reference"), max_length=255, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=RefundStatus.choices, default=RefundStatus.SUCCEEDED
    )
    #: The refund by lines on the order it pays out (empty for a surplus payment's refund).
    order_refund = models.ForeignKey(
        "orders.OrderRefund",
        verbose_name=_("order refund"),
        related_name="payment_refunds",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(_("when"), auto_now_add=True)
    settled_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(
                fields=["created_at"], name="refund_due", condition=Q(status=RefundStatus.DUE)
            )
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive")
        ]

    def __str__(self):
        return f"{self.amount} ({self.payment_id})"
