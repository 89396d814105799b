"""Fill an empty shop with demo data. Safe to run again: it adds only what is missing."""

import os
import secrets
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from catalog.demo import create_demo_catalog, set_demo_tax_classes
from orders.selectors import guest_key
from orders.services import ensure_demo_shipping_methods, rebuild_recommendations
from payments.demo import create_demo_orders, ship_demo_parcels
from taxes.demo import create_demo_taxes, demo_class_codes


class Command(BaseCommand):
    help = "Load a demo catalog and make sure a superuser exists (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--products", type=int, default=1000, help="how many demo products (default 1000)"
        )
        parser.add_argument(
            "--orders",
            type=int,
            default=150,
            help="paid demo orders placed when the shop has sold nothing (default 150)",
        )

    def handle(self, *args, products, orders, **options):
        started = time.monotonic()
        added = create_demo_catalog(products=products)
        self.stdout.write(
            f"Catalog: {added} demo products added ({products} wanted) "
            f"in {time.monotonic() - started:.1f} s."
        )
        self.stdout.write(f"Taxes: {create_demo_taxes()} demo rates added.")
        classed = set_demo_tax_classes(top_category_classes=demo_class_codes())
        self.stdout.write(f"Taxes: {classed} demo products given a reduced class.")
        self.stdout.write(f"Shipping: {ensure_demo_shipping_methods()} demo methods added.")
        self.stdout.write(f"Orders: {create_demo_orders(count=orders)} paid demo orders placed.")
        self.stdout.write(f"Recommendations: {rebuild_recommendations()} rows.")
        for order in ship_demo_parcels():
            # A yuan shop's demo is seen in Chinese.
            prefix = "/zh-hans" if settings.SHOP_CURRENCY == "CNY" else ""
            self.stdout.write(
                f"Tracking: order {order.number} shipped with the demo carrier: "
                f"{settings.SHOP_URL.rstrip('/')}{prefix}{order.get_absolute_url()}"
                f"?key={guest_key(number=order.number)}"
            )
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
