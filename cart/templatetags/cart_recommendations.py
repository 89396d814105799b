"""The cart page's recommendations, as one tag: the cart's view and template stay as they are."""

from django import template
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from catalog import cache, recently_viewed, selectors

register = template.Library()

#: Products in each section: one row on a desktop, so that the cart stays the page's subject.
CART_SHOWN = 4


@register.simple_tag(takes_context=True)
def cart_recommendations(context) -> str:
    """Products often bought with the cart's, and the visitor's recently viewed products,
    neither showing what is in the cart: at most four queries, whatever the cart holds.

    What is often bought with a set of products is the same for every shopper: its section
    is kept in the cache as HTML for the catalog's version (recommendations, prices and
    stock move it), so a cart page neither asks the database for it nor renders its cards
    (a third of the page's work) more than once per set of products and language. The cards'
    forms carry a placeholder for the CSRF token, swapped for the shopper's own here, as on
    cached catalog pages; the recently viewed products are the visitor's and never shared.
    """
    request = context["request"]
    in_cart = list(context.get("cart_product_ids", ()))
    often_bought = _often_bought_section(request, in_cart)
    if cache.CSRF_PLACEHOLDER in often_bought:
        often_bought = often_bought.replace(cache.CSRF_PLACEHOLDER, get_token(request))
    viewed = selectors.recently_viewed(
        product_ids=recently_viewed.viewed_product_ids(request), exclude=in_cart, limit=CART_SHOWN
    )
    if viewed:
        viewed_html = render_to_string(
            "catalog/_recently_viewed.html",
            {"recently_viewed": viewed, "request": request, "csrf_token": context["csrf_token"]},
        )
    else:
        viewed_html = ""
    # Both rendered by templates (autoescaped); the token is Django's own.
    return mark_safe(often_bought + viewed_html)  # noqa: S308 # nosec


def _often_bought_section(request, in_cart: list[int]) -> str:
    def build() -> str:
        return render_to_string(
            "cart/_recommendations.html",
            {
                "often_bought": selectors.recommended_with(product_ids=in_cart, limit=CART_SHOWN),
                # The cards' "next" fields send the shopper back to this page.
                "request": request,
                "csrf_token": cache.CSRF_PLACEHOLDER,
            },
        )

    if not in_cart:
        return ""
    if request.GET:  # a made-up query string (kept in the cards' "next") is not kept
        return build()
    return cache.cached_data(
        f"cart-often-bought-html:{request.path}:" + ",".join(map(str, in_cart)),
        scopes=[cache.CATALOG],
        build=build,
        timeout=cache.PAGE_TIMEOUT,
    )
