"""The cart page's recommendations, as one tag: the cart's view and template stay as they are."""

from django import template

from catalog import cache, recently_viewed, selectors

register = template.Library()

#: Products in each section: one row on a desktop, so that the cart stays the page's subject.
CART_SHOWN = 4


@register.inclusion_tag("cart/_recommendations.html", takes_context=True)
def cart_recommendations(context) -> dict:
    """Products often bought with the cart's, and the visitor's recently viewed products,
    neither showing what is in the cart: at most four queries, whatever the cart holds.

    What is often bought with a set of products is the same for every shopper: it is kept
    in the cache for the catalog's version (recommendations, prices and stock move it), so
    a cart page asks the database for it once per set of products, not on every view."""
    request = context["request"]
    in_cart = sorted({line.variant.product_id for line in context.get("lines", [])})
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "often_bought": cache.cached_data(
            "cart-often-bought:" + ",".join(map(str, in_cart)),
            scopes=[cache.CATALOG],
            build=lambda: selectors.recommended_with(product_ids=in_cart, limit=CART_SHOWN),
            timeout=cache.PAGE_TIMEOUT,
        ),
        "recently_viewed": selectors.recently_viewed(
            product_ids=recently_viewed.viewed_product_ids(request),
            exclude=in_cart,
            limit=CART_SHOWN,
        ),
    }
