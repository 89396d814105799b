"""Every row lock of the orders app, in one place, always in primary-key order.

Lock order across apps: the cart, then the order, then its payments, then variants."""

from datetime import datetime

from cart.models import Cart
from orders.models import Order, OrderMail, OrderStatus, PaymentStatus
from shop.prepared import Prepared

_CART_FOR_UPDATE = Prepared(
    lambda pk: Cart.objects.select_for_update().filter(pk=pk).order_by("pk")[:1], "pk"
)


def cart_for_update(*, pk: int) -> Cart | None:
    """Lock the cart being checked out: two submits of one checkout queue here (the
    statement built once, shop.prepared: every order takes this lock)."""
    return _CART_FOR_UPDATE.first(pk=pk)


def order_for_update(*, pk: int) -> Order:
    return Order.objects.select_for_update().get(pk=pk)


_UNSENT_MAIL_FOR_UPDATE = Prepared(
    lambda pk: (
        OrderMail.objects.select_for_update(of=("self",))
        .filter(pk=pk, sent_at__isnull=True)
        .select_related("order__shipping_method")[:1]
    ),
    "pk",
)


def unsent_mail_for_update(*, pk: int) -> OrderMail | None:
    """The queued order mail `pk`, locked until its sending commits; None once it was sent
    (or its order deleted). Two deliveries of one task queue here, and the second finds it
    sent. Read with its order and the order's shipping method, which the mail shows (their
    rows are not locked: a mail must not hold up a payment of its order), in one statement
    built once (shop.prepared): every order placed sends a mail."""
    return _UNSENT_MAIL_FOR_UPDATE.first(pk=pk)


def expired_order_for_update(*, pk: int, now: datetime) -> Order | None:
    """The order `pk`, locked, if it is still open, unpaid and past its deadline; None if
    another process holds it (SKIP LOCKED) or it was paid or cancelled meanwhile."""
    return (
        Order.objects.select_for_update(skip_locked=True)
        .filter(
            pk=pk,
            status=OrderStatus.OPEN,
            payment_status=PaymentStatus.UNPAID,
            payment_deadline__lt=now,
        )
        .first()
    )


def counter_for_update(*, series: str):
    """The counter of a document series (invoices, credit notes), locked until the
    transaction that takes a number from it commits or rolls back: numbers never skip."""
    from orders.models import DocumentCounter

    DocumentCounter.objects.get_or_create(series=series)
    return DocumentCounter.objects.select_for_update().filter(series=series).order_by("pk").get()


def guest_orders_for_update(*, email: str) -> list[int]:
    """Lock the guest orders placed with `email` (any case); their ids, in pk order."""
    from django.db.models.functions import Upper

    return list(
        Order.objects.select_for_update()
        .alias(email_upper=Upper("email"))
        .filter(user=None, email_upper=email.strip().upper())
        .order_by("pk")
        .values_list("pk", flat=True)
    )
