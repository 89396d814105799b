"""Rebuild every product's facet rows (what listings filter and count on).

The catalog's services keep the rows as they change products; run this after changing
variants, stock or publication with SQL, or to check (it prints the number of rows).
"""

import time

from django.core.management.base import BaseCommand

from catalog.services import rebuild_product_facets


class Command(BaseCommand):
    help = "Rebuild the facet rows of every published product."

    def handle(self, *args, **options):
        started = time.monotonic()
        rows = rebuild_product_facets()
        self.stdout.write(f"Facet rows: {rows} in {time.monotonic() - started:.1f} s.")
