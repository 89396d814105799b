from django import forms
from django.utils.translation import gettext_lazy as _

from payments.models import Payment
from payments.providers import enabled_providers


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


class RefundForm(forms.Form):
    amount = forms.DecimalField(label=_("Amount"), max_digits=12, decimal_places=2, min_value=0.01)
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)

    def __init__(self, *args, payment: Payment, **kwargs):
        super().__init__(*args, **kwargs)
        self.payment = payment
        self.fields["amount"].initial = payment.refundable
        self.fields["amount"].help_text = _("At most %(max)s %(currency)s.") % {
            "max": payment.refundable,
            "currency": payment.currency,
        }

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount > self.payment.refundable:
            raise forms.ValidationError(
                _("At most %(max)s can be refunded.") % {"max": self.payment.refundable}
            )
        return amount
