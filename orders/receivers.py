"""Receivers connected in OrdersConfig.ready: accounts may not import orders, so when a user
is deleted this anonymises their orders; catalog may not either, so a changed shipping method
refreshes the product pages that show its delivery estimate."""

from catalog import cache as catalog_cache
from orders import services


def anonymise_orders_of_deleted_user(sender, instance, **kwargs) -> None:
    services.anonymise_orders(user=instance)


def refresh_delivery_estimates(sender, instance, **kwargs) -> None:
    """Every product page shows the standard method's delivery days (cached whole)."""
    catalog_cache.bump([catalog_cache.CATALOG])
