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
from django.utils import timezone
from django.utils.translation import get_language

from cart import recommendations
from cart.models import Cart, CartLine
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
    """The body's HTML (CSRF tokens as catalog.cache's placeholder, swapped for the
    visitor's own when the page is sent), the units in the cart (the header's count) and the
    cart's products (for recommendations)."""

    html: str
    count: int
    product_ids: tuple[int, ...]


@dataclass(frozen=True)
class Key:
    value: str
    #: The lines' states the key was made from: a body is kept only if built from them.
    states: tuple[tuple, ...]


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


def key_for(*, cart: Cart, user) -> Key | None:
    """The key of this cart's body as it is now, or None when it is rendered each time.

    One query (the lines' states; a signed-in shopper's membership tier one more) and two
    cache round trips (the catalog's and offers' versions, the tax rates' version), plus the
    flash sales' schedule."""
    if cart.coupon_code:
        return None
    states = line_states(cart=cart)
    if not all(_needs_no_notice(state) for state in states):
        return None
    now = timezone.now()
    versions = catalog_cache.versions([catalog_cache.CATALOG, promotions_selectors.OFFERS_SCOPE])
    offers = promotions_selectors.running_offers(
        now=now, version=versions[promotions_selectors.OFFERS_SCOPE]
    )
    sales = flash.running_by_variant(variant_ids=[state[1] for state in states], now=now)
    parts = (
        cart.pk,
        _member(user),
        get_language(),
        states,
        sorted(versions.items()),
        sorted(running.offer.pk for running in offers),
        sorted((sale.pk, sale.price) for sale in sales.values()),
        tax_selectors.version(),
        timezone.localdate(now),
        tax_conf.prices_include_tax(),
        tax_conf.rounding(),
        tax_conf.seller_country(),
        tax_conf.seller_region(),
        settings.SHOP_CURRENCY,
    )
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()
    return Key(value=f"cart:body:{cart.pk}:{digest}", states=states)


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


def kept(key: Key) -> Body | None:
    return cache.get(key.value)


def keep(key: Key, body: Body, *, lines: list[CartLine]) -> None:
    """Keep `body`, built from `lines`, unless the lines moved since the key was made (a
    price changed between the two reads): it would be kept under a state it does not show."""
    if tuple(state_of(line) for line in lines) == key.states:
        cache.set(key.value, body, timeout=TIMEOUT)


def page(request, *, body: Body) -> str:
    """The whole cart page for this visitor: the layout around the body (header, category
    menu, footer: catalog.cache.kept_layout, with the layout's holes for the header's links
    and count and the messages), and this visitor's parts filled in: the header, the
    messages, the cart's body, the recommendations, one CSRF token.

    Rendering the layout was half of a kept cart page's work."""
    return catalog_cache.fill_holes(
        request,
        catalog_cache.kept_layout(request, "cart/detail.html"),
        holes={
            "cart-body": lambda: body.html,
            "cart-recommendations": partial(
                recommendations.section, request, product_ids=body.product_ids
            ),
        },
    )
