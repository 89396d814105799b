"""List payments and orders that disagree; with --apply, repair what can be repaired."""

from django.core.management.base import BaseCommand

from payments import services


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
        result = services.reconcile_payments(apply=apply)
        for check in result.checks:
            self.stdout.write(
                f"open_payment\torder {check.payment.order.number}\tpayment {check.payment.pk}"
                f"\t{check.outcome}\t{check.note}"
            )
        for item, outcome in result.found:
            payment = f"payment {item.payment.pk}" if item.payment else "no payment"
            line = f"{item.kind}\torder {item.order.number}\t{payment}\t{item.note}"
            self.stdout.write(f"{line}\t{outcome}" if outcome else line)
        summary = f"{len(result.found)} discrepancies"
        if apply:
            summary += f", {result.repaired} repaired"
        self.stdout.write(summary)
