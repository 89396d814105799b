"""The cart page's body (lines, totals, coupon form), kept as HTML per state of the cart.

Reading a cart's lines with their products and pictures, pricing them and rendering a row per
line was most of the cart page's work, and grew with the number of lines. Here one query reads
what can change under a cart without any version moving (each line's quantity, tick and seen
price; its variant's price, stock and availability); the body is kept under a key made of
that, the cart's id, the language and the versions and running sets of everything else
pricing reads:

- the catalog's version (names, pictures, options; the free-shipping threshold, which
  the shipping methods' changes move);
- the offers' schedule version and which offers run now (so an offer that starts or ends
  moves the key on time), and the flash sales running now on the cart's variants;
- the tax rates' version and today's date (rates have periods), and the tax settings.

The key holds every input of the body, so an entry can only ever be read for the same cart
in the same state: no cache serves one shopper's cart to another (the cart's id is in the
key and the CSRF token is a placeholder swapped for the visitor's own), and a price, stock
or promotion change makes a new key. Only carts whose lines need no notice are kept: no
coupon (its uses and limits move without a version), no group buy line (its price depends on
the group's seats), no line whose price changed, that is sold out, no longer sold or above
the stock; those are rendered as before. A signed-in shopper's key holds their membership
tier as it is now (it prices their cart). Checkout never reads this: it prices the cart itself.
"""

import hashlib
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.db import router
from django.utils import timezone
from django.utils.translation import get_language

from cart import recommendations
from cart.models import Cart, CartLine
from cart.selectors import VisitorsCart
from cart.services import MAX_LINE_QUANTITY
from catalog import cache as catalog_cache
from promotions import flash
from promotions import selectors as promotions_selectors
from shop.prepared import Prepared
from taxes import conf as tax_conf
from taxes import selectors as tax_selectors

#: What each line's state is read as, in one query (the fields below, in this order).
STATE_FIELDS = (
    "pk",
    "variant_id",
    "quantity",
    "is_selected",
    "seen_price",
    "group_id",
    "variant__price",
    "variant__stock",
    "variant__is_active",
    "variant__product__is_published",
    "variant__product__category__is_active",
    "variant__product_id",
)
#: A safety net behind the key: a kept body lives at most this long (seconds).
TIMEOUT = 15 * 60


@dataclass(frozen=True)
class Body:
    """The body's HTML as UTF-8 (CSRF tokens as catalog.cache's placeholder, swapped for the
    visitor's own when the page is sent), the units in the cart (the header's count) and the
    cart's products (for recommendations)."""

    html: bytes
    count: int
    product_ids: tuple[int, ...]


#: Where a cart's body is kept, per cart and language: the entry is (digest, Body), the
#: digest of every input the body was built from, served only while it is the current one.
PREFIX = "cart:body-entry:"


@dataclass(frozen=True)
class Key:
    #: The cache key of the cart's body and the digest of the cart's state now.
    value: str
    digest: str
    #: The lines' states the key was made from: a body is kept only if built from them.
    states: tuple[tuple, ...]
    #: What was read with the versions: the body kept for this state (or None), and the
    #: recommendations' often-bought entry for the cart's products (recommendations.section).
    body: Body | None
    product_ids: tuple[int, ...]
    often_bought: object


_LINE_STATES = Prepared(
    lambda cart_id: (
        CartLine.objects.filter(cart_id=cart_id)
        .order_by("added_at", "pk")
        .values_list(*STATE_FIELDS)
    ),
    "cart_id",
)


def line_states(*, cart: Cart) -> tuple[tuple, ...]:
    """Each line's state (STATE_FIELDS) in the page's order: one query, no model rows,
    built once (shop.prepared)."""
    return tuple(_LINE_STATES.rows(cart_id=cart.pk))


#: The cart's own columns, read with its lines' states by cart_with_states().
_CART_COLUMNS = tuple(field.attname for field in Cart._meta.concrete_fields)


def _with_states(carts):
    """`carts` (one at most) with each line's state (STATE_FIELDS) in the page's order, a
    row per line (one row of NULL states for a cart without lines)."""
    return carts.order_by("lines__added_at", "lines__pk").values_list(
        *_CART_COLUMNS, *(f"lines__{field}" for field in STATE_FIELDS)
    )


_CART_WITH_STATES = VisitorsCart(_with_states)


def cart_with_states(*, user, session) -> tuple[Cart | None, tuple[tuple, ...] | None]:
    """The visitor's cart as cart.selectors.cart_for() finds it (cart_owner's rule) and its
    lines' states as line_states() reads them, in one statement built once: the cart page
    asked for each in a query of its own. (None, None) when the visitor has no cart."""
    rows = _CART_WITH_STATES.rows(user=user, session=session)
    if not rows:
        return None, None
    columns = len(_CART_COLUMNS)
    cart = Cart.from_db(router.db_for_read(Cart), _CART_COLUMNS, rows[0][:columns])
    return cart, tuple(row[columns:] for row in rows if row[columns] is not None)


def state_of(line: CartLine) -> tuple:
    """A line read by cart.selectors.lines_for_page, as line_states() reads it."""
    variant = line.variant
    product = variant.product
    return (
        line.pk,
        line.variant_id,
        line.quantity,
        line.is_selected,
        line.seen_price,
        line.group_id,
        variant.price,
        variant.stock,
        variant.is_active,
        product.is_published,
        product.category.is_active,
        variant.product_id,
    )


def _needs_no_notice(state: tuple) -> bool:
    """As cart.services.reconcile_lines sees it: nothing to tell, nothing to correct."""
    (_pk, _v, quantity, _sel, seen, group_id, price, stock, active, published, shown, _p) = state
    return (
        active
        and published
        and shown
        and stock > 0
        and quantity <= min(stock, MAX_LINE_QUANTITY)
        and seen == price
        and group_id is None
    )


def key_for(request, *, cart: Cart, states: tuple[tuple, ...] | None = None) -> Key | None:
    """The key of this cart's body as it is now, with the body kept for it, or None when it
    is rendered each time.

    One query (the lines' states; a signed-in shopper's membership tier one more) and one
    cache round trip: the catalog's, offers' and flash sales' versions, the tax rates'
    version, the kept body and the recommendations' section in one MGET. `states`: the
    lines' states when the caller read them with the cart (cart_with_states)."""
    if cart.coupon_code:
        return None
    if states is None:
        states = line_states(cart=cart)
    if not all(_needs_no_notice(state) for state in states):
        return None
    now = timezone.now()
    language = get_language()
    value = f"{PREFIX}{cart.pk}:{language}"
    product_ids = tuple(sorted({state[-1] for state in states}))
    often_bought_key = recommendations.often_bought_key(request, product_ids=product_ids)
    keys = [value, tax_selectors.VERSION_KEY, *([often_bought_key] if often_bought_key else [])]
    found, versions = catalog_cache.read_many_with_versions(
        keys, [catalog_cache.CATALOG, promotions_selectors.OFFERS_SCOPE]
    )
    offers = promotions_selectors.running_offers(
        now=now, version=versions[promotions_selectors.OFFERS_SCOPE]
    )
    sales = flash.running_by_variant(variant_ids=[state[1] for state in states], now=now)
    parts = (
        cart.pk,
        _member(request.user),
        language,
        states,
        sorted(versions.items()),
        sorted(running.offer.pk for running in offers),
        sorted((sale.pk, sale.price) for sale in sales.values()),
        tax_selectors.version(read=found),
        timezone.localdate(now),
        tax_conf.prices_include_tax(),
        tax_conf.rounding(),
        tax_conf.seller_country(),
        tax_conf.seller_region(),
        settings.SHOP_CURRENCY,
    )
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()
    entry = found.get(value)
    kept = entry[1] if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == digest else None
    return Key(
        value=value,
        digest=digest,
        states=states,
        body=kept,
        product_ids=product_ids,
        often_bought=found.get(often_bought_key) if often_bought_key else None,
    )


def _member(user) -> tuple:
    """What of a signed-in shopper prices their cart: their membership tier as it is now
    (read each time: a paid order or the merchant moves it). Points are spent at checkout."""
    if not user.is_authenticated:
        return ()
    membership = promotions_selectors.membership(user=user)
    tier = membership.tier if membership else None
    if tier is None:
        return (user.pk,)
    return (user.pk, tier.pk, tier.name, tier.percent, tier.stacks)


def keep(key: Key, body: Body, *, lines: list[CartLine]) -> None:
    """Keep `body`, built from `lines`, unless the lines moved since the key was made (a
    price changed between the two reads): it would be kept under a state it does not show."""
    if tuple(state_of(line) for line in lines) == key.states:
        cache.set(key.value, (key.digest, body), timeout=TIMEOUT)


def page(request, *, body: Body, key: Key | None = None) -> bytes:
    """The whole cart page for this visitor: the layout around the body (header, category
    menu, footer: catalog.cache.kept_layout_parts, with the layout's holes for the header's
    links and count and the messages), and this visitor's parts filled in: the header, the
    messages, the cart's body, the recommendations, one CSRF token.

    Rendering the layout was half of a kept cart page's work; then searching, replacing in
    and encoding the page as text a sixth of what was left (a 45 KB page for 20 lines): the
    layout and the body are kept as UTF-8 and joined."""
    return catalog_cache.fill(
        request,
        catalog_cache.kept_layout_parts(request, "cart/detail.html"),
        holes={
            "cart-recommendations": partial(
                recommendations.section,
                request,
                product_ids=body.product_ids,
                often_bought=(
                    key.often_bought
                    if key is not None and key.product_ids == body.product_ids
                    else recommendations.NOT_READ
                ),
            ),
        },
        filled={"cart-body": body.html},
    )
