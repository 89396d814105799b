"""The merchant's tax settings (README "Taxes and invoices"), read at call time so tests
can override them."""

from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from taxes.calculation import PER_LINE, PER_TOTAL

#: What shoppers read beside prices: "incl. VAT" / "plus sales tax".
TAX_NAMES = {"vat": _("VAT"), "gst": _("GST"), "sales_tax": _("sales tax"), "tax": _("tax")}


def prices_include_tax() -> bool:
    return bool(getattr(settings, "TAX_PRICES_INCLUDE_TAX", False))


def rounding() -> str:
    value = getattr(settings, "TAX_ROUNDING", PER_LINE)
    return PER_TOTAL if value == PER_TOTAL else PER_LINE


def seller_country() -> str:
    return (getattr(settings, "TAX_SELLER_COUNTRY", "") or "US").upper()


def seller_region() -> str:
    return (getattr(settings, "TAX_SELLER_REGION", "") or "").upper()


def tax_name() -> str:
    """The generic name of the tax, translated: "VAT" where prices include it, else "tax"."""
    default = "vat" if prices_include_tax() else "tax"
    key = getattr(settings, "TAX_NAME", "") or default
    return str(TAX_NAMES.get(key, TAX_NAMES[default]))


def fapiao_offered() -> bool:
    """Whether checkout offers a fapiao (发票): by default when the seller is in China."""
    value = getattr(settings, "FAPIAO_ENABLED", None)
    return seller_country() == "CN" if value is None else bool(value)


@dataclass(frozen=True)
class Seller:
    """Who issues the invoices, as printed on them."""

    name: str
    address: tuple[str, ...]
    tax_id: str
    country: str
    email: str = ""

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "address": list(self.address),
            "tax_id": self.tax_id,
            "country": self.country,
            "email": self.email,
        }


def seller() -> Seller:
    address = getattr(settings, "SELLER_ADDRESS", "") or ""
    return Seller(
        name=getattr(settings, "SELLER_NAME", "") or settings.SHOP_NAME,
        address=tuple(part.strip() for part in address.split("|") if part.strip()),
        tax_id=getattr(settings, "SELLER_TAX_ID", "") or "",
        country=seller_country(),
        email=getattr(settings, "SELLER_EMAIL", "") or "",
    )
