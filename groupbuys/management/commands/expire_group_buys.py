from django.core.management.base import BaseCommand

from groupbuys import services


class Command(BaseCommand):
    help = (
        "Settle group buys whose deadline passed: complete the full ones, refund every paid "
        "member of the others (once, through their payment provider) and release unpaid joins."
    )

    def handle(self, *args, **options):
        settled = services.expire_group_buys()
        self.stdout.write(f"{settled} group(s) settled")
