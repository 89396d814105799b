"""The arithmetic of discounts, with no database: rules in, line prices out.

services.price_cart() loads the promotions that apply into `Rule`s and calls `calculate()`;
keeping the arithmetic pure lets property tests throw any combination at it.

How promotions combine:

* Every promotion has a `stacks` flag. Of those that do not stack, the shopper gets the
  single one that gives the most; those that stack all apply on top. Every choice is
  tried and the one with the largest total discount (shipping discount included) wins;
  on a tie an entered coupon wins (the shopper chose it), then the earlier promotion.
* Running sales count together as one promotion: each line gets its best sale.
* Promotions apply in a fixed order whatever was chosen: sales per unit first (so a line's
  price is the sale price shown on the product page), then spend offers, the membership
  tier and the coupon on what is left of the lines they cover, then free shipping.
* Amounts round to the shop currency's minor unit (shop.money: the cent for USD, the whole
  yen for JPY, the fils for KWD), half up. An order-level discount is spread over the lines
  it covers in proportion to what is left of them, rounded down to the minor unit, with the
  remaining units on the largest lines, so every line's total is right for a refund.
* A line at a flash sale's or a group buy's price (`LineInput.final_price`) is covered by
  no promotion: those prices are final.
* No discount takes a line below zero, so the discount never exceeds the subtotal and the
  total is never negative.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from promotions.pricing import (
    ZERO,
    AppliedPromotion,
    CartPrice,
    LineInput,
    LinePrice,
)
from shop.money import quantize, smallest_unit

HUNDRED = Decimal(100)

SALE = "sale"  # percent off every unit of the lines covered
PERCENT = "percent"  # percent off what is left of the lines covered
AMOUNT = "amount"  # an amount off the lines covered, at most what is left of them
FREE_SHIPPING = "free_shipping"

#: The order in which kinds of promotion apply, and on ties, which wins.
STAGES = ("sale", "offer", "tier", "coupon")


def category_ids(category_path: str) -> set[int]:
    return {int(part) for part in category_path.strip("/").split("/") if part}


@dataclass(frozen=True)
class Scope:
    """What a promotion covers: everything when both sets are empty."""

    product_ids: frozenset[int] = frozenset()
    category_ids: frozenset[int] = frozenset()

    @property
    def everything(self) -> bool:
        return not self.product_ids and not self.category_ids

    def covers(self, line: LineInput) -> bool:
        if line.final_price:
            return False
        if self.everything or line.product_id in self.product_ids:
            return True
        return bool(self.category_ids & category_ids(line.category_path))


@dataclass(frozen=True)
class Rule:
    """One promotion as the arithmetic sees it."""

    source: str  #: "offer:3", "tier:1", "coupon:7"
    name: str
    kind: str  #: SALE, PERCENT, AMOUNT or FREE_SHIPPING
    value: Decimal  #: the percent, or the amount
    stacks: bool
    stage: str  #: one of STAGES
    scope: Scope = field(default_factory=Scope)
    code: str = ""

    @property
    def is_coupon(self) -> bool:
        return self.stage == "coupon"


@dataclass
class _State:
    units: list[Decimal]  # what one unit of each line costs after sales
    left: list[Decimal]  # what is left of each line
    shipping_discount: Decimal = ZERO
    amounts: dict[str, Decimal] = field(default_factory=dict)
    used: list[Rule] = field(default_factory=list)

    @property
    def discount(self) -> Decimal:
        return sum(self.amounts.values(), ZERO)


def line_subtotal(line: LineInput) -> Decimal:
    return quantize(line.unit_price * line.quantity)


def distribute(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split `amount` (at most sum(weights)) over the weights in proportion, to the shop
    currency's minor unit: each share rounded down, the remaining units to the largest
    weights first. `amount` and the weights are whole minor units (quantize() made them)."""
    total = sum(weights, ZERO)
    if amount <= 0 or total <= 0:
        return [ZERO for _ in weights]
    amount = min(amount, total)
    unit = smallest_unit()
    shares = [min(w, (amount * w / total).quantize(unit, rounding=ROUND_DOWN)) for w in weights]
    remainder = amount - sum(shares, ZERO)
    # Rounding down loses less than one unit per line, so one pass of one unit each, largest
    # first, places the remainder; the loop goes round again only for odd inputs.
    largest_first = sorted(range(len(weights)), key=lambda i: (-weights[i], i))
    while remainder > 0:
        placed = ZERO
        for i in largest_first:
            take = min(weights[i] - shares[i], unit, remainder - placed)
            if take > 0:
                shares[i] += take
                placed += take
        if placed <= 0:
            break
        remainder -= placed
    return shares


def sale_unit_price(unit_price: Decimal, percents: Sequence[Decimal]) -> Decimal:
    """A unit's price after sales applied one after the other (what product pages show)."""
    unit = quantize(unit_price)
    for percent in percents:
        unit -= min(unit, quantize(unit * percent / HUNDRED))
    return unit


def _apply_sales(state: _State, lines: Sequence[LineInput], sales: Sequence[Rule], best_only):
    for i, line in enumerate(lines):
        covering = [rule for rule in sales if rule.scope.covers(line)]
        if not covering:
            continue
        if best_only:
            covering = [max(covering, key=lambda rule: rule.value)]  # first of equals
        for rule in covering:
            unit_off = min(state.units[i], quantize(state.units[i] * rule.value / HUNDRED))
            off = min(state.left[i], unit_off * line.quantity)
            state.units[i] -= unit_off
            state.left[i] -= off
            _add(state, rule, off)


def _apply_order_rule(state: _State, lines, rule: Rule, shipping: Decimal | None):
    if rule.kind == FREE_SHIPPING:
        off = ZERO if shipping is None else shipping - state.shipping_discount
        state.shipping_discount += off
        _add(state, rule, off)
        return
    covered = [i for i, line in enumerate(lines) if rule.scope.covers(line)]
    base = sum((state.left[i] for i in covered), ZERO)
    percent_off = rule.kind == PERCENT
    amount = quantize(base * rule.value / HUNDRED) if percent_off else quantize(rule.value)
    shares = distribute(min(amount, base), [state.left[i] for i in covered])
    for i, share in zip(covered, shares, strict=True):
        state.left[i] -= share
    _add(state, rule, sum(shares, ZERO))


def _add(state: _State, rule: Rule, amount: Decimal) -> None:
    if rule not in state.used:
        state.used.append(rule)
        state.amounts[rule.source] = ZERO
    state.amounts[rule.source] += amount


def _run(lines, shipping, rules: Sequence[Rule], sales_best_only: Sequence[Rule]) -> _State:
    state = _State(
        # Whole minor units from the start, so what sales take off is whole units too (a
        # price kept with cents in a shop in yen is charged in whole yen).
        units=[quantize(line.unit_price) for line in lines],
        left=[line_subtotal(x) for x in lines],
    )
    _apply_sales(state, lines, sales_best_only, best_only=True)
    _apply_sales(state, lines, [r for r in rules if r.stage == "sale"], best_only=False)
    for rule in rules:
        if rule.stage != "sale":
            _apply_order_rule(state, lines, rule, shipping)
    return state


def calculate(
    *, lines: Sequence[LineInput], shipping: Decimal | None, rules: Sequence[Rule]
) -> CartPrice:
    """Price `lines` with `rules` (see the module's docstring for how they combine).

    A coupon that lost to a better non-stacking promotion is not in `applied` and leaves
    `coupon_code` empty.
    """
    order = {stage: n for n, stage in enumerate(STAGES)}
    rules = sorted(rules, key=lambda rule: order[rule.stage])  # stable: keeps pk order
    exclusive_sales = [rule for rule in rules if not rule.stacks and rule.stage == "sale"]
    choices: list[tuple[Rule | None, list[Rule]]] = [(None, [])]
    if exclusive_sales:
        choices.append((exclusive_sales[0], exclusive_sales))
    choices += [(rule, []) for rule in rules if not rule.stacks and rule.stage != "sale"]

    best = None
    for chosen, sales in choices:
        applied = [r for r in rules if r.stacks or (r is chosen and r.stage != "sale")]
        state = _run(lines, shipping, applied, sales)
        score = (state.discount + state.shipping_discount, bool(chosen and chosen.is_coupon))
        if best is None or score > best[0]:
            best = (score, chosen, state)
    return _price(lines, shipping, best[2])


def _price(lines, shipping, state: _State) -> CartPrice:
    priced = []
    for i, line in enumerate(lines):
        subtotal = line_subtotal(line)
        priced.append(
            LinePrice(
                key=line.key,
                unit_price=line.unit_price,
                quantity=line.quantity,
                subtotal=subtotal,
                discount=subtotal - state.left[i],
                total=state.left[i],
            )
        )
    subtotal = sum((line.subtotal for line in priced), ZERO)
    discount = sum((line.discount for line in priced), ZERO)
    applied = tuple(
        AppliedPromotion(
            name=rule.name,
            amount=state.amounts[rule.source],
            kind="line"
            if rule.stage == "sale"
            else "shipping"
            if rule.kind == FREE_SHIPPING
            else "order",
            code=rule.code,
            source=rule.source,
        )
        for rule in state.used
        if state.amounts[rule.source] > 0 or rule.is_coupon
    )
    coupon = next((rule for rule in state.used if rule.is_coupon), None)
    total = sum((line.total for line in priced), ZERO) + (shipping or ZERO)
    return CartPrice(
        lines=tuple(priced),
        subtotal=subtotal,
        discount=discount,
        shipping=shipping,
        shipping_discount=state.shipping_discount,
        total=total - state.shipping_discount,
        applied=applied,
        coupon_code=coupon.code if coupon else "",
    )
