"""Every row lock of the payments app, in one place.

Lock order: the order first (orders.locks.order_for_update), then its payments in
primary-key order. Callbacks and refunds both follow it, so they queue and never deadlock.
"""

from orders import locks as order_locks
from payments.models import Payment, Refund


def payment_for_update(*, pk: int) -> Payment:
    """The payment, locked after its order (which is locked here first)."""
    order_id = Payment.objects.values_list("order_id", flat=True).get(pk=pk)
    order_locks.order_for_update(pk=order_id)
    return Payment.objects.select_for_update(of=("self",)).select_related("order").get(pk=pk)


def payments_of_order_for_update(*, order_id: int) -> list[Payment]:
    """The order's payments, locked in primary-key order (the order is locked already)."""
    return list(
        Payment.objects.select_for_update(of=("self",))
        .filter(order_id=order_id)
        .select_related("order")
        .order_by("pk")
    )


def payment_id_for_callback(*, provider: str, reference: str, payment_id: str) -> int | None:
    """The payment a callback is about: by the provider's reference, or by our id carried in
    the provider's metadata. Not locked: lock it with payment_for_update()."""
    if reference:
        found = (
            Payment.objects.filter(provider=provider, reference=reference)
            .order_by("pk")
            .values_list("pk", flat=True)
            .first()
        )
        if found is not None:
            return found
    if payment_id.isdigit():
        return (
            Payment.objects.filter(provider=provider, pk=int(payment_id))
            .values_list("pk", flat=True)
            .first()
        )
    return None


def refund_for_update(*, pk: int) -> Refund:
    payment = payment_for_update(pk=Refund.objects.values_list("payment_id", flat=True).get(pk=pk))
    refund = Refund.objects.select_for_update(of=("self",)).get(pk=pk)
    refund.payment = payment
    return refund
