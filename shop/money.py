"""Amounts in a currency's minor units: how many decimals a currency has, rounding to them,
and converting to and from the whole numbers payment providers count in.

Amounts are written for the reader's language by Babel (format_money). The number of
decimals comes from Babel's copy of the Unicode CLDR currency data (ISO 4217
with the corrections currencies have in use): JPY 0, USD 2, KWD 3. Nothing here is written by
hand, so a shop in yen charges 1,000 for ¥1,000, not 100,000. Imports nothing of ours: any
app may use it.
"""

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency, get_currency_precision
from django.conf import settings
from django.utils.translation import get_language, to_locale


def _code(currency: str | None) -> str:
    return (currency or settings.SHOP_CURRENCY).strip().upper()


@lru_cache(maxsize=64)
def _digits(code: str) -> int:
    return get_currency_precision(code)


def minor_units(currency: str | None = None) -> int:
    """How many decimals `currency` (default: the shop's) has: 2 for USD, 0 for JPY, 3 for
    KWD. A code the data does not know gets 2, CLDR's default."""
    return _digits(_code(currency))


def smallest_unit(currency: str | None = None) -> Decimal:
    """The smallest amount of `currency`: Decimal("0.01") for USD, Decimal("1") for JPY."""
    return Decimal(1).scaleb(-minor_units(currency))


def quantize(amount: Decimal, currency: str | None = None) -> Decimal:
    """Round to the currency's minor unit, half up: the rule for every amount a shopper
    sees (default: the shop's currency, settings.SHOP_CURRENCY)."""
    return Decimal(amount).quantize(smallest_unit(currency), rounding=ROUND_HALF_UP)


def to_minor(amount: Decimal, currency: str) -> int:
    """An amount as a whole number of minor units: 10.00 USD is 1000, ¥1,000 is 1000,
    1.000 KWD is 1000."""
    return int(quantize(amount, currency).scaleb(minor_units(currency)))


def from_minor(value, currency: str) -> Decimal | None:
    """A whole number of minor units as an amount (None stays None): 1000 is 10.00 USD,
    ¥1000 or 1.000 KWD."""
    if value is None:
        return None
    return quantize(Decimal(int(value)).scaleb(-minor_units(currency)), currency)


def format_money(amount: Decimal, currency: str | None = None, *, locale: str | None = None) -> str:
    """An amount as people of the active language read it (Babel's CLDR data), with the
    currency's own number of decimals: "$1,234.50" and "-$5.00" in English, "US$1,234.50"
    or "¥1,234.50" (yuan) in Chinese, "¥1,235" in yen. `currency` defaults to the shop's;
    an order's amounts pass the order's. `locale` (a Babel locale) pins the language, for
    text that must not follow the reader."""
    code = _code(currency)
    return _formatted(str(quantize(Decimal(amount), code)), code, locale or babel_locale())


@lru_cache(maxsize=4096)
def _formatted(rounded: str, code: str, locale: str) -> str:
    """Each amount written once per process and language: Babel applies the CLDR pattern
    anew on every call (a tenth of a millisecond), and a page shows the same prices again
    and again (a cart of 20 lines formats 60 amounts). Keyed by the rounded amount's text,
    so that 0.00 and -0.00, equal as Decimals, are kept apart."""
    return format_currency(Decimal(rounded), code, locale=_parsed(locale))


@lru_cache(maxsize=16)
def _parsed(locale: str) -> Locale:
    """Each locale parsed once per process: given a name, Babel builds a new Locale and
    loads its data on every call, four fifths of what formatting an amount costs (a cart
    page formats dozens). A Locale is read-only once loaded, so requests can share it."""
    return Locale.parse(locale)


#: The Babel locale of each language of the shop (Django's code -> CLDR's): the region
#: decides conventions such as which dollar is plain "$".
BABEL_LOCALES = {"en": "en_US", "zh-hans": "zh_Hans_CN"}


def babel_locale(language: str | None = None) -> str:
    """The Babel locale of `language` (default: the active one)."""
    language = language or get_language() or settings.LANGUAGE_CODE
    return BABEL_LOCALES.get(language) or to_locale(language)
