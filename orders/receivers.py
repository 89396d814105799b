"""Receivers connected in OrdersConfig.ready. Lower apps may not import orders, so orders
listens: when a user is deleted, their orders are anonymised; when a user's email is
verified, the guest orders placed with it join their account; a changed shipping method
refreshes the product pages that show its delivery estimate. Signals only to decouple the
apps: the work is done by services."""

from catalog import cache as catalog_cache
from orders import services


def anonymise_orders_of_deleted_user(sender, instance, **kwargs) -> None:
    services.anonymise_orders(user=instance)


def refresh_delivery_estimates(sender, instance, **kwargs) -> None:
    """Every product page shows the standard method's delivery days (cached whole)."""
    catalog_cache.bump([catalog_cache.CATALOG])


def attach_guest_orders_of_verified_email(sender, user, email, **kwargs) -> None:
    services.attach_guest_orders(user=user, email=email)
