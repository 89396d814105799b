"""Reading carts: which cart a visitor has, its lines as the cart page shows them, prices."""

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from functools import cache

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import connections, router
from django.db.models import OuterRef, QuerySet, Subquery
from modeltranslation.utils import build_localized_fieldname

from cart.models import Cart, CartLine
from catalog import cache as catalog_cache
from catalog.models import OptionValue, Variant
from catalog.selectors import with_first_image
from promotions.pricing import CartPrice, LineInput
from promotions.services import price_cart
from shop.prepared import Prepared, set_prefetched
from shop.sql import quoted

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


def cart_owner(*, user, session) -> tuple[str, int] | None:
    """Which cart is the visitor's, the one rule every read of it follows: a signed-in
    shopper's is their user's, ("user_id", their id); a guest's only the one whose id their
    session holds, ("id", that id), and only a cart of no user (_owned_carts): a session
    naming a shopper's cart gives a guest nothing. None: a guest whose session names none."""
    if user.is_authenticated:
        return "user_id", user.pk
    cart_id = session.get(CART_SESSION_KEY)
    return ("id", cart_id) if isinstance(cart_id, int) else None


def _owned_carts(owner: str, value) -> QuerySet[Cart]:
    """The carts (one at most) whose `owner` column (cart_owner's) is `value`."""
    if owner == "user_id":
        return Cart.objects.filter(user_id=value)
    return Cart.objects.filter(pk=value, user__isnull=True)


class VisitorsCart:
    """A read of the visitor's cart, `build(_owned_carts(...))`, prepared once for each kind
    of owner (shop.prepared): every cart page and cart action reads one, and building the
    statement cost the ORM more than running it."""

    def __init__(self, build: Callable[[QuerySet[Cart]], QuerySet]):
        self._statements = {
            owner: Prepared(lambda value, owner=owner: build(_owned_carts(owner, value)), "value")
            for owner in ("user_id", "id")
        }

    def first(self, *, user, session) -> Cart | None:
        owner = cart_owner(user=user, session=session)
        return None if owner is None else self._statements[owner[0]].first(value=owner[1])

    def rows(self, *, user, session) -> list[tuple]:
        owner = cart_owner(user=user, session=session)
        return [] if owner is None else self._statements[owner[0]].rows(value=owner[1])


_VISITORS_CART = VisitorsCart(lambda carts: carts[:1])


def cart_for(*, user, session) -> Cart | None:
    """The visitor's cart, or None if they have none yet."""
    return _VISITORS_CART.first(user=user, session=session)


def guest_cart(*, session) -> Cart | None:
    """The cart the session gives a guest (cart_owner), whoever is signed in now."""
    return _VISITORS_CART.first(user=AnonymousUser(), session=session)


def item_count(*, user, session) -> int:
    """Units in the visitor's cart, in one query (none for a guest without a cart)."""
    owner = cart_owner(user=user, session=session)
    return 0 if owner is None else _units_in_cart(owner=owner[0], value=owner[1])


def _units_in_cart(*, owner: str, value: int) -> int:
    """SUM of the quantities of the cart whose `owner` column is `value` (a guest's cart:
    its id, and no user). The header shows it on every page, cached ones too, where
    building it through the ORM was a third of a returning guest's page: the statement is
    the one the ORM wrote (`CartLine.objects.filter(...).aggregate(Sum("quantity"))`),
    written once here."""
    using = router.db_for_read(CartLine)
    with connections[using].cursor() as cursor:
        cursor.execute(_units_sql(using, owner), [value])
        row = cursor.fetchone()
    return int(row[0] or 0) if row else 0


@cache
def _units_sql(using: str, owner: str) -> str:
    lines, quantity, line_cart = quoted(using, CartLine, "quantity", "cart")
    carts, cart_id, user, owned_by = quoted(using, Cart, "id", "user", owner)
    guest = f" AND {carts}.{user} IS NULL" if owner == "id" else ""  # as _owned_carts
    # Only the models' own names and a column chosen above; the value is a parameter.
    return (
        f"SELECT SUM({lines}.{quantity}) FROM {lines} INNER JOIN {carts} "  # noqa: S608 # nosec B608
        f"ON ({lines}.{line_cart} = {carts}.{cart_id}) "
        f"WHERE {carts}.{owned_by} = %s{guest}"
    )


_VISITORS_CART_TO_BUY_FROM = VisitorsCart(
    lambda carts: carts.annotate(
        ticked_line_id=Subquery(
            CartLine.objects.filter(cart_id=OuterRef("pk"), is_selected=True)
            .order_by()
            .values("pk")[:1]
        )
    )[:1]
)


def cart_to_buy_from(*, user, session) -> Cart | None:
    """The visitor's cart as cart_for() finds it, with `ticked_line_id`: one of its lines
    ticked to buy, or None. One statement built once: each posted checkout asks both, and
    asked for each in a statement of its own."""
    return _VISITORS_CART_TO_BUY_FROM.first(user=user, session=session)


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


#: A cart's lines with their variant, product and category, and the first picture: built
#: once (shop.prepared), as the cart page, the mini cart and checkout read it.
_LINES_FOR_PAGE = Prepared(
    lambda cart_id: with_first_image(
        CartLine.objects.filter(cart_id=cart_id)
        .select_related("variant__product__category")
        .defer(*UNSHOWN_FIELDS)
        .order_by("added_at", "pk"),
        product="variant__product",
    ),
    "cart_id",
)
#: The option values of a cart's variants with their option types, in option order.
_LINE_OPTIONS = Prepared(
    lambda cart_id: (
        Variant.option_values.through.objects.filter(
            variant_id__in=CartLine.objects.filter(cart_id=cart_id).values("variant_id")
        )
        .select_related("optionvalue__option_type")
        .order_by(
            "optionvalue__option_type__position",
            "optionvalue__option_type__name",
            "optionvalue__position",
            "optionvalue_id",
        )
    ),
    "cart_id",
)


def lines_for_page(*, cart: Cart) -> list[CartLine]:
    """Lines with their variant, product, options and first picture: two queries in all,
    each built once (the options are each variant's `option_values.all()`).

    The product's category is for pricing (offers on a category); the long texts no cart
    or checkout shows (descriptions, the search vector) stay in the database."""
    return with_options(_LINES_FOR_PAGE.objects(cart_id=cart.pk), cart_id=cart.pk)


def with_options(lines: list[CartLine], *, cart_id: int) -> list[CartLine]:
    """`lines` of cart `cart_id` with each variant's `option_values.all()` (in option
    order) read in one statement built once, as a prefetch would set them."""
    options = defaultdict(list)
    for link in _LINE_OPTIONS.objects(cart_id=cart_id):
        options[link.variant_id].append(link.optionvalue)
    for line in lines:
        set_prefetched(line.variant, "option_values", options[line.variant_id], OptionValue)
    return lines


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


def variants_to_add() -> QuerySet[Variant]:
    """Variants as adding to the cart reads them (cart.services.add_line and its messages,
    is_sellable, line_limit): price, stock and availability, the product's name and
    availability, the category's. Only those columns: building and reading the three whole
    rows was a quarter of an add's CPU. (The product's name is not translated.)"""
    return Variant.objects.select_related("product__category").only(
        "price",
        "stock",
        "is_active",
        "product__name",
        "product__is_published",
        "product__category__is_active",
    )


_VARIANT_TO_ADD = Prepared(lambda pk: variants_to_add().filter(pk=pk)[:1], "pk")
#: The largest id a PostgreSQL bigint holds: a larger one names no variant (and PostgreSQL
#: would refuse it as a parameter).
MAX_ID = 2**63 - 1


def variant_to_add(*, pk: int) -> Variant | None:
    """The variant with id `pk` as variants_to_add() reads it, or None: the statement built
    once (shop.prepared), as every add reads it."""
    return _VARIANT_TO_ADD.first(pk=pk) if 0 < pk <= MAX_ID else None


def variant_to_buy(*, pk: int) -> Variant:
    """A variant with what is_sellable() reads (its product and category)."""
    return Variant.objects.select_related("product__category").get(pk=pk)
