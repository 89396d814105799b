"""The tax settings as the environment gives them (read in a child process)."""

from shop.tests.utils import read_settings

NAMES = [
    "TAX_PRICES_INCLUDE_TAX",
    "TAX_ROUNDING",
    "TAX_SELLER_COUNTRY",
    "TAX_SELLER_REGION",
    "FAPIAO_ENABLED",
    "SELLER_NAME",
    "INVOICE_NUMBER_PREFIX",
]


def test_defaults_are_a_us_shop_adding_tax():
    found = read_settings(NAMES, DEBUG="true", SHOP_NAME="Tea House")
    assert found["TAX_PRICES_INCLUDE_TAX"] is False and found["TAX_ROUNDING"] == "line"
    assert (found["TAX_SELLER_COUNTRY"], found["FAPIAO_ENABLED"]) == ("US", False)
    assert found["SELLER_NAME"] == "Tea House" and found["INVOICE_NUMBER_PREFIX"] == "INV-"


def test_a_chinese_seller_offers_fapiao_unless_told_not_to():
    found = read_settings(NAMES, DEBUG="true", TAX_SELLER_COUNTRY="cn", FAPIAO_ENABLED="")
    assert (found["TAX_SELLER_COUNTRY"], found["FAPIAO_ENABLED"]) == ("CN", True)
    found = read_settings(NAMES, DEBUG="true", TAX_SELLER_COUNTRY="CN", FAPIAO_ENABLED="false")
    assert found["FAPIAO_ENABLED"] is False
    found = read_settings(NAMES, DEBUG="true", TAX_PRICES_INCLUDE_TAX="true", TAX_ROUNDING="total")
    assert found["TAX_PRICES_INCLUDE_TAX"] is True and found["TAX_ROUNDING"] == "total"
