from dataclasses import dataclass

from django import forms
from django.db import transaction
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from catalog import locks
from catalog.facets import SORT_FIELDS as SORTS
from catalog.models import StockMovement, Variant
from catalog.selectors import ListingFilters
from catalog.services import PriceChange

SORT_LABELS = {
    "relevance": _("Relevance"),
    "price": _("Price: low to high"),
    "-price": _("Price: high to low"),
    "newest": _("Newest"),
    "best-selling": _("Best-selling"),
    "top-rated": _("Top rated"),
}
#: A filter parameter takes at most this many values; more is not a shopper, it is a script.
MAX_VALUES = 20
MAX_PAGE = 10_000
#: Products per page a shopper can choose: multiples of 2, 3 and 4, so grid rows are full.
PAGE_SIZES = (24, 48, 96)


class ListingForm(forms.Form):
    """The filters, sort and page of a listing, read from the query string.

    Invalid values are dropped (with a message on the page), never a 500: a shared link with a
    typo still shows products.
    """

    price_min = forms.DecimalField(
        label=_("Min price"), required=False, min_value=0, max_digits=12, decimal_places=2
    )
    price_max = forms.DecimalField(
        label=_("Max price"), required=False, min_value=0, max_digits=12, decimal_places=2
    )
    in_stock = forms.BooleanField(label=_("In stock only"), required=False)
    sort = forms.ChoiceField(label=_("Sort by"), choices=list(SORT_LABELS.items()), required=False)
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)
    per_page = forms.TypedChoiceField(
        label=_("Show"),
        choices=[(n, n) for n in PAGE_SIZES],
        coerce=int,
        required=False,
        empty_value=PAGE_SIZES[0],
    )

    def __init__(self, data, *, option_slugs: list[str]):
        super().__init__(data)
        self.option_slugs = option_slugs

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("price_min"), cleaned.get("price_max")
        if low is not None and high is not None and low > high:
            self.add_error("price_max", _("The highest price is below the lowest."))
        return cleaned

    def _values(self, name: str) -> tuple[str, ...]:
        values = [v.strip()[:80] for v in self.data.getlist(name)[:MAX_VALUES]]
        # Slugs are printable; a NUL byte would even make PostgreSQL refuse the query.
        return tuple(sorted({v for v in values if v and v.isprintable()}))

    def filters(self) -> ListingFilters:
        cleaned = self.cleaned_data
        options = tuple(
            (slug, values) for slug in self.option_slugs if (values := self._values(slug))
        )
        return ListingFilters(
            brands=self._values("brand"),
            tags=self._values("tag"),
            options=options,
            price_min=cleaned.get("price_min"),
            price_max=cleaned.get("price_max") if "price_max" not in self.errors else None,
            in_stock=bool(cleaned.get("in_stock")),
        )

    def chosen_sort(self, *, default: str) -> str:
        sort = self.cleaned_data.get("sort")
        return sort if sort in SORTS else default

    def page_number(self) -> int:
        return self.cleaned_data.get("page") or 1

    def page_size(self) -> int:
        return self.cleaned_data.get("per_page") or PAGE_SIZES[0]


def plain_sort_and_page(params, *, default_sort: str, last_page: int) -> tuple[str, int] | None:
    """The sort and page of a listing's address that asks for a known sort or a page up to
    `last_page` and nothing else (`?sort=price`, `?page=2`, each once, written plainly), read
    without building ListingForm (a kept page's dearest part): what the form's chosen_sort()
    and page_number() give for them. None for any other query string (filters, a page size,
    an empty, unknown, repeated or otherwise written value): that is the form's to read, and
    to explain."""
    sort, page = default_sort, 1
    for name, values in params.lists():
        value = values[0] if len(values) == 1 else ""
        if name == "sort" and value in SORT_LABELS and value in SORTS:  # valid, and applied
            sort = value
        elif name == "page" and value in [str(n) for n in range(1, last_page + 1)]:
            page = int(value)
        else:
            return None
    return sort, page


# --- Stock entry in the merchant's forms (admin) -------------------------------------------


#: Units an adjustment or a count may name: within PositiveIntegerField on every database.
MAX_UNITS = 2_147_483_647


@dataclass(frozen=True)
class StockEntry:
    """What a merchant typed about a variant's stock: the stock their page showed
    (`loaded`), and either an adjustment (`adjust` units with a `reason`) or a `counted`
    quantity. Never an absolute number to write back."""

    loaded: int
    adjust: int | None = None
    reason: str = StockMovement.Reason.RECEIVED
    counted: int | None = None

    @property
    def changes_stock(self) -> bool:
        return bool(self.adjust) or self.counted is not None

    def result(self, current: int) -> int:
        """The stock after this entry, from `current`."""
        if self.counted is not None:
            return self.counted
        return current + (self.adjust or 0)


ADJUST_REASONS = [
    (StockMovement.Reason.RECEIVED.value, StockMovement.Reason.RECEIVED.label),
    (StockMovement.Reason.CORRECTION.value, StockMovement.Reason.CORRECTION.label),
]


class StockEntryWidget(forms.MultiWidget):
    """The stock now (read-only), the stock the page loaded (hidden), and two ways to change
    it: "adjust by" ±n with a reason, or "counted" n. Posts NAME_loaded, NAME_adjust,
    NAME_reason and NAME_counted."""

    def __init__(self, attrs=None):
        number = {"class": "width-5em", "inputmode": "numeric"}
        super().__init__(
            {
                "loaded": forms.HiddenInput(),
                "adjust": forms.NumberInput(attrs={**number, "step": "1"}),
                "reason": forms.Select(
                    choices=ADJUST_REASONS, attrs={"aria-label": _("Reason for the adjustment")}
                ),
                "counted": forms.NumberInput(attrs={**number, "min": "0", "step": "1"}),
            },
            attrs,
        )

    def decompress(self, value):
        return [value, None, StockMovement.Reason.RECEIVED.value, None]

    def render(self, name, value, attrs=None, renderer=None):
        context = self.get_context(name, value, attrs)
        loaded, adjust, reason, counted = (
            widget.render(sub["name"], sub["value"], sub["attrs"], renderer)
            for widget, sub in zip(self.widgets, context["widget"]["subwidgets"], strict=True)
        )
        current = context["widget"]["subwidgets"][0]["value"]
        return format_html(
            '<span class="stock-entry">{}<strong class="stock-entry__current">{}</strong> '
            "<label>{} {}</label> {} <label>{} {}</label></span>",
            loaded,
            "—" if current in (None, "") else current,
            _("adjust by"),
            adjust,
            reason,
            _("or counted"),
            counted,
        )


class StockEntryField(forms.MultiValueField):
    widget = StockEntryWidget

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Stock"))
        kwargs.setdefault(
            "help_text",
            _(
                "The stock now. To change it, enter the units received or removed (adjust by, "
                "with a reason) or the quantity you counted on the shelf. If the stock changes "
                "while this page is open (an order), your change is refused and shown again."
            ),
        )
        fields = (
            forms.IntegerField(min_value=0),
            forms.IntegerField(required=False, min_value=-MAX_UNITS, max_value=MAX_UNITS),
            forms.ChoiceField(choices=ADJUST_REASONS, required=False),
            forms.IntegerField(required=False, min_value=0, max_value=MAX_UNITS),
        )
        super().__init__(fields, require_all_fields=False, required=False, **kwargs)

    def compress(self, data_list):
        if not data_list or data_list[0] is None:
            return None
        loaded, adjust, reason, counted = data_list
        return StockEntry(
            loaded=loaded,
            adjust=adjust or None,
            reason=reason or StockMovement.Reason.RECEIVED,
            counted=counted,
        )

    def has_changed(self, initial, data):
        # Only a typed adjustment or count changes anything: the loaded stock and the reason
        # always hold a value.
        data = list(data or []) + [None] * 4
        return any(value is not None and str(value).strip() for value in (data[1], data[3]))


class StockEntryFormMixin:
    """For a ModelForm of Variant with a `stock` StockEntryField: checks the entry against
    the stock now (under the variant's row lock when the form is validated inside the
    save's transaction, as the admin's change pages are) and keeps it in `stock_entry`
    for the save to pass to catalog.stock. The form itself never writes `stock`.

    When the stock moved since the page was loaded, the form is refused with a message on
    the field; it shows again with what the merchant typed and the stock now, so saving
    once more applies their change to the new figure.
    """

    stock_entry: StockEntry | None = None

    def clean(self):
        cleaned = super().clean()
        entry = cleaned.pop("stock", None)  # never written to the model by the form
        self.stock_entry = None
        if entry is None or not entry.changes_stock:
            return cleaned
        if entry.adjust and entry.counted is not None:
            self.add_error("stock", _("Enter an adjustment or a counted quantity, not both."))
            return cleaned
        if entry.adjust and entry.adjust < 0 and entry.reason == StockMovement.Reason.RECEIVED:
            self.add_error(
                "stock",
                _("Received units are a positive number; record units that left as a correction."),
            )
            return cleaned
        current = self._stock_now()
        if current != entry.loaded:
            self.add_error(
                "stock",
                _(
                    "The stock changed from %(loaded)d to %(current)d since this page was "
                    "loaded (an order or another change), so nothing was saved. The stock now "
                    "is shown: check your entry and save again."
                )
                % {"loaded": entry.loaded, "current": current},
            )
            self._show_stock_now(current)
        elif entry.result(current) < 0:
            self.add_error(
                "stock",
                _("That would take the stock (%(current)d) below zero.") % {"current": current},
            )
        else:
            self.stock_entry = entry
        return cleaned

    def _stock_now(self) -> int:
        if self.instance.pk is None:
            return 0
        if transaction.get_connection().in_atomic_block:
            # Held until the save commits, so no sale can slip in between this check and it.
            locked = locks.variants_for_update(ids=[self.instance.pk])
            return locked[self.instance.pk].stock if locked else 0
        return Variant.objects.filter(pk=self.instance.pk).values_list("stock", flat=True).get()

    def _show_stock_now(self, current: int) -> None:
        data = self.data.copy()
        data[f"{self.add_prefix('stock')}_loaded"] = str(current)
        self.data = data


class BulkVariantEditForm(forms.Form):
    """The admin's bulk edit of chosen variants: a price change (set, by a percentage or by
    an amount) and a stock adjustment (±n units with a reason), either or both. Values are
    checked here; what they do to each variant (a price below zero, stock below zero) is
    checked by catalog.services.plan_variant_edit() on the rows."""

    PRICE_MODES = [
        ("", _("Keep the prices")),
        ("set", _("Set every price to")),
        ("percent", _("Change by a percentage (e.g. 10 or -15)")),
        ("amount", _("Change by an amount (e.g. 2.50 or -1)")),
    ]

    price_mode = forms.ChoiceField(
        label=_("Price"), choices=PRICE_MODES, required=False, widget=forms.RadioSelect
    )
    price_value = forms.DecimalField(
        label=_("Price, percentage or amount"),
        required=False,
        max_digits=12,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "class": "width-9em"}),
    )
    stock_delta = forms.IntegerField(
        label=_("Adjust stock by"),
        required=False,
        min_value=-MAX_UNITS,
        max_value=MAX_UNITS,
        help_text=_("Units to add to each variant (e.g. 12) or take away (e.g. -2)."),
        widget=forms.NumberInput(attrs={"class": "width-9em"}),
    )
    stock_reason = forms.ChoiceField(
        label=_("Reason"), choices=ADJUST_REASONS, initial=StockMovement.Reason.CORRECTION
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=255,
        help_text=_("Kept on each stock movement, e.g. the delivery note's number."),
    )

    def clean(self):
        cleaned = super().clean()
        mode, value = cleaned.get("price_mode"), cleaned.get("price_value")
        if "price_value" in self.errors:
            return cleaned
        if mode and value is None:
            self.add_error("price_value", _("Enter the new price, the percentage or the amount."))
        elif mode == "set" and value < 0:
            self.add_error("price_value", _("A price cannot be negative."))
        elif mode == "percent" and value < -100:
            self.add_error("price_value", _("A price cannot go down by more than 100 %."))
        delta = cleaned.get("stock_delta") or 0
        if delta < 0 and cleaned.get("stock_reason") == StockMovement.Reason.RECEIVED:
            self.add_error(
                "stock_reason",
                _("Received units are a positive number; record units that left as a correction."),
            )
        if not mode and not delta and "stock_delta" not in self.errors:
            raise forms.ValidationError(
                _("Nothing to change: choose a price change or enter a stock adjustment.")
            )
        return cleaned

    def price_change(self) -> PriceChange | None:
        mode = self.cleaned_data.get("price_mode")
        return PriceChange(mode=mode, value=self.cleaned_data["price_value"]) if mode else None

    def reason_label(self) -> str:
        return dict(ADJUST_REASONS).get(self.cleaned_data.get("stock_reason"), "")

    def stock_delta_value(self) -> int:
        return self.cleaned_data.get("stock_delta") or 0
