"""Every row lock of the cart app, in one place."""

from cart.models import Cart


def cart_for_update(*, pk: int) -> Cart | None:
    """Lock a cart row: changes to one cart's lines queue here, so two adds of a variant not
    yet in the cart cannot both create its line (the unique (cart, variant) constraint)."""
    return Cart.objects.select_for_update().filter(pk=pk).order_by("pk").first()
