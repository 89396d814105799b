"""Which rates apply where and when, the cached table, EU VAT numbers and Chinese taxpayer
numbers."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from taxes import vat
from taxes.calculation import EXPORT, REVERSE_CHARGE
from taxes.models import TaxClass, TaxRate
from taxes.regions import region_code
from taxes.selectors import Destination, rates_at, rules_for, tax_table
from taxes.tests.factories import TaxClassFactory, TaxRateFactory, rates

pytestmark = pytest.mark.django_db
D = Decimal


def test_a_state_rate_applies_in_its_state_and_none_elsewhere_in_the_country():
    rates(("US", "CA", "standard", "7.25", "Sales tax"), ("US", "NY", "standard", "4"))
    table = tax_table()
    day = date(2026, 6, 1)
    assert rates_at(table, country="US", region="California", day=day)["standard"].percent == D(
        "7.25"
    )
    assert rates_at(table, country="US", region="ny", day=day)["standard"].percent == D("4")
    oregon = rates_at(table, country="US", region="OR", day=day)
    assert oregon is not None and "standard" not in oregon  # taxed country, no rate: 0 %
    assert rates_at(table, country="JP", region="", day=day) is None  # no rate at all: export


def test_a_region_rate_replaces_the_country_rate_for_its_class():
    rates(("CA", "", "standard", "5", "GST"), ("CA", "ON", "standard", "13", "HST"))
    table = tax_table()
    day = date(2026, 1, 1)
    assert rates_at(table, country="CA", region="Ontario", day=day)["standard"].name == "HST"
    assert rates_at(table, country="CA", region="AB", day=day)["standard"].percent == D("5")


def test_rates_follow_their_validity_period():
    standard = TaxClassFactory(code="standard")
    TaxRateFactory(country="EE", tax_class=standard, rate=D("22"), valid_until=date(2025, 7, 1))
    TaxRateFactory(country="EE", tax_class=standard, rate=D("24"), valid_from=date(2025, 7, 1))
    table = tax_table()
    assert rates_at(table, country="EE", region="", day=date(2025, 6, 30))["standard"].percent == 22
    assert rates_at(table, country="EE", region="", day=date(2025, 7, 1))["standard"].percent == 24


def test_overlapping_periods_are_refused_with_a_message():
    standard = TaxClassFactory(code="standard")
    TaxRateFactory(country="FR", tax_class=standard, rate=D("20"))
    clash = TaxRate(country="FR", tax_class=standard, rate=D("21"), valid_from=date(2026, 1, 1))
    with pytest.raises(ValidationError, match="overlaps"):
        clash.full_clean()


def test_exempt_classes_are_exempt_everywhere_taxed():
    rates(("DE", "", "standard", "19"))
    TaxClassFactory(code="exempt", is_exempt=True)
    got = rates_at(tax_table(), country="DE", region="", day=date(2026, 1, 1))
    assert got["exempt"].exempt


def test_the_table_costs_one_query_cold_and_none_warm_and_follows_changes():
    rates(("DE", "", "standard", "19"))
    with CaptureQueriesContext(connection) as cold:
        tax_table()
    assert len(cold) == 1
    with CaptureQueriesContext(connection) as warm:
        tax_table()
    assert len(warm) == 0
    TaxRateFactory(country="AT", tax_class=TaxClass.objects.get(code="standard"), rate=D("20"))
    assert {row.country for row in tax_table().rows} == {"DE", "AT"}


def test_rules_reverse_charge_for_an_eu_business_in_another_state(settings):
    settings.TAX_PRICES_INCLUDE_TAX = True
    settings.TAX_SELLER_COUNTRY = "DE"
    rates(("DE", "", "standard", "19"), ("FR", "", "standard", "20"))
    now = datetime(2026, 3, 1, tzinfo=UTC)
    business = rules_for(Destination("FR", vat_number="FR40303265045"), now=now)
    assert business.not_charged == REVERSE_CHARGE
    assert business.home_rates["standard"].percent == 19
    consumer = rules_for(Destination("FR"), now=now)
    assert consumer.not_charged == "" and consumer.rates["standard"].percent == 20
    home_business = rules_for(Destination("DE", vat_number="DE136695976"), now=now)
    assert home_business.not_charged == ""  # same member state: VAT charged
    assert rules_for(Destination("US", "CA"), now=now).not_charged == EXPORT


@pytest.mark.parametrize(
    ("number", "country", "ok"),
    [
        ("DE136695976", "DE", True),
        ("de 136 695 976", "DE", True),
        ("DE136695977", "DE", False),  # check digit
        ("FR40303265045", "FR", True),
        ("FR40303265045", "DE", False),  # another country's number
        ("EL094259216", "GR", True),
        ("123", "", False),
        ("GB980780684", "", False),  # not the EU any more
    ],
)
def test_eu_vat_numbers_are_checked_by_format_and_check_digits(number, country, ok):
    assert vat.is_valid(number, country=country) is ok


def test_an_invalid_vat_number_says_why():
    with pytest.raises(vat.InvalidVatNumber, match="check digits"):
        vat.check_vat_number("DE136695977")


def test_chinese_taxpayer_numbers_are_18_characters_with_a_check_character():
    assert vat.check_taxpayer_number("91110000600037341L") == "91110000600037341L"
    with pytest.raises(vat.InvalidVatNumber):
        vat.check_taxpayer_number("91110000600037341X")
    with pytest.raises(vat.InvalidVatNumber):
        vat.check_taxpayer_number("9111000060003734")


def test_region_names_and_codes_meet():
    assert region_code("US", " new  york ") == "NY"
    assert region_code("US", "US-CA") == "CA"
    assert region_code("DE", "Bayern") == "BAYERN"
    assert region_code("US", "") == ""
