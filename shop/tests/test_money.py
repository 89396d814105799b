"""Minor units come from the currency data (Babel's CLDR), never from a table of our own."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from shop import money

D = Decimal


@pytest.mark.parametrize(
    ("currency", "digits"),
    [("USD", 2), ("EUR", 2), ("CNY", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3)],
)
def test_minor_units_follow_the_currency_data(currency, digits):
    assert money.minor_units(currency) == digits
    assert money.minor_units(currency.lower()) == digits


def test_minor_units_default_to_the_shops_currency(settings):
    settings.SHOP_CURRENCY = "JPY"
    assert money.minor_units() == 0 and money.smallest_unit() == D("1")
    settings.SHOP_CURRENCY = "USD"
    assert money.minor_units() == 2 and money.smallest_unit() == D("0.01")


def test_quantize_rounds_half_up_to_the_currencys_minor_unit(settings):
    assert money.quantize(D("0.005"), "USD") == D("0.01")
    assert money.quantize(D("-0.005"), "USD") == D("-0.01")  # half away from zero
    assert money.quantize(D("999.5"), "JPY") == D("1000")
    assert money.quantize(D("999.49"), "JPY") == D("999")
    assert money.quantize(D("1.0005"), "KWD") == D("1.001")
    settings.SHOP_CURRENCY = "JPY"
    assert money.quantize(D("12.50")) == D("13")


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("10.00", "USD", 1000),
        ("1000", "JPY", 1000),
        ("1000.00", "JPY", 1000),
        ("1.000", "KWD", 1000),
        ("1.000", "BHD", 1000),
        ("17.34", "USD", 1734),
        ("0.01", "USD", 1),
    ],
)
def test_to_and_from_minor_units(amount, currency, minor):
    assert money.to_minor(D(amount), currency) == minor
    assert money.from_minor(minor, currency) == D(amount)


def test_from_minor_keeps_none_and_gives_the_currencys_decimals():
    assert money.from_minor(None, "USD") is None
    assert str(money.from_minor(1000, "USD")) == "10.00"
    assert str(money.from_minor(1000, "JPY")) == "1000"
    assert str(money.from_minor(1000, "KWD")) == "1.000"


@pytest.mark.parametrize(
    ("language", "currency", "amount", "text"),
    [
        ("en", "USD", "1234.5", "$1,234.50"),
        ("en", "USD", "-5", "-$5.00"),
        ("en", "CNY", "1234.5", "CN¥1,234.50"),
        ("en", "JPY", "1234.5", "¥1,235"),  # half up to whole yen, not Babel's half even
        ("zh-hans", "USD", "1234.5", "US$1,234.50"),
        ("zh-hans", "CNY", "1234.5", "¥1,234.50"),
        ("zh-hans", "CNY", "-0.5", "-¥0.50"),
        ("zh-hans", "JPY", "1234.5", "JP¥1,235"),
    ],
)
def test_amounts_are_written_for_the_readers_language(language, currency, amount, text):
    with translation.override(language):
        assert money.format_money(D(amount), currency) == text


def test_a_pinned_locale_ignores_the_readers_language():
    with translation.override("zh-hans"):
        assert money.format_money(D("1234.5"), "USD", locale="en_US") == "$1,234.50"


def test_the_money_filter_follows_the_active_language(settings):
    settings.SHOP_CURRENCY = "CNY"
    template = Template("{% load shop_tags %}{{ amount|money }}")
    with translation.override("zh-hans"):
        assert template.render(Context({"amount": D("99")})) == "¥99.00"
    assert template.render(Context({"amount": D("99")})) == "CN¥99.00"
