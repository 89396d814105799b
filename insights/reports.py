"""The sales report as rows and as text (CSV or Markdown), from the dashboard's selectors."""

import csv
import io
from dataclasses import dataclass

from insights import selectors
from insights.periods import Period

COLUMNS = [
    "day",
    "revenue",
    "orders",
    "average_order_value",
    "new_customers",
    "carts",
    "converted_carts",
    "conversion_percent",
]


@dataclass
class SalesReport:
    period: Period
    days: list[tuple[str, selectors.Figures]]
    total: selectors.Figures
    top: selectors.TopSellers


def sales_report(period: Period) -> SalesReport:
    """Figures per local day and in total, and the top sellers: 5 queries."""
    days = selectors.daily_figures(period)
    return SalesReport(
        period=period,
        days=[(day.isoformat(), days[day]) for day in period.dates()],
        total=selectors.total(days, period),
        top=selectors.top_sellers(period),
    )


def _cells(label: str, figures: selectors.Figures) -> list[str]:
    conversion = figures.conversion
    return [
        label,
        f"{figures.revenue:.2f}",
        str(figures.orders),
        f"{figures.average_order_value:.2f}",
        str(figures.new_customers),
        str(figures.carts),
        str(figures.converted_carts),
        "" if conversion is None else str(conversion),
    ]


def as_csv(report: SalesReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for day, figures in report.days:
        writer.writerow(_cells(day, figures))
    writer.writerow(_cells("total", report.total))
    return out.getvalue()


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def as_markdown(report: SalesReport, *, currency: str) -> str:
    period = report.period
    lines = [f"# Sales {period.first.isoformat()} to {period.last.isoformat()} ({currency})", ""]
    rows = [_cells(day, figures) for day, figures in report.days]
    rows.append([f"**{cell}**" if cell else cell for cell in _cells("total", report.total)])
    lines += _table(COLUMNS, rows)
    for title, top in [
        ("Products by revenue", report.top.products_by_revenue),
        ("Products by units", report.top.products_by_units),
        ("Categories by revenue", report.top.categories_by_revenue),
        ("Categories by units", report.top.categories_by_units),
    ]:
        lines += ["", f"## {title}", ""]
        cells = [
            [row.name.replace("|", "\\|"), f"{row.revenue:.2f}", str(row.units)] for row in top
        ]
        lines += _table(["name", "revenue", "units"], cells)
    return "\n".join(lines) + "\n"
