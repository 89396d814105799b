"""The arithmetic of points (promotions.points) as properties over any ledger and any order."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from promotions import points
from promotions.calculator import calculate
from promotions.pricing import LineInput

START = datetime(2026, 1, 1, tzinfo=UTC)

money = st.decimals(min_value=Decimal("0.00"), max_value=Decimal("5000.00"), places=2)
value_per_point = st.sampled_from(
    [Decimal("0.01"), Decimal("0.003"), Decimal("0.05"), Decimal("1"), Decimal("0.07")]
)
share = st.decimals(min_value=Decimal("0"), max_value=Decimal("100"), places=2)
expiry = st.one_of(st.none(), st.integers(min_value=0, max_value=800))
entry = st.tuples(st.integers(min_value=-500, max_value=500).filter(bool), expiry)


@given(
    wanted=st.integers(min_value=-10, max_value=10**7),
    balance=st.integers(min_value=-10, max_value=10**7),
    base=money,
    per_point=value_per_point,
    max_share=share,
)
@settings(max_examples=300)
def test_a_redemption_never_exceeds_the_points_held_asked_or_the_cap(
    wanted, balance, base, per_point, max_share
):
    spent = points.redemption(
        wanted=wanted, balance=balance, base=base, value_per_point=per_point, max_share=max_share
    )
    assert 0 <= spent.points <= max(0, min(wanted, balance))
    assert spent.value >= 0
    # Never more money than the cap, and never money the points are not worth.
    assert spent.value <= base * max_share / 100
    assert spent.value <= spent.points * per_point
    assert spent.value == spent.value.quantize(Decimal("0.01"))
    # No point spent on a fraction rounded away: one point fewer would not pay the value.
    if spent.points:
        assert (spent.points - 1) * per_point < spent.value
    else:
        assert spent.value == 0


@given(
    prices=st.lists(
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999.99"), places=2),
        min_size=1,
        max_size=6,
    ),
    wanted=st.integers(min_value=0, max_value=10**6),
)
def test_points_come_off_the_lines_and_are_shown_as_their_own_line(prices, wanted):
    lines = [
        LineInput(key=i, variant_id=i, product_id=i, category_path="/1/", unit_price=p, quantity=1)
        for i, p in enumerate(prices)
    ]
    before = calculate(lines=lines, shipping=Decimal("5.00"), rules=[])
    spent = points.redemption(
        wanted=wanted,
        balance=10**6,
        base=sum(line.total for line in before.lines),
        value_per_point=Decimal("0.01"),
        max_share=Decimal("50"),
    )
    after = points.apply_redemption(before, spent)
    assert after.total == before.total - spent.value
    assert after.discount == before.discount + spent.value
    assert all(line.total >= 0 for line in after.lines)
    assert sum(b.total - a.total for b, a in zip(before.lines, after.lines, strict=True)) == (
        spent.value
    )
    assert after.points_used == spent.points
    shown = [applied for applied in after.applied if applied.kind == points.POINTS]
    assert [a.amount for a in shown] == ([spent.value] if spent.points else [])


@given(st.lists(entry, max_size=40), st.integers(min_value=0, max_value=900))
@settings(max_examples=300)
def test_open_lots_hold_exactly_the_balance_and_expire_oldest_first(entries, days):
    """Whatever the ledger, what is left of the earnings adds up to its sum (when that is
    not negative) and spending never takes from a later-expiring lot before a sooner one."""
    movements = [
        points.Movement(
            amount=amount,
            expires_at=None if amount < 0 or offset is None else START + timedelta(days=offset),
        )
        for amount, offset in entries
    ]
    balance = sum(m.amount for m in movements)
    lots = points.open_lots(movements)
    assert all(lot.remaining > 0 for lot in lots)
    assert sum(lot.remaining for lot in lots) == max(balance, 0)
    dated = [lot.expires_at for lot in lots if lot.expires_at]
    assert dated == sorted(dated)
    now = START + timedelta(days=days)
    due = points.expired_by(lots, now=now)
    assert 0 <= due <= max(balance, 0)
    # Writing the expiry off leaves nothing expired, and doing it again expires nothing.
    after = points.open_lots([*movements, points.Movement(amount=-due)] if due else movements)
    assert points.expired_by(after, now=now) == 0


@given(
    spent=st.integers(min_value=0, max_value=10**6),
    paid=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999.99"), places=2),
    cuts=st.lists(st.integers(min_value=1, max_value=100), min_size=1, max_size=6),
)
def test_refunds_give_back_points_in_proportion_and_all_of_them_in_the_end(spent, paid, cuts):
    """Refunded in steps, each step gives back its share rounded down, cumulatively: never
    more than spent, never less than the share minus one point, all once all is refunded."""
    total = sum(cuts)
    refunded = Decimal(0)
    given_back = 0
    for cut in cuts:
        refunded = min(paid, refunded + (paid * cut / total).quantize(Decimal("0.01")))
        due = points.share_of(spent, part=refunded, whole=paid)
        assert due >= given_back  # a later refund never takes back what was given
        given_back = due
        assert given_back <= spent
        assert spent * refunded / paid - 1 < given_back <= spent * refunded / paid
    assert points.share_of(spent, part=paid, whole=paid) == spent


@given(
    paid=money,
    per_unit=st.decimals(min_value=Decimal("0"), max_value=Decimal("10"), places=2),
    multiplier=st.decimals(min_value=Decimal("0"), max_value=Decimal("5"), places=2),
)
def test_earning_is_rounded_down_and_never_negative(paid, per_unit, multiplier):
    earned = points.points_earned(paid=paid, per_unit=per_unit, multiplier=multiplier)
    assert 0 <= earned <= paid * per_unit * multiplier < earned + 1
