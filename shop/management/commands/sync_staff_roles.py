from django.core.management.base import BaseCommand

from shop.roles import sync_staff_roles


class Command(BaseCommand):
    help = (
        "Create the staff role groups (Catalog manager, Order desk, Support) and give each "
        "exactly its permissions. Safe to run again; migrate runs it too."
    )

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default")

    def handle(self, *args, database, **options):
        for group in sync_staff_roles(using=database):
            self.stdout.write(f"{group.name}: {group.permissions.count()} permissions")
