"""Every row lock of the cart app, in one place."""

from django.utils import timezone

from cart.models import Cart, CartLine
from shop.prepared import Prepared


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


_LINE_FOR_UPDATE = Prepared(
    lambda cart_id, variant_id: CartLine.objects.select_for_update().filter(
        cart_id=cart_id, variant_id=variant_id
    )[:1],
    "cart_id",
    "variant_id",
)


def line_for_update(*, cart: Cart, variant_id: int) -> CartLine | None:
    """Lock the cart's line of a variant, if it has one (the statement built once,
    shop.prepared: every add to a cart reads it). The cart's row is locked first
    (touch_cart_for_update), so two adds of a variant not yet in the cart queue there."""
    return _LINE_FOR_UPDATE.first(cart_id=cart.pk, variant_id=variant_id)


_LINES_FOR_UPDATE = Prepared(
    lambda cart_id: (
        CartLine.objects.select_for_update(of=("self",))
        .filter(cart_id=cart_id)
        .select_related("variant")
        .only("quantity", "is_selected", "group_id", "variant__stock")
        .order_by("pk")
    ),
    "cart_id",
)


def lines_for_update(*, cart: Cart) -> list[CartLine]:
    """Lock the cart's lines (their rows only: not their variants', which every cart
    holding the variant and every checkout of it would otherwise queue behind), with what a
    change of quantity reads: the quantity, the tick, the group buy and the variant's stock.
    All of them, in one statement built once (shop.prepared): a change of quantities posts
    every line of the cart."""
    return _LINES_FOR_UPDATE.objects(cart_id=cart.pk)
