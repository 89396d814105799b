"""List payments and orders that disagree; with --apply, repair what can be repaired."""

from django.core.management.base import BaseCommand

from payments import services
from payments.errors import PaymentError


class Command(BaseCommand):
    help = (
        "List captured payments whose order is not paid and paid orders without a captured "
        "payment; ask providers about payments still open past their order's deadline. "
        "--apply repairs what can be repaired (with events); the rest needs you."
    )

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true", help="repair what can be repaired")

    def handle(self, *args, apply=False, **options):
        found = services.find_discrepancies()
        found += services.find_open_payments()
        repaired = 0
        for item in found:
            payment = f"payment {item.payment.pk}" if item.payment else "no payment"
            line = f"{item.kind}\torder {item.order.number}\t{payment}\t{item.note}"
            if apply and item.repairable:
                try:
                    services.repair(item)
                except PaymentError as error:
                    line += f"\tNOT REPAIRED: {error.message}"
                else:
                    repaired += 1
                    line += "\trepaired"
            elif not item.repairable:
                line += "\tneeds the merchant"
            self.stdout.write(line)
        summary = f"{len(found)} discrepancies"
        if apply:
            summary += f", {repaired} repaired"
        self.stdout.write(summary)
