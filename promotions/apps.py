from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PromotionsConfig(AppConfig):
    name = "promotions"
    verbose_name = _("Promotions")

    def ready(self):
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from catalog import cache as catalog_cache
        from promotions import flash, holes, receivers, selectors
        from promotions.models import Offer, SpendTier

        # The header's link to the flash sales reads their version on every page; the
        # offers' version every priced page (cart, checkout, review, placing the order):
        # each comes with a request's first read of versions, not in a round trip of its own.
        catalog_cache.read_with_every_request(flash.SCHEDULE_SCOPE)
        catalog_cache.read_with_every_request(selectors.OFFERS_SCOPE)
        catalog_cache.product_hole("flash", holes.flash_block)

        # Every write of an offer, its tiers or its scope moves the offers' schedule.
        for model in (Offer, SpendTier):
            for signal in (post_save, post_delete):
                signal.connect(
                    receivers.offers_changed, sender=model, dispatch_uid=f"offers-{model.__name__}"
                )
        for through in (Offer.categories.through, Offer.products.through):
            m2m_changed.connect(
                receivers.offers_changed, sender=through, dispatch_uid=f"offers-{through.__name__}"
            )
