from django.core.management.base import BaseCommand

from orders.services import expire_unpaid_orders


class Command(BaseCommand):
    help = "Cancel orders left unpaid for longer than --minutes and put their stock back."

    def add_arguments(self, parser):
        parser.add_argument("--minutes", type=int, default=30)

    def handle(self, *args, minutes, **options):
        cancelled = expire_unpaid_orders(minutes=minutes)
        self.stdout.write(f"Cancelled {cancelled} unpaid order(s) older than {minutes} minutes.")
