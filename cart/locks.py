"""Every row lock of the cart app, in one place."""

from django.db.models import QuerySet
from django.utils import timezone

from cart.models import Cart, CartLine


def cart_for_update(*, pk: int) -> Cart | None:
    """Lock a cart row: changes to one cart's lines queue here, so two adds of a variant not
    yet in the cart cannot both create its line (the unique (cart, variant) constraint)."""
    return Cart.objects.select_for_update().filter(pk=pk).order_by("pk").first()


def touch_cart_for_update(*, pk: int) -> None:
    """Lock a cart row as cart_for_update() does, by marking it changed (its `updated_at`):
    one statement where a change of its lines would take two (the lock, then the mark).
    Rolled back with the rest when the change is refused."""
    Cart.objects.filter(pk=pk).update(updated_at=timezone.now())


def own_cart_for_update(*, user) -> int:
    """The signed-in `user`'s cart, made if they have none or else marked changed (its
    `updated_at`), and locked as cart_for_update() does, in one statement (INSERT ... ON
    CONFLICT DO UPDATE: two shoppers' browsers at once make one cart). Returns its pk."""
    (cart,) = Cart.objects.bulk_create(
        [Cart(user=user)],
        update_conflicts=True,
        unique_fields=["user"],
        update_fields=["updated_at"],
    )
    return cart.pk


def lines_for_update(*, cart: Cart, pks) -> QuerySet[CartLine]:
    """Lock the cart's lines `pks` (their rows only: not their variants', which every cart
    holding the variant and every checkout of it would otherwise queue behind), with what a
    change of quantity reads: the quantity, the tick, the group buy and the variant's stock."""
    return (
        CartLine.objects.select_for_update(of=("self",))
        .filter(cart=cart, pk__in=pks)
        .select_related("variant")
        .only("quantity", "is_selected", "group_id", "variant__stock")
        .order_by("pk")
    )
