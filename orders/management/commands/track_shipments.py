from django.core.management.base import BaseCommand

from orders.services import confirm_deliveries_due, poll_tracking


class Command(BaseCommand):
    help = (
        "Ask the carriers about parcels on their way (within each provider's rate limit), "
        "then complete orders delivered TRACKING_AUTO_CONFIRM_DAYS ago and not confirmed. "
        "Celery beat does both on its own; this is for a shop without beat (make run)."
    )

    def handle(self, *args, **options):
        stored = poll_tracking()
        confirmed = confirm_deliveries_due()
        self.stdout.write(
            f"Stored {stored} new tracking event(s); confirmed receipt of {confirmed} order(s)."
        )
