"""The arithmetic of taxes, with no database: items and rules in, taxed items out.

promotions.services.price_cart() prices the lines with every discount first, then hands
each line's amount (and shipping's) to `compute()` with the rules of the destination that
taxes.selectors.rules_for() read. Keeping the arithmetic pure lets property tests throw any
combination at it, as promotions/calculator.py does for discounts.

The rules, in the words a merchant would use:

* Prices are entered with tax (EU, UK, China, Australia) or without it (US, Canada).
* With tax: a catalog price is what the shopper pays wherever tax is charged; the tax in it
  is worked out at the destination's rate (gross x rate / (100 + rate)), so a shopper in
  France and one in Germany pay the same price with a different VAT in it. Where no tax is
  charged (reverse charge for an EU business, or a country the merchant collects no tax in:
  an export), the shopper pays the price less the tax of the seller's own country, which
  the price contained (`removed`).
* Without tax: the tax is added on top (net x rate / 100); nothing is charged where no tax is.
* Tax is worked out on what is left of a line after every discount, and on shipping.
* Rounding, half up to the currency's minor unit, is done per line, or per total: the
  tax of all items at one rate is rounded once and spread back over them (each gets its
  share rounded down, the remaining units going to the largest remainders), so every line
  still knows its own tax for a refund and line taxes always add up to the totals by rate.
* net + tax = gross on every item, every row and the total; no tax is ever negative.
"""

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from taxes.money import round_to

HUNDRED = Decimal(100)
ZERO = Decimal("0.00")

#: Tax rounded on each line, or once per rate on the total (a merchant setting).
PER_LINE = "line"
PER_TOTAL = "total"

#: Why no tax was charged.
REVERSE_CHARGE = "reverse_charge"
EXPORT = "export"


@dataclass(frozen=True)
class Rate:
    """A rate as a shopper reads it on an invoice: "VAT 19 %"."""

    percent: Decimal = ZERO
    #: The tax's name as the merchant entered it ("VAT", "Sales tax"); empty: generic.
    name: str = ""
    #: Exempt supplies are outside the tax (an invoice says so), zero-rated ones at 0 %.
    exempt: bool = False


NO_TAX = Rate()


@dataclass(frozen=True)
class Rules:
    """How to tax one cart for one destination."""

    prices_include_tax: bool
    #: The destination's rate for each tax class code; a class left out is taxed at 0 %.
    rates: Mapping[str, Rate] = field(default_factory=dict)
    rounding: str = PER_LINE
    #: Decimals of the currency (2 for USD and EUR, 0 for JPY).
    minor_units: int = 2
    #: Empty while tax is charged; else why not (REVERSE_CHARGE or EXPORT).
    not_charged: str = ""
    #: With prices entered with tax: the rate each class has in the seller's own country,
    #: which the prices contain, taken out when no tax is charged.
    home_rates: Mapping[str, Rate] = field(default_factory=dict)


@dataclass(frozen=True)
class Item:
    """Something to tax: a line after its discounts, or shipping after its discount."""

    key: Hashable
    #: What the catalog says it costs, after discounts: gross when prices are entered with
    #: tax, else net. Never negative.
    amount: Decimal
    #: The tax class's code ("standard", "reduced", ...).
    tax_class: str


@dataclass(frozen=True)
class TaxedItem:
    key: Hashable
    tax_class: str
    rate: Rate
    net: Decimal
    tax: Decimal
    gross: Decimal
    #: With prices entered with tax and no tax charged: the seller's tax taken out of the
    #: price (amount = gross + removed). Zero otherwise.
    removed: Decimal = ZERO


@dataclass(frozen=True)
class TaxRow:
    """The total of one rate, as invoices show it: "VAT 19 %: net 100.00, tax 19.00"."""

    name: str
    percent: Decimal
    net: Decimal
    tax: Decimal
    exempt: bool = False

    @property
    def gross(self) -> Decimal:
        return self.net + self.tax

    @property
    def percent_label(self) -> str:
        """The rate without trailing zeros: "19", "7.25", "5.5"."""
        return format_percent(self.percent)


@dataclass(frozen=True)
class TaxResult:
    items: tuple[TaxedItem, ...]
    #: One row per rate (highest first), every item counted once.
    rows: tuple[TaxRow, ...]
    net: Decimal
    tax: Decimal
    gross: Decimal
    removed: Decimal
    not_charged: str = ""

    def item(self, key: Hashable) -> TaxedItem:
        return next(item for item in self.items if item.key == key)


def format_percent(percent: Decimal) -> str:
    text = format(Decimal(percent).normalize(), "f")
    return text


def compute(*, items: Sequence[Item], rules: Rules) -> TaxResult:
    """Tax `items` under `rules` (see the module's docstring)."""
    taxed = _without_tax(items, rules) if rules.not_charged else _with_tax(items, rules)
    return _result(taxed, rules)


def _unit(rules: Rules) -> Decimal:
    return Decimal(1).scaleb(-rules.minor_units)


def _exact_tax(amount: Decimal, percent: Decimal, *, included: bool) -> Decimal:
    if percent <= 0:
        return Decimal(0)
    if included:
        return amount * percent / (HUNDRED + percent)
    return amount * percent / HUNDRED


def _rounded(
    items: Sequence[Item], rates: Sequence[Rate], rules: Rules, *, included: bool
) -> list[Decimal]:
    """The tax of each item at its rate, rounded per line or per total."""
    exact = [
        _exact_tax(item.amount, rate.percent, included=included)
        for item, rate in zip(items, rates, strict=True)
    ]
    if rules.rounding != PER_TOTAL:
        return [round_to(value, rules.minor_units) for value in exact]
    taxes = [Decimal(0)] * len(items)
    groups: dict[Rate, list[int]] = {}
    for i, rate in enumerate(rates):
        groups.setdefault(rate, []).append(i)
    unit = _unit(rules)
    for members in groups.values():
        total = round_to(sum((exact[i] for i in members), Decimal(0)), rules.minor_units)
        shares = {i: exact[i].quantize(unit, rounding=ROUND_DOWN) for i in members}
        left = total - sum(shares.values(), Decimal(0))
        # Largest remainder first; on a tie the larger amount, then the earlier item.
        order = sorted(members, key=lambda i: (-(exact[i] - shares[i]), -items[i].amount, i))
        for i in order:
            if left <= 0:
                break
            shares[i] += unit
            left -= unit
        for i in members:
            taxes[i] = shares[i]
    return taxes


def _with_tax(items: Sequence[Item], rules: Rules) -> list[TaxedItem]:
    rates = [rules.rates.get(item.tax_class, NO_TAX) for item in items]
    included = rules.prices_include_tax
    taxes = _rounded(items, rates, rules, included=included)
    taxed = []
    for item, rate, tax in zip(items, rates, taxes, strict=True):
        amount = round_to(item.amount, rules.minor_units)
        net, gross = (amount - tax, amount) if included else (amount, amount + tax)
        taxed.append(
            TaxedItem(
                key=item.key, tax_class=item.tax_class, rate=rate, net=net, tax=tax, gross=gross
            )
        )
    return taxed


def _without_tax(items: Sequence[Item], rules: Rules) -> list[TaxedItem]:
    if rules.prices_include_tax:
        home = [rules.home_rates.get(item.tax_class, NO_TAX) for item in items]
        removed = _rounded(items, home, rules, included=True)
    else:
        removed = [Decimal(0)] * len(items)
    taxed = []
    for item, out in zip(items, removed, strict=True):
        net = round_to(item.amount, rules.minor_units) - out
        taxed.append(
            TaxedItem(
                key=item.key,
                tax_class=item.tax_class,
                rate=NO_TAX,
                net=net,
                tax=round_to(Decimal(0), rules.minor_units),
                gross=net,
                removed=out,
            )
        )
    return taxed


def _result(taxed: list[TaxedItem], rules: Rules) -> TaxResult:
    rows: dict[Rate, list[Decimal]] = {}
    for item in taxed:
        sums = rows.setdefault(item.rate, [Decimal(0), Decimal(0)])
        sums[0] += item.net
        sums[1] += item.tax
    zero = round_to(Decimal(0), rules.minor_units)
    ordered = sorted(
        rows.items(), key=lambda pair: (-pair[0].percent, pair[0].exempt, pair[0].name)
    )
    return TaxResult(
        items=tuple(taxed),
        rows=tuple(
            TaxRow(name=rate.name, percent=rate.percent, net=net, tax=tax, exempt=rate.exempt)
            for rate, (net, tax) in ordered
        ),
        net=sum((item.net for item in taxed), zero),
        tax=sum((item.tax for item in taxed), zero),
        gross=sum((item.gross for item in taxed), zero),
        removed=sum((item.removed for item in taxed), zero),
        not_charged=rules.not_charged,
    )


# --- Refunds -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RefundSplit:
    net: Decimal
    tax: Decimal
    gross: Decimal


def split_refund(
    *,
    net: Decimal,
    tax: Decimal,
    gross: Decimal,
    units: int,
    quantity: int,
    units_refunded_before: int = 0,
    minor_units: int = 2,
) -> RefundSplit:
    """What refunding `units` of a line gives back, split into net and tax.

    `net`, `tax` and `gross` are the line's as the order snapshot holds them (OrderLine.net,
    .tax, .total) for `quantity` units, of which `units_refunded_before` were refunded
    already. Cumulative rounding: what the first k units give back is gross x k / quantity
    (and tax x k / quantity) rounded half up, and a refund is the difference between the
    amounts after and before it, so refunding all units in any steps gives back exactly
    the line's gross and tax, never a cent more or less. The gross part equals
    line.total x units / quantity with the same cumulative rounding.
    """
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    if units < 0 or units_refunded_before < 0 or units + units_refunded_before > quantity:
        raise ValueError("cannot refund more units than the line holds")
    if net + tax != gross:
        raise ValueError("net + tax must equal gross")

    gross, tax = Decimal(gross), Decimal(tax)

    def gross_through(k: int) -> Decimal:
        return round_to(gross * k / quantity, minor_units)

    def tax_through(k: int) -> Decimal:
        # The tax in what the first k units gave back, in proportion to that gross (not to
        # k): as gross grows by d, the tax grows by at most d, so neither the tax nor the
        # net of any step is ever negative.
        return round_to(tax * gross_through(k) / gross, minor_units) if gross else gross

    after = units_refunded_before + units
    gross_back = gross_through(after) - gross_through(units_refunded_before)
    tax_back = tax_through(after) - tax_through(units_refunded_before)
    return RefundSplit(net=gross_back - tax_back, tax=tax_back, gross=gross_back)
