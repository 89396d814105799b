"""The arithmetic, without a database: rounding, spreading, combining, and properties."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promotions.calculator import (
    AMOUNT,
    FREE_SHIPPING,
    PERCENT,
    SALE,
    Rule,
    Scope,
    calculate,
    distribute,
    sale_unit_price,
)
from promotions.pricing import ZERO
from promotions.tests.helpers import line

D = Decimal


def rule(kind, value, *, stage=None, stacks=False, source=None, scope=None, code=""):
    stage = stage or {SALE: "sale"}.get(kind, "coupon" if code else "offer")
    return Rule(
        source=source or f"{stage}:{value}:{kind}",
        name=f"{kind} {value}",
        kind=kind,
        value=D(value),
        stacks=stacks,
        stage=stage,
        scope=scope or Scope(),
        code=code,
    )


def test_distribute_rounds_down_and_gives_the_remaining_cents_to_the_largest_line():
    assert distribute(D("10.00"), [D("10.00"), D("20.00"), D("30.00")]) == [
        D("1.66"),
        D("3.33"),
        D("5.01"),
    ]


def test_distribute_never_gives_a_line_more_than_it_has():
    assert distribute(D("100.00"), [D("0.01"), D("5.00")]) == [D("0.01"), D("5.00")]


def test_percent_off_rounds_to_the_cent_half_up():
    # 15% of 9.99 is 1.4985: 1.50 off, not 1.49.
    price = calculate(
        lines=[line(price="3.33", quantity=3)], shipping=None, rules=[rule(PERCENT, "15")]
    )
    assert (price.subtotal, price.discount, price.total) == (D("9.99"), D("1.50"), D("8.49"))


def test_half_a_cent_rounds_up():
    # 10% of 0.05 is 0.005: one cent off.
    price = calculate(lines=[line(price="0.05")], shipping=None, rules=[rule(PERCENT, "10")])
    assert price.discount == D("0.01")


def test_sale_is_per_unit_so_line_total_is_quantity_times_the_shown_sale_price():
    # 15% of 3.33 is 0.4995 -> 0.50 off each unit: 2.83 each, 8.49 for three.
    assert sale_unit_price(D("3.33"), [D("15")]) == D("2.83")
    price = calculate(
        lines=[line(price="3.33", quantity=3)], shipping=None, rules=[rule(SALE, "15")]
    )
    assert price.lines[0].total == D("8.49") == 3 * D("2.83")
    assert price.applied[0].kind == "line"


def test_order_discount_is_spread_over_lines_so_line_totals_add_up():
    lines = [line(1, "10.00"), line(2, "20.00"), line(3, "30.00")]
    price = calculate(lines=lines, shipping=D("5.00"), rules=[rule(AMOUNT, "10")])
    assert [x.discount for x in price.lines] == [D("1.66"), D("3.33"), D("5.01")]
    assert [x.total for x in price.lines] == [D("8.34"), D("16.67"), D("24.99")]
    assert price.total == D("55.00") == sum(x.total for x in price.lines) + D("5.00")


def test_best_single_non_stacking_discount_wins():
    lines = [line(price="100.00")]
    price = calculate(lines=lines, shipping=None, rules=[rule(AMOUNT, "15"), rule(PERCENT, "10")])
    assert price.discount == D("15.00")
    assert [a.name for a in price.applied] == ["amount 15"]


def test_stacking_promotions_add_on_top_of_the_best_one_in_order():
    # Sale 10% first (100 -> 90), then a stacking 10% coupon on what is left (9 more).
    lines = [line(price="100.00")]
    rules = [rule(SALE, "10"), rule(PERCENT, "10", stacks=True, code="EXTRA")]
    price = calculate(lines=lines, shipping=None, rules=rules)
    assert price.discount == D("19.00")
    assert price.coupon_code == "EXTRA"


def test_a_coupon_that_loses_to_a_better_offer_is_not_applied():
    lines = [line(price="100.00")]
    rules = [rule(AMOUNT, "30"), rule(PERCENT, "10", code="TEN")]
    price = calculate(lines=lines, shipping=None, rules=rules)
    assert price.discount == D("30.00") and price.coupon_code == ""


def test_on_a_tie_the_entered_coupon_wins():
    lines = [line(price="100.00")]
    price = calculate(
        lines=lines, shipping=None, rules=[rule(AMOUNT, "10"), rule(PERCENT, "10", code="TEN")]
    )
    assert price.coupon_code == "TEN" and price.discount == D("10.00")


def test_free_shipping_zeroes_shipping_and_counts_as_a_discount_when_choosing():
    lines = [line(price="100.00")]
    rules = [rule(AMOUNT, "5"), rule(FREE_SHIPPING, "0", code="SHIP")]
    price = calculate(lines=lines, shipping=D("8.00"), rules=rules)
    assert (price.shipping_discount, price.discount, price.total) == (D("8.00"), ZERO, D("100.00"))
    assert price.applied[0].kind == "shipping"


def test_free_shipping_before_shipping_is_chosen_is_applied_with_nothing_off_yet():
    price = calculate(lines=[line()], shipping=None, rules=[rule(FREE_SHIPPING, "0", code="SHIP")])
    assert price.coupon_code == "SHIP" and price.applied[0].amount == ZERO


def test_each_line_gets_its_best_sale_and_sales_count_as_one_discount():
    shoes = Scope(category_ids=frozenset({7}))
    shirts = Scope(category_ids=frozenset({8}))
    lines = [line(1, "100.00", category_path="/7/"), line(2, "50.00", category_path="/3/8/")]
    rules = [
        rule(SALE, "20", scope=shoes, source="offer:1"),
        rule(SALE, "10", scope=shirts, source="offer:2"),
        rule(SALE, "5", source="offer:3"),
    ]
    price = calculate(lines=lines, shipping=None, rules=rules)
    assert [x.total for x in price.lines] == [D("80.00"), D("45.00")]


def test_a_scoped_promotion_only_touches_the_lines_it_covers():
    scope = Scope(product_ids=frozenset({2}))
    lines = [line(1, "10.00"), line(2, "20.00")]
    price = calculate(lines=lines, shipping=None, rules=[rule(AMOUNT, "50", scope=scope)])
    assert [x.total for x in price.lines] == [D("10.00"), ZERO]


# --- Properties ------------------------------------------------------------------------

money = st.decimals(min_value=D("0.00"), max_value=D("2000.00"), places=2)
percent = st.decimals(min_value=D("0.00"), max_value=D("100.00"), places=2)
scopes = st.builds(
    Scope,
    product_ids=st.frozensets(st.integers(1, 4), max_size=2),
    category_ids=st.frozensets(st.integers(1, 4), max_size=2),
)


@st.composite
def rules_strategy(draw):
    found = []
    for n in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from([SALE, PERCENT, AMOUNT, FREE_SHIPPING]))
        value = draw(percent if kind in (SALE, PERCENT) else money)
        stage = "sale" if kind == SALE else draw(st.sampled_from(["offer", "tier", "coupon"]))
        found.append(
            Rule(
                source=f"{stage}:{n}",
                name=str(n),
                kind=kind,
                value=value,
                stacks=draw(st.booleans()),
                stage=stage,
                scope=draw(scopes),
                code=f"C{n}" if stage == "coupon" else "",
            )
        )
    return found


lines_strategy = st.lists(
    st.builds(
        line,
        key=st.integers(1, 4),
        price=money.map(str),
        quantity=st.integers(1, 20),
        category_path=st.sampled_from(["/1/", "/1/2/", "/3/", "/3/4/"]),
    ),
    max_size=5,
)


@settings(max_examples=400, deadline=None)
@given(lines=lines_strategy, rules=rules_strategy(), shipping=st.none() | money)
def test_no_combination_gives_a_negative_total_or_a_discount_above_the_subtotal(
    lines, rules, shipping
):
    price = calculate(lines=lines, shipping=shipping, rules=rules)
    assert price.total >= 0
    assert 0 <= price.discount <= price.subtotal
    assert 0 <= price.shipping_discount <= (shipping or ZERO)
    for x in price.lines:
        assert 0 <= x.total <= x.subtotal and x.subtotal - x.discount == x.total
        assert x.total == x.total.quantize(D("0.01"))
    assert (
        sum((x.total for x in price.lines), ZERO) + (shipping or ZERO) - (price.shipping_discount)
        == price.total
    )
    assert sum((a.amount for a in price.applied if a.kind != "shipping"), ZERO) == price.discount


@settings(max_examples=200, deadline=None)
@given(lines=lines_strategy, rules=rules_strategy(), shipping=st.none() | money)
def test_promotions_never_cost_the_shopper_more_than_no_promotion(lines, rules, shipping):
    without = calculate(lines=lines, shipping=shipping, rules=[])
    assert calculate(lines=lines, shipping=shipping, rules=rules).total <= without.total


# --- Currencies with 0 and 3 decimals ---------------------------------------------------


def test_format_money_shows_the_currencys_own_decimals(settings):
    from promotions.pricing import format_money

    settings.SHOP_CURRENCY = "USD"
    assert format_money(D("1234.5")) == "$1,234.50"
    settings.SHOP_CURRENCY = "JPY"
    assert format_money(D("1234.5")) == "¥1,235"
    assert format_money(D("-500")) == "-¥500"
    settings.SHOP_CURRENCY = "KWD"
    assert format_money(D("1.5")) == "KWD1.500"  # what CLDR writes in en_US


def test_in_yen_every_amount_is_whole_yen(settings):
    settings.SHOP_CURRENCY = "JPY"
    # 15% of ¥999 is 149.85: ¥150 off (rounding to the cent gave ¥149.85).
    price = calculate(
        lines=[line(price="333", quantity=3)], shipping=None, rules=[rule(PERCENT, "15")]
    )
    assert (price.subtotal, price.discount, price.total) == (D("999"), D("150"), D("849"))
    # A price kept with cents is charged in whole yen, sales included.
    price = calculate(lines=[line(price="20.52")], shipping=None, rules=[rule(SALE, "99.91")])
    assert (price.subtotal, price.total) == (D("21"), D("0"))
    assert sale_unit_price(D("20.52"), [D("10")]) == D("19")
    assert distribute(D("10"), [D("10"), D("10"), D("10")]) == [D("4"), D("3"), D("3")]


def test_the_remaining_units_are_spread_one_each_over_the_largest_lines(settings):
    settings.SHOP_CURRENCY = "JPY"
    # Shares of 2/3 round down to 0: two yen left, one each to the first two of the largest
    # lines (the whole remainder on one line would be out of proportion).
    assert distribute(D("2"), [D("3"), D("3"), D("3")]) == [D("1"), D("1"), D("0")]
    assert distribute(D("4"), [D("1"), D("3"), D("3"), D("1")]) == [
        D("0"),
        D("2"),
        D("2"),
        D("0"),
    ]
    settings.SHOP_CURRENCY = "KWD"
    assert distribute(D("0.010"), [D("1.000"), D("1.000"), D("1.000")]) == [
        D("0.004"),
        D("0.003"),
        D("0.003"),
    ]


@pytest.mark.parametrize(("currency", "places"), [("JPY", 0), ("KWD", 3)])
@settings(max_examples=150, deadline=None)
@given(lines=lines_strategy, rules=rules_strategy(), shipping=st.none() | money)
def test_totals_are_whole_minor_units_and_add_up_in_any_currency(
    currency, places, lines, rules, shipping
):
    from django.test import override_settings

    unit = D(1).scaleb(-places)
    with override_settings(SHOP_CURRENCY=currency):
        price = calculate(lines=lines, shipping=shipping, rules=rules)
    for x in price.lines:
        assert x.total == x.total.quantize(unit) and x.discount == x.discount.quantize(unit)
        assert 0 <= x.total <= x.subtotal and x.subtotal - x.discount == x.total
    assert 0 <= price.discount <= price.subtotal
    assert price.discount == price.discount.quantize(unit)
    assert sum((a.amount for a in price.applied if a.kind != "shipping"), ZERO) == price.discount
