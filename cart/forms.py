from collections.abc import Callable

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from cart.selectors import variant_to_add
from cart.services import MAX_LINE_QUANTITY, InvalidQuantities, LineChange

QUANTITY_ERRORS = {
    "required": _("Enter a quantity."),
    "invalid": _("Enter a whole number."),
    "min_value": _("Choose at least 1, or remove the item."),
    "max_value": _("At most %(limit_value)s at a time."),
}


class VariantField(forms.Field):
    """A variant to add, by its id, read with cart.selectors.variant_to_add (a statement built
    once): a ModelChoiceField's answers and errors, without the queryset a ModelChoiceField
    holds, which every form's copy of its fields copied again (a twentieth of an add's CPU)
    and nothing read."""

    default_error_messages = {
        "invalid_choice": _(
            "Select a valid choice. That choice is not one of the available choices."
        ),
    }

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            variant = variant_to_add(pk=int(value))
        except (TypeError, ValueError):
            variant = None
        if variant is None:
            raise ValidationError(
                self.error_messages["invalid_choice"],
                code="invalid_choice",
                params={"value": value},
            )
        return variant


class AddToCartForm(forms.Form):
    """Only ever bound and validated, never rendered nor changed: each form reads the class's
    fields, where Django deep-copies every field with its widget and validators for each
    form (a twentieth of an add), and has no label suffix (Django translates one for each)."""

    def __init__(self, data):
        self.base_fields = {}
        super().__init__(data, label_suffix="")
        self.fields = dict(type(self).base_fields)

    variant = VariantField(
        error_messages={
            "required": _("Choose an option first."),
            "invalid_choice": _("That option is not available."),
        },
    )
    quantity = forms.IntegerField(
        min_value=1, max_value=MAX_LINE_QUANTITY, initial=1, error_messages=QUANTITY_ERRORS
    )


class FlashBuyForm(forms.Form):
    """Buy now in a flash sale: how many (the sale's limit per customer is checked by
    promotions.flash.hold, with the sentence it says)."""

    quantity = forms.IntegerField(
        min_value=1, max_value=MAX_LINE_QUANTITY, initial=1, error_messages=QUANTITY_ERRORS
    )


class CartUpdateForm(forms.Form):
    """Quantities and "buy now" ticks of every line, posted together from the cart page."""

    def __init__(self, data, *, line_ids: list[int]):
        super().__init__(data)
        self.line_ids = line_ids
        for pk in line_ids:
            self.fields[f"quantity-{pk}"] = forms.IntegerField(
                min_value=1, max_value=999, error_messages=QUANTITY_ERRORS
            )
            self.fields[f"selected-{pk}"] = forms.BooleanField(required=False)

    def changes(self) -> dict[int, LineChange]:
        return {
            pk: LineChange(
                quantity=self.cleaned_data[f"quantity-{pk}"],
                selected=self.cleaned_data[f"selected-{pk}"],
            )
            for pk in self.line_ids
        }

    def line_errors(self) -> dict[int, str]:
        return {
            pk: self.errors[f"quantity-{pk}"][0]
            for pk in self.line_ids
            if f"quantity-{pk}" in self.errors
        }


def posted_changes(data) -> Callable[[list[int]], dict[int, LineChange]]:
    """The changes the cart's form posted (`data`) asks of the lines with the ids given:
    cart.services.update_lines builds the form from the lines it has locked, so their ids
    are not read first in a statement of their own. Raises InvalidQuantities with the form's
    errors when the form is not valid."""

    def changes(line_ids: list[int]) -> dict[int, LineChange]:
        form = CartUpdateForm(data, line_ids=line_ids)
        if not form.is_valid():
            raise InvalidQuantities(form.line_errors())
        return form.changes()

    return changes


class CouponForm(forms.Form):
    code = forms.CharField(
        label=_("Coupon code"),
        max_length=40,
        error_messages={"required": _("Enter a coupon code.")},
    )
