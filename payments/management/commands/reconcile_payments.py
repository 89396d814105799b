"""List payments and orders that disagree; with --apply, repair what can be repaired."""

from django.core.management.base import BaseCommand

from payments import services
from payments.errors import PaymentError


class Command(BaseCommand):
    help = (
        "List captured payments whose order is not paid and paid orders without a captured "
        "payment. --apply repairs what can be repaired (with events); the rest needs you. "
        "Payments left open past their deadline at a provider that can be asked (Alipay, "
        "WeChat Pay) are asked about first; --apply records what it says and closes them at "
        "the provider when their order no longer awaits them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true", help="repair what can be repaired")

    def handle(self, *args, apply=False, **options):
        for check in services.check_open_payments(apply=apply):
            self.stdout.write(
                f"open_payment\torder {check.payment.order.number}\tpayment {check.payment.pk}"
                f"\t{check.outcome}\t{check.note}"
            )
        found = services.find_discrepancies()
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
