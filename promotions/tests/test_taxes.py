"""price_cart() with tax: exact totals on the issue's fixed cases (taxes after discounts, on
shipping, by the destination's rules)."""

from dataclasses import replace
from decimal import Decimal
from unittest import mock

import pytest

from promotions import services
from promotions.tests.factories import CouponFactory
from promotions.tests.helpers import NOW, line
from taxes.models import TaxClass
from taxes.selectors import Destination
from taxes.tests.factories import TaxClassFactory, rates

pytestmark = pytest.mark.django_db
D = Decimal


def price(lines, **kwargs):
    kwargs.setdefault("now", NOW)
    return services.price_cart(lines=lines, **kwargs)


@pytest.fixture
def us(settings):
    settings.TAX_PRICES_INCLUDE_TAX = False
    settings.TAX_SELLER_COUNTRY = "US"
    settings.TAX_SELLER_REGION = "CA"
    rates(("US", "CA", "standard", "7.25", "Sales tax"), ("US", "NY", "standard", "4", "Sales tax"))


@pytest.fixture
def germany(settings):
    settings.TAX_PRICES_INCLUDE_TAX = True
    settings.TAX_SELLER_COUNTRY = "DE"
    settings.TAX_SELLER_REGION = ""
    rates(
        ("DE", "", "standard", "19"),
        ("DE", "", "reduced", "7"),
        ("FR", "", "standard", "20"),
        ("FR", "", "reduced", "5.5"),
    )


def test_us_sales_tax_is_added_to_a_net_catalog(us):
    # 2 x 19.99 + 10.00 = 49.98; shipping 5.00 taxed too: 54.98 x 4 % = 2.1992 per line:
    # 39.98 -> 1.60, 10.00 -> 0.40, shipping 0.20 = 2.20.
    lines = [line(1, "19.99", 2), line(2, "10.00")]
    result = price(lines, shipping=D("5.00"), destination=Destination("US", "NY"))
    assert [(x.net, x.tax, x.gross) for x in result.lines] == [
        (D("39.98"), D("1.60"), D("41.58")),
        (D("10.00"), D("0.40"), D("10.40")),
    ]
    assert (result.shipping_net, result.shipping_tax, result.shipping_gross) == (
        D("5.00"),
        D("0.20"),
        D("5.20"),
    )
    assert (result.net, result.tax, result.total) == (D("54.98"), D("2.20"), D("57.18"))
    assert [(r.name, r.percent, r.tax) for r in result.tax_rows] == [
        ("Sales tax", D("4"), D("2.20"))
    ]
    assert not result.prices_include_tax and not result.tax_estimated


def test_without_an_address_the_cart_estimates_for_the_sellers_state(us):
    result = price([line(1, "100.00")])
    assert result.tax_estimated and (result.tax_country, result.tax_region) == ("US", "CA")
    assert result.tax == D("7.25") and result.total == D("107.25")


def test_eu_vat_is_included_and_a_discount_is_spread_over_lines_of_two_rates(germany):
    standard = TaxClassFactory(code="standard")
    reduced = TaxClassFactory(code="reduced")
    CouponFactory(code="TEN", kind="amount", value=D("10.00"))
    shirt = replace(line(1, "119.00"), tax_class_id=standard.pk)
    book = replace(line(2, "21.40"), tax_class_id=reduced.pk)
    result = price([shirt, book], coupon_code="ten", destination=Destination("DE"))
    # 10.00 off 140.40 in proportion: 8.47 and 1.52 rounded down, the cent left to the
    # larger line: 8.48 / 1.52. Left: 110.52 and 19.88.
    shirt_price, book_price = result.lines
    assert (shirt_price.total, book_price.total) == (D("110.52"), D("19.88"))
    # 110.52 x 19/119 = 17.6461 -> 17.65; 19.88 x 7/107 = 1.3006 -> 1.30.
    assert (shirt_price.tax, shirt_price.net) == (D("17.65"), D("92.87"))
    assert (book_price.tax, book_price.net) == (D("1.30"), D("18.58"))
    assert result.total == D("130.40") and result.tax == D("18.95")
    assert [(r.percent, r.tax) for r in result.tax_rows] == [
        (D("19"), D("17.65")),
        (D("7"), D("1.30")),
    ]
    names = dict(TaxClass.objects.values_list("code", "name"))  # as the shop has them
    assert (shirt_price.tax_class, book_price.tax_class) == (names["standard"], names["reduced"])


def test_a_french_consumer_pays_the_same_gross_with_french_vat_in_it(germany):
    standard = TaxClassFactory(code="standard")
    result = price(
        [replace(line(1, "119.00"), tax_class_id=standard.pk)],
        shipping=D("6.00"),
        destination=Destination("FR"),
    )
    # 119.00 x 20/120 = 19.83; shipping (standard class) 6.00 x 20/120 = 1.00.
    assert result.total == D("125.00") and result.tax == D("20.83")
    assert result.shipping_tax == D("1.00") and result.shipping_tax_rate == D("20")


def test_reverse_charge_takes_the_german_vat_out_for_a_french_business(germany):
    standard = TaxClassFactory(code="standard")
    result = price(
        [replace(line(1, "119.00"), tax_class_id=standard.pk)],
        shipping=D("5.95"),
        destination=Destination("FR", vat_number="FR40303265045"),
    )
    # 119.00 / 1.19 = 100.00; shipping 5.95 / 1.19 = 5.00.
    assert result.tax_not_charged == "reverse_charge"
    assert (result.tax, result.tax_removed, result.total) == (D("0.00"), D("19.95"), D("105.00"))
    assert result.lines[0].gross == D("100.00") and result.shipping_gross == D("5.00")


def test_free_shipping_leaves_no_tax_on_shipping(us):
    CouponFactory(code="SHIP", kind="free_shipping", value=D("0"))
    result = price(
        [line(1, "20.00")],
        shipping=D("5.00"),
        coupon_code="ship",
        destination=Destination("US", "CA"),
    )
    assert result.shipping_tax == D("0.00") and result.tax == D("1.45")
    assert result.total == D("21.45")


def test_per_total_rounding_differs_from_per_line_by_a_cent(us, settings):
    lines = [line(i, "0.99") for i in range(1, 4)]
    per_line = price(lines, destination=Destination("US", "CA"))
    settings.TAX_ROUNDING = "total"
    per_total = price(lines, destination=Destination("US", "CA"))
    assert (per_line.tax, per_total.tax) == (D("0.21"), D("0.22"))
    assert sum(x.tax for x in per_total.lines) == per_total.tax


def test_without_rates_nothing_changes():
    result = price([line(1, "10.00", 2)], shipping=D("4.50"))
    assert (result.tax, result.total) == (D("0.00"), D("24.50"))


def test_a_price_reads_the_tax_tables_version_once(us):
    """The table's version is a cache round trip: the rules are made from the table the
    price already holds (every checkout step and place_order prices)."""
    from taxes import selectors as tax_selectors

    price([line(1, "19.99")], destination=Destination("US", "NY"))  # the table held
    with mock.patch.object(tax_selectors, "_version", wraps=tax_selectors._version) as read:
        result = price([line(1, "19.99")], destination=Destination("US", "NY"))
    assert read.call_count == 1
    assert result.tax == D("0.80")
