from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

#: The tax rates' version as catalog.cache reads it (with every request's versions).
TAX_RATES_SCOPE = "tax-rates"


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = _("Catalog")

    def ready(self):
        from django.core.signals import request_finished, request_started
        from django.db.models.signals import post_delete

        from catalog import cache
        from catalog.facets import note_deleted_product
        from catalog.models import Product
        from taxes import selectors as tax_selectors

        # A request reads each version once (catalog.cache); nothing read is kept after it.
        request_started.connect(cache.request_started, dispatch_uid="catalog-versions-start")
        request_finished.connect(cache.request_finished, dispatch_uid="catalog-versions-end")
        # The tax rates' version (every priced page taxes) comes with a request's first
        # versions, read where taxes keep it (taxes sits below catalog: handed in).
        cache.read_with_every_request(TAX_RATES_SCOPE, key=tax_selectors.VERSION_KEY)
        tax_selectors.set_version_source(
            lambda: cache.versions([TAX_RATES_SCOPE])[TAX_RATES_SCOPE],
            moved=cache.own_version_moved,
        )

        # A deleted product leaves the listing index of every worker (the index is a cache of
        # the catalog: a signal keeps it current wherever the deletion comes from).
        post_delete.connect(note_deleted_product, sender=Product, dispatch_uid="facets-delete")
