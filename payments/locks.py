"""Every row lock of the payments app, in one place, always in primary-key order."""

from payments.models import Payment


def payment_for_update(*, pk: int) -> Payment:
    return Payment.objects.select_for_update().select_related("order").get(pk=pk)


def payment_by_reference_for_update(*, provider: str, reference: str) -> Payment | None:
    """The payment a callback is about, locked: deliveries of one payment's events queue here,
    so 'already processed?' and 'process' are one step for each of them."""
    if not reference:
        return None
    return (
        Payment.objects.select_for_update()
        .filter(provider=provider, reference=reference)
        .select_related("order")
        .order_by("pk")
        .first()
    )


def payment_of_provider_for_update(*, provider: str, pk: int) -> Payment | None:
    """For events that name our payment id (from metadata) rather than a reference."""
    return (
        Payment.objects.select_for_update()
        .filter(provider=provider, pk=pk)
        .select_related("order")
        .order_by("pk")
        .first()
    )
