"""How taxes read on pages: "incl. VAT" beside prices, "VAT 19 %" on a total's rows."""

from django import template
from django.utils.translation import gettext as _

from shop.countries import country_name
from taxes import conf
from taxes.calculation import EXPORT, REVERSE_CHARGE, format_percent
from taxes.regions import region_code, region_name

register = template.Library()


@register.simple_tag
def price_tax_note() -> str:
    """Beside a catalog price: "incl. VAT" where prices include tax, else "plus tax"."""
    if conf.prices_include_tax():
        return _("incl. %(tax)s") % {"tax": conf.tax_name()}
    return _("plus %(tax)s") % {"tax": conf.tax_name()}


@register.filter
def percent(value) -> str:
    """7.250 -> "7.25 %" (with a no-break space)."""
    if value is None or value == "":
        return ""
    return f"{format_percent(value)}\u00a0%"  # no line break before the sign


@register.filter
def tax_row_label(row) -> str:
    """A row of a total by rate: "VAT 19 %", "Sales tax 7.25 %", "Exempt"."""
    if getattr(row, "exempt", False):
        return _("Exempt")
    name = row.name or conf.tax_name()
    name = name[:1].upper() + name[1:]
    return f"{name} {percent(row.percent)}"


@register.filter
def tax_place(price_or_order) -> str:
    """Where the rates of a price or an order come from: "California, United States".

    The country's name by its code (an ISO code, as Destination keeps it): a dict of the
    whole list, sorted and translated, was built for each call (a fifth of a millisecond,
    on every checkout step and cart page); now each name once per process (shop.countries)."""
    country = str(getattr(price_or_order, "tax_country", "") or "")
    region = getattr(price_or_order, "tax_region", "") or ""
    name = country_name(country) or country
    code = region_code(country, region)
    if code:
        return f"{region_name(country, code)}, {name}"
    return name


@register.filter
def not_charged_label(reason: str) -> str:
    if reason == REVERSE_CHARGE:
        return _("%(tax)s not charged (reverse charge)") % {"tax": conf.tax_name()}
    if reason == EXPORT:
        return _("%(tax)s not charged (export)") % {"tax": conf.tax_name()}
    return ""


@register.simple_tag
def generic_tax_name() -> str:
    name = conf.tax_name()
    return name[:1].upper() + name[1:]
