"""Fill an empty shop with demo data. Safe to run again: it adds only what is missing."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Load demo data and make sure a superuser exists (idempotent)."

    def handle(self, *args, **options):
        self._ensure_superuser()

    def _ensure_superuser(self) -> None:
        User = get_user_model()
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "admin@example.com")
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("Superuser: already there.")
            return
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(email=email, password=password)
        shown = password if "DJANGO_SUPERUSER_PASSWORD" not in os.environ else "(from environment)"
        self.stdout.write(self.style.SUCCESS(f"Superuser: {email} / {shown}  (sign in at /admin/)"))
