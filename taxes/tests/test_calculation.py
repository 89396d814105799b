"""The arithmetic of taxes on fixed cases, and its invariants under Hypothesis."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxes.calculation import (
    EXPORT,
    PER_LINE,
    PER_TOTAL,
    REVERSE_CHARGE,
    Item,
    Rate,
    Rules,
    compute,
    split_refund,
)

D = Decimal
VAT19, VAT7 = Rate(D("19"), "VAT"), Rate(D("7"), "VAT")
CA = Rate(D("7.25"), "Sales tax")


def test_sales_tax_is_added_on_top_of_net_prices():
    rules = Rules(prices_include_tax=False, rates={"standard": CA})
    result = compute(items=[Item("a", D("59.97"), "standard")], rules=rules)
    # 59.97 x 7.25 % = 4.3478 -> 4.35
    assert (result.net, result.tax, result.gross) == (D("59.97"), D("4.35"), D("64.32"))
    assert [(r.percent_label, r.tax) for r in result.rows] == [("7.25", D("4.35"))]


def test_vat_is_taken_out_of_gross_prices_at_two_rates():
    rules = Rules(prices_include_tax=True, rates={"standard": VAT19, "reduced": VAT7})
    result = compute(
        items=[Item("shirt", D("119.00"), "standard"), Item("book", D("21.40"), "reduced")],
        rules=rules,
    )
    shirt, book = result.items
    assert (shirt.net, shirt.tax, shirt.gross) == (D("100.00"), D("19.00"), D("119.00"))
    assert (book.net, book.tax, book.gross) == (D("20.00"), D("1.40"), D("21.40"))
    assert result.gross == D("140.40") and result.tax == D("20.40")
    assert [(r.percent, r.tax) for r in result.rows] == [(D("19"), D("19.00")), (D("7"), D("1.40"))]


def test_a_class_without_a_rate_there_is_untaxed_and_exempt_classes_say_so():
    rules = Rules(prices_include_tax=False, rates={"standard": CA, "exempt": Rate(exempt=True)})
    result = compute(
        items=[Item(1, D("10.00"), "reduced"), Item(2, D("10.00"), "exempt")], rules=rules
    )
    assert result.tax == D("0.00") and result.gross == D("20.00")
    assert {r.exempt for r in result.rows} == {False, True}


def test_per_line_and_per_total_rounding_differ_by_a_cent():
    # Three lines of 1.05 incl. 19 % VAT, where the two rules part by a cent.
    items = [Item(i, D("1.05"), "standard") for i in range(3)]
    per_line = compute(items=items, rules=Rules(prices_include_tax=True, rates={"standard": VAT19}))
    per_total = compute(
        items=items,
        rules=Rules(prices_include_tax=True, rates={"standard": VAT19}, rounding=PER_TOTAL),
    )
    # 1.05 x 19/119 = 0.16765 -> 0.17 per line, 0.51 in all; per total 0.50294 -> 0.50.
    assert per_line.tax == D("0.51")
    assert per_total.tax == D("0.50")
    assert sorted(item.tax for item in per_total.items) == [D("0.16"), D("0.17"), D("0.17")]
    assert per_line.gross == per_total.gross == D("3.15")


def test_excluded_tax_rounding_per_total_on_us_sales_tax():
    items = [Item(i, D("0.99"), "standard") for i in range(3)]
    line = compute(items=items, rules=Rules(prices_include_tax=False, rates={"standard": CA}))
    total = compute(
        items=items,
        rules=Rules(prices_include_tax=False, rates={"standard": CA}, rounding=PER_TOTAL),
    )
    # 0.99 x 7.25 % = 0.0718 -> 0.07 each = 0.21; the total 0.2153 -> 0.22.
    assert (line.tax, total.tax) == (D("0.21"), D("0.22"))
    assert (line.gross, total.gross) == (D("3.18"), D("3.19"))


def test_reverse_charge_takes_the_home_vat_out_of_gross_prices():
    rules = Rules(
        prices_include_tax=True,
        rates={"standard": Rate(D("20"), "VAT")},
        not_charged=REVERSE_CHARGE,
        home_rates={"standard": VAT19},
    )
    result = compute(items=[Item("a", D("119.00"), "standard")], rules=rules)
    assert (result.net, result.tax, result.gross, result.removed) == (
        D("100.00"),
        D("0.00"),
        D("100.00"),
        D("19.00"),
    )
    assert result.not_charged == REVERSE_CHARGE


def test_exports_from_a_net_price_shop_pay_no_tax():
    rules = Rules(prices_include_tax=False, not_charged=EXPORT)
    result = compute(items=[Item("a", D("50.00"), "standard")], rules=rules)
    assert (result.tax, result.gross, result.removed) == (D("0.00"), D("50.00"), D("0.00"))


def test_yen_rounds_to_whole_units():
    rules = Rules(prices_include_tax=True, rates={"standard": Rate(D("10"))}, minor_units=0)
    result = compute(items=[Item("a", D("1000"), "standard")], rules=rules)
    assert (result.net, result.tax) == (D("909"), D("91"))


# --- Invariants -----------------------------------------------------------------------------

amounts = st.decimals(min_value=D("0"), max_value=D("5000"), places=2)
percents = st.sampled_from(
    [D("0"), D("4"), D("5.5"), D("7"), D("7.25"), D("13"), D("19"), D("25.5")]
)
classes = st.sampled_from(["standard", "reduced", "zero", "exempt"])


@st.composite
def cases(draw):
    rates = {
        "standard": Rate(draw(percents), "VAT"),
        "reduced": Rate(draw(percents), "VAT"),
        "exempt": Rate(exempt=True),
    }
    not_charged = draw(st.sampled_from(["", "", REVERSE_CHARGE, EXPORT]))
    rules = Rules(
        prices_include_tax=draw(st.booleans()),
        rates=rates,
        rounding=draw(st.sampled_from([PER_LINE, PER_TOTAL])),
        not_charged=not_charged,
        home_rates={"standard": Rate(draw(percents)), "reduced": Rate(draw(percents))},
    )
    items = [
        Item(i, amount, tax_class)
        for i, (amount, tax_class) in enumerate(
            draw(st.lists(st.tuples(amounts, classes), min_size=1, max_size=12))
        )
    ]
    return items, rules


@settings(max_examples=300, deadline=None)
@given(cases())
def test_net_plus_tax_is_gross_everywhere_and_tax_never_negative(case):
    items, rules = case
    result = compute(items=items, rules=rules)
    for item in result.items:
        assert item.net + item.tax == item.gross
        assert item.tax >= 0 and item.net >= 0 and item.removed >= 0
    for row in result.rows:
        assert row.net + row.tax == row.gross and row.tax >= 0
    assert result.net + result.tax == result.gross
    # The sum of line taxes is the tax lines of the total.
    assert sum((item.tax for item in result.items), D(0)) == result.tax
    assert sum((row.tax for row in result.rows), D(0)) == result.tax
    assert sum((row.net for row in result.rows), D(0)) == result.net
    # What the catalog said is what was taxed: gross (+ removed) or net.
    for item, taxed in zip(items, result.items, strict=True):
        if rules.prices_include_tax:
            assert taxed.gross + taxed.removed == item.amount
        else:
            assert taxed.net == item.amount


@settings(max_examples=200, deadline=None)
@given(cases())
def test_per_total_rounding_is_within_a_unit_per_rate_of_the_exact_tax(case):
    items, rules = case
    if rules.not_charged:
        return
    result = compute(items=items, rules=Rules(**{**rules.__dict__, "rounding": PER_TOTAL}))
    for row in result.rows:
        pct = row.percent
        members = [i for i in items if rules.rates.get(i.tax_class, Rate()).percent == pct]
        base = sum((i.amount for i in members), D(0))
        exact = base * pct / ((100 + pct) if rules.prices_include_tax else 100)
        assert abs(row.tax - exact) <= D("0.005") * len(
            {rules.rates.get(i.tax_class, Rate()) for i in members}
        )


# --- Refunds by line ------------------------------------------------------------------------


def test_a_partial_refund_gives_back_its_share_of_the_tax():
    # 3 units: gross 119.00 = net 100.00 + tax 19.00; refund 1 unit.
    one = split_refund(net=D("100.00"), tax=D("19.00"), gross=D("119.00"), units=1, quantity=3)
    assert (one.gross, one.tax, one.net) == (D("39.67"), D("6.33"), D("33.34"))
    rest = split_refund(
        net=D("100.00"),
        tax=D("19.00"),
        gross=D("119.00"),
        units=2,
        quantity=3,
        units_refunded_before=1,
    )
    assert one.tax + rest.tax == D("19.00") and one.gross + rest.gross == D("119.00")


def test_refunding_more_units_than_the_line_holds_is_refused():
    with pytest.raises(ValueError):
        split_refund(
            net=D("1"), tax=D("0"), gross=D("1"), units=2, quantity=2, units_refunded_before=1
        )


@settings(max_examples=300, deadline=None)
@given(
    gross=st.decimals(min_value=D("0"), max_value=D("10000"), places=2),
    percent=percents,
    quantity=st.integers(min_value=1, max_value=20),
    data=st.data(),
)
def test_refunding_every_unit_in_any_steps_gives_back_exactly_the_tax(
    gross, percent, quantity, data
):
    tax = (gross * percent / (100 + percent)).quantize(D("0.01"))
    net = gross - tax
    steps = []
    left = quantity
    while left:
        step = data.draw(st.integers(min_value=1, max_value=left))
        steps.append(step)
        left -= step
    before, back_tax, back_gross = 0, D(0), D(0)
    for units in steps:
        part = split_refund(
            net=net,
            tax=tax,
            gross=gross,
            units=units,
            quantity=quantity,
            units_refunded_before=before,
        )
        assert part.net + part.tax == part.gross and part.tax >= 0 and part.net >= 0
        back_tax += part.tax
        back_gross += part.gross
        before += units
    assert (back_tax, back_gross) == (tax, gross)


def test_a_tiny_line_refunded_unit_by_unit_never_gives_a_negative_net():
    # 0.12 incl. 19 % (0.02 tax) over 18 units: some units give back nothing, none gives
    # back tax without its gross.
    back = []
    for before in range(18):
        part = split_refund(
            net=D("0.10"), tax=D("0.02"), gross=D("0.12"), units=1, quantity=18,
            units_refunded_before=before,
        )  # fmt: skip
        assert part.net >= 0 and part.tax >= 0 and part.tax <= part.gross
        back.append(part)
    assert sum(p.tax for p in back) == D("0.02") and sum(p.gross for p in back) == D("0.12")
