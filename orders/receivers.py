"""Accounts may not import orders: when a user is deleted, this receiver anonymises their
orders (connected in OrdersConfig.ready)."""

from orders import services


def anonymise_orders_of_deleted_user(sender, instance, **kwargs) -> None:
    services.anonymise_orders(user=instance)
