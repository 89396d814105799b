from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders")

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save, pre_delete

        from accounts.signals import email_verified
        from cart import selectors as cart_selectors
        from orders import receivers, selectors
        from orders.models import ShippingMethod

        # The cart (a lower app) shows "more for free shipping" from our shipping methods.
        cart_selectors.set_free_shipping_source(selectors.free_shipping_threshold)
        pre_delete.connect(
            receivers.anonymise_orders_of_deleted_user,
            sender=get_user_model(),
            dispatch_uid="orders.anonymise_orders_of_deleted_user",
        )
        for signal in (post_save, post_delete):
            signal.connect(
                receivers.refresh_delivery_estimates,
                sender=ShippingMethod,
                dispatch_uid=f"orders.refresh_delivery_estimates.{signal is post_save}",
            )
        email_verified.connect(
            receivers.attach_guest_orders_of_verified_email,
            dispatch_uid="orders.attach_guest_orders_of_verified_email",
        )
