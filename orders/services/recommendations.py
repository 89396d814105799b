"""Recommendations from what shoppers bought: the orders app counts, the catalog keeps them."""

from catalog import services as catalog_services
from catalog.recommendations import KEPT
from orders import selectors


def rebuild_recommendations() -> int:
    """Recompute every product's "frequently bought together" and similar products from the
    sold orders, replacing the old rows at once; returns the number of rows.

    Nightly on Celery beat (settings.CELERY_BEAT_SCHEDULE) and `manage.py
    rebuild_recommendations`.
    """
    return catalog_services.replace_recommendations(
        bought_together=selectors.bought_together(per_product=KEPT)
    )
