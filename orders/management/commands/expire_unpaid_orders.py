from django.core.management.base import BaseCommand

from orders.services import expire_unpaid_orders, send_payment_reminders


class Command(BaseCommand):
    help = (
        "Remind shoppers paying by bank transfer halfway to their deadline, then cancel "
        "orders still unpaid after their deadline and put their stock back."
    )

    def handle(self, *args, **options):
        reminded = send_payment_reminders()
        cancelled = expire_unpaid_orders()
        self.stdout.write(
            f"Sent {reminded} payment reminder(s); cancelled {cancelled} unpaid order(s) "
            "past their deadline."
        )
