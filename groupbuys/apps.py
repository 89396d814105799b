from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GroupbuysConfig(AppConfig):
    name = "groupbuys"
    verbose_name = _("Group buys")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from groupbuys import receivers, selectors
        from groupbuys.models import GroupOffer
        from orders.signals import order_paid
        from promotions import services as promotions

        # price_cart (promotions, below us) prices a line that joins a group from our rows.
        promotions.set_group_price_source(selectors.group_unit_prices)
        order_paid.connect(receivers.count_member_paid, dispatch_uid="groupbuys.member_paid")
        for signal in (post_save, post_delete):
            signal.connect(
                receivers.refresh_product_page,
                sender=GroupOffer,
                dispatch_uid=f"groupbuys.refresh_product_page.{signal is post_save}",
            )
