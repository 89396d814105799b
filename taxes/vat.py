"""EU VAT numbers (validated by python-stdnum: format and check digits per member state)
and when the reverse charge applies."""

from django.utils.translation import gettext as _
from stdnum import exceptions as stdnum_errors
from stdnum.eu import vat as eu_vat
from stdnum.util import clean

#: The 27 member states (ISO 3166-1 codes).
EU_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)


class InvalidVatNumber(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def compact(number: str) -> str:
    """ "de 136 695 976" -> "DE136695976"."""
    return clean(number or "", " -./,").upper().strip()


def country_of(number: str) -> str:
    """The ISO country code a VAT number belongs to (Greece's "EL" is "GR")."""
    prefix = compact(number)[:2]
    return "GR" if prefix == "EL" else prefix


def check_vat_number(number: str, *, country: str = "") -> str:
    """The number compacted if it is a valid EU VAT number (of `country`, when given);
    raises InvalidVatNumber with the reason otherwise."""
    value = compact(number)
    if country_of(value) not in EU_COUNTRIES:
        raise InvalidVatNumber(
            _("Enter an EU VAT number starting with its country code, e.g. DE123456789.")
        )
    try:
        value = eu_vat.validate(value).upper()
    except stdnum_errors.InvalidChecksum:
        raise InvalidVatNumber(
            _("This VAT number’s check digits are wrong: please check it.")
        ) from None
    except stdnum_errors.ValidationError:
        raise InvalidVatNumber(
            _("This is not a valid VAT number for its country: please check it.")
        ) from None
    if country and country_of(value) != country.upper():
        raise InvalidVatNumber(_("This VAT number belongs to another country than the address."))
    return value


def is_valid(number: str, *, country: str = "") -> bool:
    try:
        check_vat_number(number, country=country)
    except InvalidVatNumber:
        return False
    return True


def reverse_charge_applies(*, vat_number: str, country: str, seller_country: str) -> bool:
    """An EU business buying from a seller in another member state pays no VAT: the buyer
    accounts for it (Article 196 of the VAT Directive). Needs a valid VAT number of the
    buyer's country, the buyer and seller in the EU, and in different member states."""
    country, seller_country = (country or "").upper(), (seller_country or "").upper()
    if not vat_number or country == seller_country:
        return False
    if country not in EU_COUNTRIES or seller_country not in EU_COUNTRIES:
        return False
    return is_valid(vat_number, country=country)


# --- China: the taxpayer number on a company's fapiao -------------------------------------


def check_taxpayer_number(number: str) -> str:
    """A Chinese taxpayer number (统一社会信用代码, 18 characters with a check character),
    compacted; raises InvalidVatNumber otherwise."""
    from stdnum.cn import uscc

    try:
        return uscc.validate(number or "")
    except stdnum_errors.ValidationError:
        raise InvalidVatNumber(
            _("Enter the company’s 18-character taxpayer number (统一社会信用代码).")
        ) from None
