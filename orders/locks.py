"""Every row lock of the orders app, in one place, always in primary-key order."""

from datetime import datetime

from cart.models import Cart
from orders.models import Order, OrderState


def cart_for_update(*, pk: int) -> Cart | None:
    """Lock the cart being checked out: two submits of one checkout queue here."""
    return Cart.objects.select_for_update().filter(pk=pk).order_by("pk").first()


def order_for_update(*, pk: int) -> Order:
    return Order.objects.select_for_update().get(pk=pk)


def expired_orders_for_update(*, before: datetime, limit: int) -> list[Order]:
    """Unpaid orders placed before `before`, locked; rows another process holds are skipped,
    so two runs at once never cancel the same order twice."""
    return list(
        Order.objects.select_for_update(skip_locked=True)
        .filter(state=OrderState.PENDING_PAYMENT, created_at__lt=before)
        .order_by("pk")[:limit]
    )


def counter_for_update(*, series: str):
    """The counter of a document series (invoices, credit notes), locked until the
    transaction that takes a number from it commits or rolls back: numbers never skip."""
    from orders.models import DocumentCounter

    DocumentCounter.objects.get_or_create(series=series)
    return DocumentCounter.objects.select_for_update().filter(series=series).order_by("pk").get()
