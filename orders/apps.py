from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders")

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.db.models.signals import pre_delete

        from cart import selectors as cart_selectors
        from orders import receivers, selectors

        # The cart (a lower app) shows "more for free shipping" from our shipping methods.
        cart_selectors.set_free_shipping_source(selectors.free_shipping_threshold)
        pre_delete.connect(
            receivers.anonymise_orders_of_deleted_user,
            sender=get_user_model(),
            dispatch_uid="orders.anonymise_orders_of_deleted_user",
        )
