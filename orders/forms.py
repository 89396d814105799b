from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from accounts.forms import AddressForm
from orders.errors import ShippingUnavailable
from orders.models import CARRIERS, FapiaoRequest, ReturnRequest, ShippingMethod
from orders.selectors import active_shipping_methods, payment_methods
from promotions.points import worth as points_worth
from promotions.pricing import format_money
from shop.forms import CopiesChangedFields
from taxes import conf as tax_conf
from taxes import vat

NEW_ADDRESS = "new"


class ShippingMethodChoice(forms.ChoiceField):
    """One of the active shipping methods (orders.selectors.active_shipping_methods, held per
    catalog version): its radios and its check read no rows; cleaned to the method."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.methods = {}

    def offer(self, methods: list[ShippingMethod]) -> None:
        self.methods = {str(method.pk): method for method in methods}
        # Labelled when the radios are rendered, not when the form is built: a posted form
        # that is valid (most) never shows them, and their prices' formatting was a sixth
        # of building it.
        self.choices = self._labelled_choices

    def _labelled_choices(self) -> list[tuple[str, str]]:
        return [(pk, self.label_of(method)) for pk, method in self.methods.items()]

    def label_of(self, method: ShippingMethod) -> str:
        parts = [method.name, format_money(method.price)]
        if method.free_above is not None:
            parts.append(
                str(_("free from %(amount)s")) % {"amount": format_money(method.free_above)}
            )
        if method.delivery_estimate:
            parts.append(method.delivery_estimate)
        if method.countries:
            parts.append(str(_("ships to %(codes)s")) % {"codes": ", ".join(method.countries)})
        return " · ".join(parts)

    def to_python(self, value) -> ShippingMethod | None:
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        if value not in self.methods:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"],
                code="invalid_choice",
                params={"value": value},
            )
        return self.methods[value]

    def validate(self, value) -> None:
        forms.Field.validate(self, value)  # "required"; to_python took only offered methods


class CheckoutForm(CopiesChangedFields, forms.Form):
    """Contact, address choice, shipping, payment and coupon; a new address is validated by
    the accounts AddressForm (prefix "ship") beside it. Only the fields set for this shopper
    in __init__ are copied for each form (shop.forms), and only those asked are in it."""

    changed_fields = ("points", "address", "payment_method", "shipping_method")

    email = forms.EmailField(
        label=_("Email address"),
        help_text=_("We send the order confirmation and a link to your order here."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    address = forms.ChoiceField(
        label=_("Ship to"),
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": _("Choose one of your addresses, or a new one.")},
    )
    save_address = forms.BooleanField(
        label=_("Save this address in my address book"), required=False, initial=True
    )
    shipping_method = ShippingMethodChoice(
        label=_("Shipping method"),
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose a shipping method."),
            "invalid_choice": _("That shipping method is not available: choose another."),
        },
    )
    payment_method = forms.ChoiceField(
        label=_("Payment method"),
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose a payment method."),
            "invalid_choice": _("That payment method is not available: choose another."),
        },
    )
    coupon_code = forms.CharField(
        label=_("Coupon code"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    #: Shown to a signed-in shopper holding points; price_cart caps what an order takes.
    points = forms.IntegerField(
        label=_("Points to use"),
        required=False,
        min_value=0,
        error_messages={
            "invalid": _("Enter a whole number of points, such as 500."),
            "min_value": _("Enter a number of points: 0 or more."),
        },
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    # A business purchase (behind "Buying for a business?"): printed on the invoice.
    company = forms.CharField(
        label=_("Company name"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    vat_number = forms.CharField(
        label=_("EU VAT number"),
        required=False,
        max_length=20,
        help_text=_(
            "With a valid number from another EU country than ours, no VAT is charged "
            "(reverse charge)."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    fapiao_kind = forms.ChoiceField(
        label=_("Fapiao (发票)"),
        required=False,
        widget=forms.RadioSelect,
        choices=[("", _("No fapiao")), *FapiaoRequest.Kind.choices],
        error_messages={"invalid_choice": _("Choose personal, company or no fapiao.")},
    )
    fapiao_title = forms.CharField(
        label=_("Fapiao title (抬头)"),
        required=False,
        max_length=200,
        help_text=_("The company’s registered name, or your name for a personal fapiao."),
    )
    fapiao_taxpayer_number = forms.CharField(
        label=_("Taxpayer number (税号)"),
        required=False,
        max_length=24,
        help_text=_("18 characters, for a company fapiao."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(
        self, *args, user, addresses, address_initial=None, points_balance: int = 0, **kwargs
    ):
        self.points_balance = points_balance
        self.addresses = {str(address.pk): address for address in addresses}
        super().__init__(*args, unasked=self._unasked(user), **kwargs)
        if "points" in self.fields:
            self.fields["points"].help_text = _(
                "You have %(balance)s points, worth %(worth)s. Points pay for up to "
                "%(share)s%% of the items."
            ) % {
                "balance": points_balance,
                "worth": format_money(
                    points_worth(points_balance, value_per_point=settings.POINTS_VALUE)
                ),
                "share": format(settings.POINTS_MAX_SHARE.normalize(), "f"),
            }
        if self.addresses:
            self.fields["address"].choices = [
                (pk, ", ".join(address.lines())) for pk, address in self.addresses.items()
            ] + [(NEW_ADDRESS, _("A new address"))]
        self.fields["payment_method"].choices = payment_methods()
        self.fields["shipping_method"].offer(active_shipping_methods())
        # Bound only when a new address is typed: a saved one chosen leaves its fields alone
        # (no "required" errors under fields the shopper did not need). The browser checks
        # them only when there is no saved address to choose instead.
        self.address_form = AddressForm(
            self.data if self.is_bound and self.wants_new_address else None,
            prefix="ship",
            show_make_default=False,
            browser_checks=not self.addresses,
            initial=address_initial
            or {
                name.removeprefix("ship-"): value
                for name, value in self.data.items()
                if name.startswith("ship-")
            },
        )

    def _unasked(self, user) -> set[str]:
        unasked = set()
        if not (self.points_balance > 0 and settings.POINTS_VALUE > 0):
            unasked.add("points")
        if user.is_authenticated and user.email:
            unasked.add("email")
        if not self.addresses:
            unasked.add("address")
        if not user.is_authenticated:
            unasked.add("save_address")
        if not tax_conf.fapiao_offered():
            unasked.update(("fapiao_kind", "fapiao_title", "fapiao_taxpayer_number"))
        return unasked

    def clean_points(self) -> int:
        points = self.cleaned_data.get("points") or 0
        if points > self.points_balance:
            raise forms.ValidationError(
                _("You have %(balance)s points: enter %(balance)s or fewer.")
                % {"balance": self.points_balance}
            )
        return points

    @classmethod
    def for_new_country(cls, data, *, user, addresses, points_balance: int = 0) -> "CheckoutForm":
        """The form again, unbound, with everything typed kept and the address fields of
        the country just chosen ("Update" beside the country, or address.js)."""
        initial = {name: data.get(name, "") for name in data if not name.startswith("ship-")}
        initial.setdefault("save_address", False)  # an unticked box is not posted
        return cls(
            user=user,
            addresses=addresses,
            points_balance=points_balance,
            initial=initial,
            address_initial={
                name.removeprefix("ship-"): data.get(name, "")
                for name in data
                if name.startswith("ship-")
            },
        )

    @property
    def coupon_open(self) -> bool:
        """Whether "Have a coupon code?" starts open: a code in it, or an error."""
        if self.is_bound:
            return bool(self.data.get("coupon_code")) or "coupon_code" in self.errors
        return bool(self.initial.get("coupon_code"))

    @property
    def wants_new_address(self) -> bool:
        if "address" not in self.fields:
            return True
        return self.data.get(self.add_prefix("address")) == NEW_ADDRESS

    def is_valid(self) -> bool:
        valid = super().is_valid()
        if self.wants_new_address:
            valid = self.address_form.is_valid() and valid
        return valid and not self.errors

    def clean(self):
        cleaned = super().clean()
        method = cleaned.get("shipping_method")
        country = self.country()
        if method and country and not method.serves(country):
            self.add_error("shipping_method", ShippingUnavailable().message)
        self._clean_vat_number(cleaned, country)
        self._clean_fapiao(cleaned, country)
        return cleaned

    def _clean_vat_number(self, cleaned, country: str) -> None:
        number = cleaned.get("vat_number", "").strip()
        if not number:
            return
        if country and country not in vat.EU_COUNTRIES:
            self.add_error(
                "vat_number", _("A VAT number applies to addresses in the EU: leave it empty.")
            )
            return
        try:
            cleaned["vat_number"] = vat.check_vat_number(number, country=country)
        except vat.InvalidVatNumber as error:
            self.add_error("vat_number", error.message)

    def _clean_fapiao(self, cleaned, country: str) -> None:
        kind = cleaned.get("fapiao_kind")
        if not kind:
            cleaned["fapiao_title"] = cleaned["fapiao_taxpayer_number"] = ""
            return
        if country and country != "CN":
            self.add_error(
                "fapiao_kind", _("A fapiao is issued for deliveries in mainland China only.")
            )
        title = " ".join(cleaned.get("fapiao_title", "").split())
        if not title:
            self.add_error(
                "fapiao_title", _("Enter the fapiao’s title: the company’s name or yours.")
            )
        cleaned["fapiao_title"] = title
        if kind == FapiaoRequest.Kind.COMPANY:
            try:
                cleaned["fapiao_taxpayer_number"] = vat.check_taxpayer_number(
                    cleaned.get("fapiao_taxpayer_number", "")
                )
            except vat.InvalidVatNumber as error:
                self.add_error("fapiao_taxpayer_number", error.message)
        else:
            cleaned["fapiao_taxpayer_number"] = ""

    @property
    def business_open(self) -> bool:
        """Whether "Buying for a business?" starts open: something in it, or an error."""
        names = ("company", "vat_number", "fapiao_kind", "fapiao_title", "fapiao_taxpayer_number")
        present = [name for name in names if name in self.fields]
        if self.is_bound:
            return any(self.data.get(name) for name in present) or any(
                name in self.errors for name in present
            )
        return any(self.initial.get(name) for name in present)

    def country(self) -> str:
        if not self.wants_new_address:
            address = self.addresses.get(self.data.get(self.add_prefix("address"), ""))
            return str(address.country) if address else ""
        return str(self.data.get(self.address_form.add_prefix("country"), "")).upper()

    def chosen_address(self):
        """The saved address chosen, or None for a new one (in address_form)."""
        if self.wants_new_address:
            return None
        return self.addresses[self.cleaned_data["address"]]


class PlaceOrderForm(forms.Form):
    """The review page's hidden fields: nothing about prices or quantities is taken from
    the browser, only the key that makes a resubmit harmless and the digest of what was
    shown."""

    idempotency_key = forms.CharField(max_length=64, min_length=16, widget=forms.HiddenInput)
    fingerprint = forms.CharField(max_length=64, widget=forms.HiddenInput)


class ShipForm(forms.Form):
    carrier = forms.ChoiceField(
        label=_("Carrier"), choices=[(code, name) for code, (name, _url) in CARRIERS.items()]
    )
    tracking_number = forms.CharField(label=_("Tracking number"), max_length=64, required=False)


class ReturnRequestForm(forms.Form):
    """How many of each returnable line to send back (a select per line), and why."""

    reason = forms.ChoiceField(
        label=_("Why are you returning them?"), choices=[("", "—"), *ReturnRequest.Reason.choices]
    )
    note = forms.CharField(
        label=_("Anything we should know? (optional)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = lines
        for line in lines:
            self.fields[f"line_{line.pk}"] = forms.TypedChoiceField(
                label=_("How many of %(name)s") % {"name": line.product_name},
                choices=[(n, n) for n in range(line.returnable + 1)],
                coerce=int,
                initial=0,
            )
            line.bound_field = self[f"line_{line.pk}"]

    def clean(self):
        cleaned = super().clean()
        if self.lines and not any(cleaned.get(f"line_{line.pk}") for line in self.lines):
            raise forms.ValidationError(_("Choose at least one item to return."))
        return cleaned

    def quantities(self) -> dict[int, int]:
        return {line.pk: self.cleaned_data[f"line_{line.pk}"] for line in self.lines}


def _quantity_field(label: str, most: int) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label, choices=[(n, n) for n in range(most + 1)], coerce=int, initial=0
    )


class ShipLinesForm(ShipForm):
    """The merchant ships chosen lines and quantities of one order (all that is left, by
    default), and says whether the shopper gets the "shipped" mail."""

    notify = forms.BooleanField(
        label=_("Email the customer that it has shipped"), required=False, initial=True
    )

    def __init__(self, *args, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = lines
        for line in lines:
            field = _quantity_field(
                _("%(name)s (%(sku)s)") % {"name": line.product_name, "sku": line.sku},
                line.quantity_to_ship,
            )
            field.initial = line.quantity_to_ship
            self.fields[f"line_{line.pk}"] = field

    @property
    def rows(self) -> list[tuple]:
        """(order line, its quantity field) for the page's table."""
        return [(line, self[f"line_{line.pk}"]) for line in self.lines]

    def clean(self):
        cleaned = super().clean()
        if not any(cleaned.get(f"line_{line.pk}") for line in self.lines):
            raise forms.ValidationError(_("Choose at least one item to ship."))
        return cleaned

    def quantities(self) -> dict[int, int]:
        return {line.pk: self.cleaned_data[f"line_{line.pk}"] for line in self.lines}


class RejectReturnForm(forms.Form):
    answer = forms.CharField(
        label=_("Why is it rejected? (the shopper reads this)"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ReceiveReturnForm(forms.Form):
    """Per return line: put its units back on the shelf, or not (damaged, used)."""

    def __init__(self, *args, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = lines
        for return_line in lines:
            self.fields[f"restock_{return_line.pk}"] = forms.BooleanField(
                label=_("Restock %(quantity)s × %(name)s")
                % {"quantity": return_line.quantity, "name": return_line.line.product_name},
                required=False,
                initial=True,
            )

    @property
    def rows(self) -> list[tuple]:
        """(return line, its restock checkbox) for the page's table."""
        return [(line, self[f"restock_{line.pk}"]) for line in self.lines]

    def restock(self) -> set[int]:
        return {line.pk for line in self.lines if self.cleaned_data.get(f"restock_{line.pk}")}
