"""Reading carts: which cart a visitor has, its lines as the cart page shows them, prices."""

from collections.abc import Callable
from decimal import Decimal

from django.conf import settings
from django.db.models import Prefetch, Sum
from modeltranslation.utils import build_localized_fieldname

from cart.models import Cart, CartLine
from catalog import cache as catalog_cache
from catalog.models import OptionValue, Variant
from catalog.selectors import with_first_image
from promotions.pricing import CartPrice, LineInput
from promotions.services import price_cart

#: Where a guest's cart id lives in their session. The session is server-side, so the id
#: cannot be forged, and it survives the session key rotating on sign-in.
CART_SESSION_KEY = "cart_id"


#: Where the cart reads the subtotal from which shipping is free. Shipping methods belong
#: to the orders app, above this one: it hands its reader in when it starts (OrdersConfig).
_free_shipping_source: Callable[[], Decimal | None] | None = None


def set_free_shipping_source(source: Callable[[], Decimal | None]) -> None:
    global _free_shipping_source
    _free_shipping_source = source


def free_shipping_threshold() -> Decimal | None:
    """Kept per catalog version in each process (catalog.cache.shared): a change of the
    shipping methods moves the catalog's version (orders.receivers), so no query while it
    stands."""
    if _free_shipping_source is None:
        return None
    return catalog_cache.shared("free-shipping-threshold", _free_shipping_source)


def cart_for(*, user, session) -> Cart | None:
    """The visitor's cart, or None if they have none yet."""
    if user.is_authenticated:
        return Cart.objects.filter(user=user).first()
    return guest_cart(session=session)


def guest_cart(*, session) -> Cart | None:
    """A guest's cart: found only through the id in their session, never by a shopper's."""
    cart_id = session.get(CART_SESSION_KEY)
    if not isinstance(cart_id, int):
        return None
    return Cart.objects.filter(pk=cart_id, user__isnull=True).first()


def item_count(*, user, session) -> int:
    """Units in the visitor's cart, in one query (none for a guest without a cart)."""
    if user.is_authenticated:
        lines = CartLine.objects.filter(cart__user=user)
    elif isinstance(cart_id := session.get(CART_SESSION_KEY), int):
        lines = CartLine.objects.filter(cart_id=cart_id, cart__user__isnull=True)
    else:
        return 0
    return lines.aggregate(n=Sum("quantity"))["n"] or 0


def unshown_fields(product: str) -> list[str]:
    """Long columns of the product at lookup `product` and of its category that no cart or
    checkout page reads: left in the database (fetching and decoding them cost more than the
    rest of the row)."""
    return [
        f"{product}__description",
        # The category's description is translated: a column per language.
        *(
            f"{product}__category__{build_localized_fieldname('description', code)}"
            for code, _name in settings.LANGUAGES
        ),
    ]


#: Long columns of a line's product and category that no cart or checkout page reads.
UNSHOWN_FIELDS = unshown_fields("variant__product")


def lines_for_page(*, cart: Cart) -> list[CartLine]:
    """Lines with their variant, product, options and first picture: three queries in all.

    The product's category is for pricing (offers on a category); the long texts no cart
    or checkout shows (descriptions, the search vector) stay in the database."""
    queryset = (
        CartLine.objects.filter(cart=cart)
        .select_related("variant__product__category")
        .defer(*UNSHOWN_FIELDS)
        .prefetch_related(
            Prefetch(
                "variant__option_values",
                queryset=OptionValue.objects.select_related("option_type").order_by(
                    "option_type__position", "option_type__name", "position"
                ),
            )
        )
        .order_by("added_at", "pk")
    )
    return list(with_first_image(queryset, product="variant__product"))


def price_lines(
    *,
    cart: Cart,
    lines: list[CartLine],
    user,
    shipping=None,
    destination=None,
    free_shipping_from: Decimal | None = None,
    points: int = 0,
) -> CartPrice:
    """Price the ticked lines that can be bought, through the one pricing function; tax
    for `destination` (a taxes Destination), or estimated for the seller's country; paying
    with up to `points` points (chosen at checkout)."""
    return price_cart(
        free_shipping_from=free_shipping_from,
        lines=[
            LineInput(
                key=line.pk,
                variant_id=line.variant_id,
                product_id=line.variant.product_id,
                category_path=line.variant.product.category.subtree_path,
                unit_price=line.variant.price,
                quantity=line.quantity,
                tax_class_id=line.variant.product.tax_class_id,
                group_id=line.group_id,
            )
            for line in lines
            if line.is_selected and not getattr(line, "problem", "")
        ],
        shipping=shipping,
        coupon_code=cart.coupon_code,
        user=user if user.is_authenticated else None,
        destination=destination,
        points=points,
    )


def variant_to_buy(*, pk: int) -> Variant:
    """A variant with what is_sellable() reads (its product and category)."""
    return Variant.objects.select_related("product__category").get(pk=pk)
