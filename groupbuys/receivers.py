"""Receivers connected in GroupbuysConfig.ready: the orders app (below us) says an order was
paid, and the group's seat is counted by a task; an offer changed refreshes its product page.
The work is done by services."""

from catalog import cache as catalog_cache


def count_member_paid(sender, order_id, **kwargs) -> None:
    from groupbuys.tasks import count_member_paid

    count_member_paid.delay(order_id=order_id)


def refresh_product_page(sender, instance, **kwargs) -> None:
    catalog_cache.bump([catalog_cache.product_scope(instance.product_id)])
