import time

from django.core.management.base import BaseCommand

from orders.services import rebuild_recommendations


class Command(BaseCommand):
    help = (
        "Recompute the products shown beside each product and cart: those bought together "
        "in paid orders, then similar ones. Runs nightly on Celery beat."
    )

    def handle(self, *args, **options):
        started = time.monotonic()
        rows = rebuild_recommendations()
        self.stdout.write(f"Recommendations: {rows} rows in {time.monotonic() - started:.1f} s.")
