from django import forms
from django.utils.translation import gettext_lazy as _

from catalog.models import Variant


class ChooseVariantForm(forms.Form):
    """The option a shopper starts or joins a group with (the service checks the offer
    covers it)."""

    variant = forms.ModelChoiceField(
        queryset=Variant.objects.filter(is_active=True).select_related("product"),
        error_messages={
            "required": _("Choose an option first."),
            "invalid_choice": _("That option is not available."),
        },
    )
