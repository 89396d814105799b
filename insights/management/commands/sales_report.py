from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from insights import reports
from insights.forms import MAX_DAYS
from insights.periods import Period


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} {value!r}: give a date as YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = (
        "Sales per day in the shop's time zone (paid orders less their refunds), with totals "
        "and the top products and categories: the dashboard's figures for any dates."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="last", required=True, help="last day, YYYY-MM-DD")
        parser.add_argument("--format", choices=["csv", "md"], default="csv")

    def handle(self, *args, first, last, format, **options):
        period = Period(first=_day(first, "--from"), last=_day(last, "--to"))
        if period.last < period.first:
            raise CommandError("--to is before --from.")
        if period.days > MAX_DAYS:
            raise CommandError(f"Choose at most {MAX_DAYS} days.")
        report = reports.sales_report(period)
        if format == "md":
            self.stdout.write(
                reports.as_markdown(report, currency=settings.SHOP_CURRENCY), ending=""
            )
        else:
            self.stdout.write(reports.as_csv(report), ending="")
