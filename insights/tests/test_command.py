"""manage.py sales_report: the dashboard's figures for any dates, as CSV or Markdown."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command


def run(*args) -> str:
    out = io.StringIO()
    call_command("sales_report", *args, stdout=out)
    return out.getvalue()


def test_csv_has_a_row_per_local_day_and_the_total(shop):
    first = shop.today - timedelta(days=6)
    rows = list(
        csv.DictReader(
            io.StringIO(run("--from", first.isoformat(), "--to", shop.today.isoformat()))
        )
    )
    assert len(rows) == 8
    assert rows[-1] == {
        "day": "total",
        "revenue": "145.00",
        "orders": "4",
        "average_order_value": "36.25",
        "new_customers": "3",
        "carts": "14",
        "converted_carts": "12",
        "conversion_percent": "85.7",
    }
    today = rows[-2]
    assert (today["day"], today["revenue"], today["orders"]) == (
        shop.today.isoformat(),
        "75.00",
        "2",
    )
    yesterday = rows[-3]
    assert (yesterday["revenue"], yesterday["conversion_percent"]) == ("30.00", "0.0")


def test_markdown_has_the_table_and_the_top_lists(shop):
    text = run(
        "--from",
        (shop.today - timedelta(days=29)).isoformat(),
        "--to",
        shop.today.isoformat(),
        "--format",
        "md",
    )
    assert text.startswith(f"# Sales {(shop.today - timedelta(days=29)).isoformat()}")
    assert "| **total** | **200.00** | **5** | **40.00** | **4** |" in text
    assert "## Products by revenue" in text
    assert "| Wool Scarf | 100.00 | 4 |" in text


def test_a_period_without_sales_is_all_zeros(db):
    rows = list(csv.DictReader(io.StringIO(run("--from", "2026-01-01", "--to", "2026-01-31"))))
    assert len(rows) == 32
    assert rows[-1]["revenue"] == "0.00" and rows[-1]["conversion_percent"] == ""


@pytest.mark.parametrize(
    "args, message",
    [
        (["--from", "2026-02-30", "--to", "2026-03-01"], "--from '2026-02-30': give a date"),
        (["--from", "2026-01-01", "--to", "tomorrow"], "--to 'tomorrow': give a date"),
        (["--from", "2026-02-01", "--to", "2026-01-01"], "--to is before --from"),
        (["--from", "2020-01-01", "--to", "2026-01-01"], "at most 731 days"),
    ],
)
def test_bad_dates_are_a_clear_error(db, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_unknown_format_and_missing_dates_are_refused(db):
    with pytest.raises(CommandError, match="invalid choice"):
        run("--from", "2026-01-01", "--to", "2026-01-02", "--format", "xls")
    with pytest.raises(CommandError, match="--from"):
        run("--to", "2026-01-02")


def test_report_asks_a_fixed_number_of_queries(shop, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        run("--from", "2025-12-01", "--to", shop.today.isoformat())
