from django import forms
from django.utils.translation import gettext_lazy as _

from catalog.selectors import SORTS, ListingFilters

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
