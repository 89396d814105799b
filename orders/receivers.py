"""Accounts may not import orders, so orders listens: when a user is deleted, their orders
are anonymised; when a user's email is verified, the guest orders placed with it join their
account. Signals only to decouple the apps: the work is done by orders' services.
(Connected in OrdersConfig.ready.)"""

from orders import services


def anonymise_orders_of_deleted_user(sender, instance, **kwargs) -> None:
    services.anonymise_orders(user=instance)


def attach_guest_orders_of_verified_email(sender, user, email, **kwargs) -> None:
    services.attach_guest_orders(user=user, email=email)
