from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from payments.providers import enabled_providers
from promotions.pricing import format_money


class ChooseMethodForm(forms.Form):
    method = forms.ChoiceField(label=_("Payment method"), widget=forms.RadioSelect)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["method"].choices = [(p.code, p.label) for p in enabled_providers()]


class SandboxForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("pay", "pay"), ("decline", "decline"), ("abandon", "abandon")]
    )
    twice = forms.BooleanField(required=False, label=_("Deliver the callback twice"))
    late = forms.BooleanField(required=False, label=_("Deliver the callback late"))


class RefundLinesForm(forms.Form):
    """The merchant picks what to give back: units per line, whether shipped units go back
    on the shelf, the shipping. Amounts are never typed: they come from the order.

    A line offers its restock checkbox only when some of its refundable units have shipped:
    units not shipped yet always go back on the shelf. A return's refund (`ask_reason=False`)
    has no reason field: the refund is named after the return."""

    shipping = forms.BooleanField(label=_("Refund the shipping"), required=False)
    reason = forms.CharField(
        label=_("Reason (the shopper reads it)"), max_length=500, required=False
    )
    #: Set on the confirmation page, after the amount was shown.
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)
    #: For money paid by hand: the merchant has sent it back.
    sent_by_hand = forms.BooleanField(
        label=_("I have sent this money back by hand (bank transfer): record it as refunded"),
        required=False,
        help_text=_("Leave it unticked to keep the refund due until you have sent it."),
    )

    def __init__(self, *args, order, lines, ask_reason=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.order, self.lines = order, lines
        if order.shipping_refundable <= 0:
            del self.fields["shipping"]
        else:
            self.fields["shipping"].help_text = _(
                "%(amount)s paid for shipping and not refunded yet."
            ) % {"amount": format_money(order.shipping_refundable)}
        if not ask_reason:
            del self.fields["reason"]
        for line in lines:
            label = f"{line.product_name} ({line.sku})"
            self.fields[f"line_{line.pk}"] = forms.TypedChoiceField(
                label=label,
                choices=[(n, n) for n in range(line.quantity_refundable + 1)],
                coerce=int,
                initial=0,
            )
            if line.quantity_refundable > line.quantity_to_ship:
                self.fields[f"restock_{line.pk}"] = forms.BooleanField(
                    label=_("Put shipped units of %(name)s back on the shelf") % {"name": label},
                    required=False,
                )

    @property
    def rows(self) -> list[tuple]:
        """(order line, its quantity field, its restock checkbox or None) for the table."""
        return [
            (
                line,
                self[f"line_{line.pk}"],
                self[f"restock_{line.pk}"] if f"restock_{line.pk}" in self.fields else None,
            )
            for line in self.lines
        ]

    def quantities(self) -> dict[int, int]:
        return {line.pk: self.cleaned_data[f"line_{line.pk}"] for line in self.lines}

    def restock(self) -> set[int]:
        return {line.pk for line in self.lines if self.cleaned_data.get(f"restock_{line.pk}")}


class CancelOrderForm(forms.Form):
    sent_by_hand = forms.BooleanField(
        label=_("I have sent this money back by hand (bank transfer): record it as refunded"),
        required=False,
        help_text=_("Leave it unticked to keep the refund due until you have sent it."),
    )


class RecordTransferForm(forms.Form):
    """A bank transfer the merchant saw arrive: its amount (checked against what the order
    owes) and its reference; a second step confirms before it is recorded."""

    amount = forms.DecimalField(
        label=_("Amount received"),
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        error_messages={
            "required": _("Enter the amount that arrived."),
            "invalid": _("Enter the amount as a number, e.g. 42.50."),
            "min_value": _("The amount must be more than zero."),
            "max_decimal_places": _("The amount has at most 2 decimals."),
        },
    )
    reference = forms.CharField(
        label=_("Reference on the bank statement"),
        max_length=100,
        required=False,
        help_text=_("Optional: it is kept on the order's timeline."),
    )
    #: Set on the confirmation step, after the amount was shown.
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, order, **kwargs):
        super().__init__(*args, **kwargs)
        self.order = order
        self.fields["amount"].help_text = _("The order owes %(amount)s.") % {
            "amount": format_money(order.amount_due, order.currency)
        }
