from django.core.management.base import BaseCommand

from promotions.ledger import expire_points


class Command(BaseCommand):
    help = "Expire customers' points whose time is up (settings.POINTS_VALID_DAYS), oldest first."

    def handle(self, *args, **options):
        self.stdout.write(f"Expired {expire_points()} point(s).")
