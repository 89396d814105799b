from django.core.management.base import BaseCommand

from cart.services import clear_stale_carts


class Command(BaseCommand):
    help = "Delete guests' carts nobody has touched for --days days (shoppers' carts stay)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=30)

    def handle(self, *args, days, **options):
        if days < 1:
            self.stderr.write("--days must be at least 1.")
            raise SystemExit(2)
        deleted = clear_stale_carts(days=days)
        self.stdout.write(f"Deleted {deleted} guest carts untouched for {days} days.")
