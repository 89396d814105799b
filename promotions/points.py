"""The arithmetic of points (积分), with no database: what a redemption is worth, what is
left of each earning and when it expires, and what a refund gives back or takes back.

promotions.ledger writes the entries and promotions.services.price_cart() prices a
redemption with these; keeping them pure lets property tests throw any ledger at them.

Rules:
* A redemption never exceeds the points held, the points asked for, or the cap (a share of
  what is left of the lines after discounts). Its value is rounded down to the currency's
  minor unit and the shopper spends only the points that value needs, so points never
  turn into money they are not worth, and no point is spent for nothing.
* Points are spent, taken back and expired soonest-expiring first (points that never expire
  last), so what expires is what was earned longest ago and not yet used.
* A refund gives back the points spent and takes back those earned in proportion to the
  money refunded, rounded down, cumulatively: every refund together gives back exactly
  what was spent once all the money is back.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from django.utils.translation import gettext as _

from promotions.calculator import distribute
from promotions.pricing import ZERO, AppliedPromotion, CartPrice
from shop.money import smallest_unit

HUNDRED = Decimal(100)
#: AppliedPromotion.kind (and OrderDiscount.kind) of a points redemption.
POINTS = "points"


@dataclass(frozen=True)
class Redemption:
    points: int = 0
    value: Decimal = ZERO


def redemption(
    *, wanted: int, balance: int, base: Decimal, value_per_point: Decimal, max_share: Decimal
) -> Redemption:
    """How many of `wanted` points an order of `base` (what is left of its lines) takes, and
    what they are worth: at most `balance`, at most `max_share` percent of `base`."""
    unit = smallest_unit()
    cap = (base * max_share / HUNDRED).quantize(unit, rounding=ROUND_DOWN)
    if wanted <= 0 or balance <= 0 or value_per_point <= 0 or cap <= 0:
        return Redemption()
    most = int(cap / value_per_point)  # whole points the cap allows (Decimal division)
    points = min(wanted, balance, most)
    value = min(cap, worth(points, value_per_point=value_per_point))
    if value <= 0:
        return Redemption()
    # The fewest points that are worth `value`: none spent on a fraction rounded away.
    needed = min(points, math.ceil(value / value_per_point))
    return Redemption(points=needed, value=value)


def worth(points: int, *, value_per_point: Decimal) -> Decimal:
    """What `points` pay at checkout, rounded down to the minor unit."""
    return max(points * value_per_point, ZERO).quantize(smallest_unit(), rounding=ROUND_DOWN)


def apply_redemption(price: CartPrice, spent: Redemption) -> CartPrice:
    """`price` with `spent` taken off its lines (in proportion to what is left of each, as
    an order discount is, so a refund of a line gives back its share) and shown as its own
    line in `applied`. Call it before tax is worked out."""
    if spent.points <= 0:
        return price
    shares = distribute(spent.value, [line.total for line in price.lines])
    lines = tuple(
        replace(line, discount=line.discount + share, total=line.total - share)
        for line, share in zip(price.lines, shares, strict=True)
    )
    value = sum(shares, ZERO)
    applied = AppliedPromotion(
        name=_("Points (%(points)s)") % {"points": spent.points},
        amount=value,
        kind=POINTS,
        source=f"{POINTS}:{spent.points}",
    )
    return replace(
        price,
        lines=lines,
        discount=price.discount + value,
        total=price.total - value,
        applied=(*price.applied, applied),
        points_used=spent.points,
        points_value=value,
    )


def points_earned(*, paid: Decimal, per_unit: Decimal, multiplier: Decimal) -> int:
    """Points for `paid` money at `per_unit` points per unit of currency, rounded down."""
    if paid <= 0 or per_unit <= 0 or multiplier <= 0:
        return 0
    return int((paid * per_unit * multiplier).to_integral_value(rounding=ROUND_DOWN))


def share_of(points: int, *, part: Decimal, whole: Decimal) -> int:
    """`points` x part / whole rounded down, all of them once part reaches whole."""
    if points <= 0 or part <= 0 or whole <= 0:
        return 0
    if part >= whole:
        return points
    return int((points * part / whole).to_integral_value(rounding=ROUND_DOWN))


@dataclass(frozen=True)
class Movement:
    """A ledger entry as the arithmetic sees it, in the order they were written."""

    amount: int
    expires_at: datetime | None = None


@dataclass(frozen=True)
class Lot:
    """What is left of one earning, and when it expires (None: never)."""

    remaining: int
    expires_at: datetime | None


def open_lots(movements: Iterable[Movement]) -> list[Lot]:
    """What is left of each earning after everything spent, taken back and expired,
    soonest-expiring first. Spending draws on the soonest-expiring points (those that never
    expire last); points spent beyond what the ledger holds are owed and met by the next
    earnings."""
    lots: list[list] = []  # [expires_at, remaining, seq]
    owed = 0
    for seq, movement in enumerate(movements):
        if movement.amount > 0:
            paid = min(owed, movement.amount)
            owed -= paid
            if movement.amount - paid:
                lots.append([movement.expires_at, movement.amount - paid, seq])
            continue
        take = -movement.amount
        lots.sort(key=lambda lot: (lot[0] is None, lot[0] or datetime.min, lot[2]))
        for lot in lots:
            used = min(lot[1], take)
            lot[1] -= used
            take -= used
            if not take:
                break
        owed += take
        lots = [lot for lot in lots if lot[1] > 0]
    lots.sort(key=lambda lot: (lot[0] is None, lot[0] or datetime.min, lot[2]))
    return [Lot(remaining=lot[1], expires_at=lot[0]) for lot in lots]


def expired_by(lots: Iterable[Lot], *, now: datetime) -> int:
    """Points of `lots` whose time is up at `now`."""
    return sum(lot.remaining for lot in lots if lot.expires_at and lot.expires_at <= now)
