"""Every figure of the dashboard, exactly, on a fixed shop (insights.tests.fixtures)."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from insights import selectors
from insights.periods import Period
from orders.models import TRANSFER_DUE_SOON

D = Decimal


def figures(comparison):
    def row(f):
        return (f.revenue, f.orders, f.average_order_value, f.new_customers)

    return row(comparison.current), row(comparison.previous)


def test_today_counts_from_local_midnight_and_against_yesterday(shop):
    today, _week, _month = selectors.sales_overview(today=shop.today).comparisons
    assert figures(today) == (
        (D("75.00"), 2, D("37.50"), 1),  # A (85 - 40 refunded) and C (paid at 00:00)
        (D("30.00"), 1, D("30.00"), 1),  # B, paid at 23:59:59 the day before
    )
    assert (today.current.carts, today.current.converted_carts) == (13, 12)
    assert today.current.conversion == D("92.3")
    assert (today.previous.carts, today.previous.conversion) == (1, D("0.0"))
    changes = today.changes
    assert changes["revenue"].amount == D("150.0")
    assert changes["orders"].amount == D("100.0")
    assert changes["average_order_value"].amount == D("25.0")
    assert changes["new_customers"].direction == "same"
    assert (changes["conversion"].amount, changes["conversion"].in_points) == (D("92.3"), True)


def test_seven_and_thirty_days_against_the_days_before(shop):
    _today, week, month = selectors.sales_overview(today=shop.today).comparisons
    # G (45 - 5 shipping refund still due) counts net of its refund, on the day it was paid.
    assert figures(week) == ((D("145.00"), 4, D("36.25"), 3), (D("55.00"), 1, D("55.00"), 1))
    assert figures(month) == ((D("200.00"), 5, D("40.00"), 4), (D("45.00"), 1, D("45.00"), 1))
    assert (week.current.carts, week.current.conversion) == (14, D("85.7"))
    assert week.previous.conversion is None
    assert week.changes["conversion"].amount is None
    assert month.changes["revenue"].amount == D("344.4")


def test_chart_has_thirty_local_days_with_sales_on_the_day_paid(shop):
    chart = selectors.sales_overview(today=shop.today).chart
    assert len(chart) == 30
    assert chart[-1][0] == shop.today
    by_day = {day: (f.revenue, f.orders) for day, f in chart}
    assert by_day[shop.today] == (D("75.00"), 2)
    assert by_day[shop.today - timedelta(days=1)] == (D("30.00"), 1)
    assert by_day[shop.today - timedelta(days=3)] == (D("40.00"), 1)
    assert by_day[shop.today - timedelta(days=10)] == (D("55.00"), 1)
    assert sum(revenue for revenue, _orders in by_day.values()) == D("200.00")


def test_refunded_cancelled_and_partly_paid_orders_never_count(shop):
    counted = set(selectors.counted_orders().values_list("pk", flat=True))
    assert counted == {shop.orders[name].pk for name in "abcgij"}


def test_to_do_counts(shop):
    counts = selectors.to_do_counts(transfers_due_before=timezone.now() + TRANSFER_DUE_SOON)
    assert counts == selectors.ToDoCounts(
        orders_to_ship=5,  # A, B, C, G, I (J shipped)
        returns_to_handle=2,  # requested and received
        refunds_due=2,  # E's cancellation, G's shipping
        payments_flagged=1,
        reviews_pending=2,
        variants_low=1,
        transfers_due=2,  # F partly paid due tomorrow, K past its deadline
        delivery_problems=0,
    )


def test_top_products_and_categories_over_thirty_days(shop):
    top = selectors.top_sellers(Period.ending(shop.today, days=30))
    rows = [(r.name, r.revenue, r.units) for r in top.products_by_revenue]
    assert rows == [("Wool Scarf", D("100.00"), 4), ("Linen Shirt", D("80.00"), 2)]
    assert [(r.name, r.units) for r in top.products_by_units] == [
        ("Wool Scarf", 4),
        ("Linen Shirt", 2),
    ]
    assert [(r.name, r.revenue) for r in top.categories_by_revenue] == [
        ("Scarves", D("100.00")),
        ("Shirts", D("80.00")),
    ]


def test_top_products_over_seven_days(shop):
    top = selectors.top_sellers(Period.ending(shop.today, days=7))
    assert [(r.name, r.revenue, r.units) for r in top.products_by_revenue] == [
        ("Linen Shirt", D("80.00"), 2),
        ("Wool Scarf", D("50.00"), 2),
    ]
    # A tie in units is broken by name.
    assert [r.name for r in top.categories_by_units] == ["Scarves", "Shirts"]


def test_the_same_orders_read_in_utc_fall_on_other_days(shop, settings):
    """B (23:59:59 in Shanghai) and C (00:00 the next day) are 15:59:59 and 16:00 UTC on the
    same UTC day; A (10:00 in Shanghai) is 02:00 UTC the next."""
    settings.TIME_ZONE = "UTC"
    days = selectors.daily_figures(Period.ending(shop.today, days=2))
    yesterday = shop.today - timedelta(days=1)
    assert (days[yesterday].orders, days[yesterday].revenue) == (2, D("60.00"))
    assert (days[shop.today].orders, days[shop.today].revenue) == (1, D("45.00"))
