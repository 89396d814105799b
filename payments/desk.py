"""The payments app's part of the order's admin page (orders/desk.py has the rest): money in
and out on the timeline in plain words, and the tools that move money (refund, cancel,
record a bank transfer) when the order's state allows them.

No provider's raw words reach the page: a provider is named by how the shopper paid ("by
card", "by bank transfer"), and the notes of online payments (which carry the provider's
event names) are left out.
"""

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from orders import desk
from orders import services as order_services
from orders.models import Order
from payments import services
from payments.models import Payment, PaymentState, PaymentStateChange, Refund, RefundStatus
from payments.providers import enabled_codes
from shop.money import format_money

P = PaymentState

#: How the shopper paid, by provider code, as a sentence says it.
MEANS = {
    "manual": _("by bank transfer"),
    "sandbox": _("by card (test gateway)"),
    "stripe": _("by card"),
}


def means_of(provider: str) -> str:
    return str(MEANS.get(provider, _("online")))


def method_label(provider: str) -> str:
    """The payment method's name as checkout showed it ("Bank transfer"), never its code."""
    return str(settings.PAYMENT_PROVIDER_LABELS.get(provider, _("Other payment method")))


def _change_entry(change: PaymentStateChange) -> desk.Entry | None:
    payment = change.payment
    amount = format_money(payment.amount, payment.currency)
    means = means_of(payment.provider)
    actor = desk.actor_name(change.actor)
    by_hand = payment.provider == "manual"
    if change.to_state == P.CAPTURED and change.from_state != P.CAPTURED:
        if payment.surplus:
            text = _(
                "Payment of %(amount)s received %(means)s after the order no longer needed it:"
                " it is given back"
            )
        else:
            text = _("Payment of %(amount)s received %(means)s")
        detail = change.note if by_hand else ""
        return desk.Entry(
            change.created_at, text % {"amount": amount, "means": means}, actor, detail, "money"
        )
    if change.to_state == P.PENDING and change.from_state == P.PENDING:
        if by_hand:
            text = _("Waiting for a bank transfer of %(amount)s")
        else:
            text = _("Payment of %(amount)s started %(means)s")
        return desk.Entry(change.created_at, text % {"amount": amount, "means": means}, actor)
    words = {
        P.AUTHORISED: _("Payment of %(amount)s authorised %(means)s"),
        P.FAILED: _("Payment of %(amount)s %(means)s declined"),
        P.CANCELLED: _("Payment of %(amount)s %(means)s closed unpaid"),
    }
    if change.to_state in words:
        text = words[change.to_state] % {"amount": amount, "means": means}
        return desk.Entry(change.created_at, text, actor, topic="money")
    return None  # refunds are told by their Refund rows


def _reason(refund: Refund) -> str:
    """The refund's reason, unless it is only the word "Refund" put there for want of one."""
    return "" if refund.reason in ("Refund", str(_("Refund"))) else refund.reason


def _refund_entry(refund: Refund) -> desk.Entry:
    payment = refund.payment
    values = {"amount": format_money(refund.amount, payment.currency)}
    actor = desk.actor_name(refund.actor)
    if refund.status == RefundStatus.DUE:
        text = _("Refund of %(amount)s due: send it back by bank transfer, then record it")
        return desk.Entry(refund.created_at, text % values, actor, _reason(refund), "money")
    if payment.provider == "manual":
        text = _("Refund of %(amount)s sent back by bank transfer")
    else:
        text = _("Refund of %(amount)s sent back to the card")
    when = refund.settled_at or refund.created_at
    return desk.Entry(when, text % values, actor, _reason(refund), "money")


def money_entries(order: Order) -> list[desk.Entry]:
    """The order's payments and refunds as timeline entries: two queries."""
    changes = PaymentStateChange.objects.filter(payment__order=order).select_related(
        "payment", "actor"
    )
    refunds = Refund.objects.filter(payment__order=order).select_related("payment", "actor")
    entries = [entry for entry in map(_change_entry, changes) if entry is not None]
    return entries + [_refund_entry(refund) for refund in refunds]


def payments_of(order: Order) -> list[Payment]:
    return list(Payment.objects.filter(order=order).order_by("created_at", "pk"))


def takes_transfers(order: Order) -> bool:
    """An open, unpaid order to be paid by bank transfer: the merchant records the money."""
    return (
        order.payment_method == "manual"
        and "manual" in enabled_codes()
        and services.awaits_payment(order)
        and order.amount_due > 0
    )


def money_tools(order: Order) -> list[desk.Tool]:
    """Record a bank transfer, refund items, cancel: each as its state allows. One query
    (refunds decided but not yet counted on the order)."""
    tools = []
    if takes_transfers(order):
        url = reverse("admin:orders_order_record_transfer", args=[order.pk])
        tools.append(desk.Tool(str(_("Record bank transfer")), url, "primary"))
    if order.total_paid - order_services.committed_refunds(order) > 0:
        url = reverse("admin:orders_order_refund", args=[order.pk])
        tools.append(desk.Tool(str(_("Refund items")), url, "danger"))
    if desk.may_cancel(order):
        url = reverse("admin:orders_order_cancel", args=[order.pk])
        tools.append(desk.Tool(str(_("Cancel order")), url, "danger"))
    return tools
