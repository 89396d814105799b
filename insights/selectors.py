"""The figures of the merchant's dashboard and the sales report: every read they share.

What counts as a sale: an order whose payment status is paid or partially refunded and which
is not cancelled, on the day it became paid (`paid_at`, in the shop's time zone). Unpaid,
partially paid, cancelled and fully refunded orders never count. Its revenue is what was
paid less every refund decided on it (sent or still due: the orders app's OrderRefund rows),
so a partial refund lowers the day the order was paid.

Each function asks a fixed number of queries whatever the number of orders: figures are
summed by the database, grouped by local day, never per order.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import (
    CharField,
    Count,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Left, StrIndex, TruncDate
from django.db.models.lookups import In

from cart.models import Cart
from catalog.models import LOW_STOCK, Variant
from insights.periods import Period, shop_zone
from orders.models import (
    ZERO,
    Order,
    OrderLine,
    OrderRefund,
    ReturnRequest,
)
from payments.models import Payment, Refund, RefundStatus
from reviews.models import Review, ReviewStatus
from shop.money import quantize

#: How many rows each top list shows.
TOP_LIMIT = 10


def counted_orders() -> QuerySet[Order]:
    """Orders that count as sales (see the module's docstring)."""
    return Order.objects.sold()


def _sold_in(period: Period) -> QuerySet[Order]:
    return counted_orders().filter(paid_at__gte=period.start, paid_at__lt=period.end)


# --- Figures by day --------------------------------------------------------------------


@dataclass
class Figures:
    """Sales over some days. Conversion counts carts started in those days."""

    revenue: Decimal = ZERO
    orders: int = 0
    new_customers: int = 0
    carts: int = 0
    converted_carts: int = 0

    def __add__(self, other: "Figures") -> "Figures":
        return Figures(
            revenue=self.revenue + other.revenue,
            orders=self.orders + other.orders,
            new_customers=self.new_customers + other.new_customers,
            carts=self.carts + other.carts,
            converted_carts=self.converted_carts + other.converted_carts,
        )

    @property
    def average_order_value(self) -> Decimal:
        return quantize(self.revenue / self.orders) if self.orders else ZERO

    @property
    def conversion(self) -> Decimal | None:
        """Percent of carts started that became an order; None without carts."""
        if not self.carts:
            return None
        return (Decimal(100) * self.converted_carts / self.carts).quantize(Decimal("0.1"))


def daily_figures(period: Period) -> dict[date, Figures]:
    """Figures for every day of `period` (days without sales included): 3 queries:
    sales, refunds, carts."""
    days = {day: Figures() for day in period.dates()}
    zone = shop_zone()
    # One probe of the index order_sold_customer per sale (two sales of one customer at the
    # same microsecond would both count as their first).
    earlier = counted_orders().filter(
        email__iexact=OuterRef("email"), paid_at__lt=OuterRef("paid_at")
    )
    sales = (
        _sold_in(period)
        .annotate(day=TruncDate("paid_at", tzinfo=zone))
        .values("day")
        .annotate(
            paid=Sum("total_paid"),
            orders=Count("pk"),
            # A customer (by email, guests included) is new on the day of their first sale.
            new=Count("pk", filter=~Q(Exists(earlier))),
        )
    )
    for row in sales:
        figures = days[row["day"]]
        figures.revenue += row["paid"]
        figures.orders = row["orders"]
        figures.new_customers = row["new"]
    refunds = (
        OrderRefund.objects.filter(order__in=_sold_in(period))
        .annotate(day=TruncDate("order__paid_at", tzinfo=zone))
        .values("day")
        .annotate(amount=Sum("amount"))
    )
    for row in refunds:
        days[row["day"]].revenue -= row["amount"]
    for row in _carts_by_day(period):
        days[row["day"]].carts = row["carts"]
        days[row["day"]].converted_carts = row["converted"]
    return days


def _carts_by_day(period: Period):
    """Carts started in the period, and how many of them an order was placed from. An
    order's idempotency key begins with its cart's id ("<cart id>:<key>", place_order)."""
    key = "idempotency_key"
    cart_ids = (
        Order.objects.filter(created_at__gte=period.start, idempotency_key__contains=":")
        .order_by()
        .annotate(cart_id=Left(key, StrIndex(key, Value(":")) - 1))
        .values("cart_id")
    )
    return (
        Cart.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
        .annotate(day=TruncDate("created_at", tzinfo=shop_zone()))
        .values("day")
        .annotate(
            carts=Count("pk"),
            converted=Count("pk", filter=Q(In(Cast("pk", CharField()), Subquery(cart_ids)))),
        )
    )


def total(days: dict[date, Figures], period: Period) -> Figures:
    result = Figures()
    for day in period.dates():
        result = result + days.get(day, Figures())
    return result


# --- The dashboard's comparisons ---------------------------------------------------------


@dataclass
class Change:
    """A figure against the same figure in the period before."""

    current: Decimal | int | None
    previous: Decimal | int | None
    #: Percentage points (for a figure that is itself a percentage) rather than percent.
    in_points: bool = False

    @property
    def direction(self) -> str:
        if self.current is None or self.previous is None or self.current == self.previous:
            return "same"
        return "up" if self.current > self.previous else "down"

    @property
    def size(self) -> Decimal | None:
        """The change without its sign (the words say up or down)."""
        return None if self.amount is None else abs(self.amount)

    @property
    def amount(self) -> Decimal | None:
        """The change: in points, or in percent of the previous figure (None from 0)."""
        if self.current is None or self.previous is None:
            return None
        if self.in_points:
            return Decimal(self.current - self.previous).quantize(Decimal("0.1"))
        if not self.previous:
            return None
        change = Decimal(100) * (self.current - self.previous) / self.previous
        return change.quantize(Decimal("0.1"))


@dataclass
class Comparison:
    """One period (today, 7 days, 30 days) against the period of as many days before."""

    days: int
    period: Period
    current: Figures
    previous: Figures

    def change(self, name: str) -> Change:
        return Change(
            current=getattr(self.current, name),
            previous=getattr(self.previous, name),
            in_points=name == "conversion",
        )

    @property
    def changes(self) -> dict[str, Change]:
        names = ["revenue", "orders", "average_order_value", "new_customers", "conversion"]
        return {name: self.change(name) for name in names}


#: The dashboard's periods, in days, each ending today.
COMPARED_DAYS = (1, 7, 30)
#: Days the chart draws.
CHART_DAYS = 30


@dataclass
class Overview:
    comparisons: list[Comparison]
    #: (day, figures) for the chart, oldest first.
    chart: list[tuple[date, Figures]] = field(default_factory=list)


def sales_overview(*, today: date) -> Overview:
    """Today, 7 and 30 days against the days before, and the chart's days: 3 queries."""
    longest = max(COMPARED_DAYS)
    days = daily_figures(Period.ending(today, days=2 * longest))
    comparisons = []
    for count in COMPARED_DAYS:
        period = Period.ending(today, days=count)
        comparisons.append(
            Comparison(
                days=count,
                period=period,
                current=total(days, period),
                previous=total(days, period.previous()),
            )
        )
    chart_period = Period.ending(today, days=CHART_DAYS)
    return Overview(
        comparisons=comparisons, chart=[(day, days[day]) for day in chart_period.dates()]
    )


# --- To do -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToDoCounts:
    orders_to_ship: int
    returns_to_handle: int
    refunds_due: int
    payments_flagged: int
    reviews_pending: int
    variants_low: int
    transfers_due: int
    delivery_problems: int


def to_do_counts(*, transfers_due_before: datetime) -> ToDoCounts:
    """What waits on the merchant: 8 queries, each the admin list's own filter."""
    return ToDoCounts(
        orders_to_ship=Order.objects.awaiting_shipment().count(),
        returns_to_handle=ReturnRequest.objects.to_handle().count(),
        refunds_due=Refund.objects.filter(status=RefundStatus.DUE).count(),
        payments_flagged=Payment.objects.filter(flagged=True).count(),
        reviews_pending=Review.objects.filter(status=ReviewStatus.PENDING).count(),
        variants_low=Variant.objects.filter(is_active=True, stock__lte=LOW_STOCK).count(),
        transfers_due=Order.objects.bank_transfers_due(before=transfers_due_before).count(),
        delivery_problems=Order.objects.tracking_problems().count(),
    )


# --- Top products and categories ---------------------------------------------------------


@dataclass(frozen=True)
class TopRow:
    name: str
    revenue: Decimal
    units: int
    #: The product's or category's id (None: deleted since).
    key: int | None = None


@dataclass
class TopSellers:
    products_by_revenue: list[TopRow]
    products_by_units: list[TopRow]
    categories_by_revenue: list[TopRow]
    categories_by_units: list[TopRow]


def _groups(lines: QuerySet[OrderLine], *, key: str, name: str) -> list[TopRow]:
    """Every product (or category) sold, summed by the database; at most one row per row of
    the catalog, however many orders."""
    rows = (
        lines.order_by()
        .values(key)
        .annotate(
            label=Max(name),
            revenue=Sum(F("total") - F("amount_refunded")),
            units=Sum(F("quantity") - F("quantity_refunded")),
        )
        .values_list(key, "label", "revenue", "units")
    )
    return [
        TopRow(name=label or "", revenue=revenue, units=units, key=pk)
        for pk, label, revenue, units in rows
    ]


def _best(rows: list[TopRow], *, by: str, limit: int) -> list[TopRow]:
    """The first `limit` by revenue or units, ties by name, then id (None last)."""
    return sorted(
        rows, key=lambda row: (-getattr(row, by), row.name, row.key is None, row.key or 0)
    )[:limit]


def top_sellers(period: Period, *, limit: int = TOP_LIMIT) -> TopSellers:
    """Products and categories by revenue (lines less their refunds, without shipping) and
    by units (less refunded units) over the orders sold in `period`: 2 queries."""
    lines = OrderLine.objects.filter(order__in=_sold_in(period))
    products = _groups(lines, key="product_id", name="product_name")
    categories = _groups(lines, key="product__category_id", name="product__category__name")
    return TopSellers(
        products_by_revenue=_best(products, by="revenue", limit=limit),
        products_by_units=_best(products, by="units", limit=limit),
        categories_by_revenue=_best(categories, by="revenue", limit=limit),
        categories_by_units=_best(categories, by="units", limit=limit),
    )
