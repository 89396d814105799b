"""The cart page's recommendations, as one tag: the cart's view and template stay as they are."""

from django import template

from catalog import recently_viewed, selectors

register = template.Library()

#: Products in each section: one row on a desktop, so that the cart stays the page's subject.
CART_SHOWN = 4


@register.inclusion_tag("cart/_recommendations.html", takes_context=True)
def cart_recommendations(context) -> dict:
    """Products often bought with the cart's, and the visitor's recently viewed products,
    neither showing what is in the cart: at most four queries, whatever the cart holds."""
    request = context["request"]
    in_cart = list(dict.fromkeys(line.variant.product_id for line in context.get("lines", [])))
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "often_bought": selectors.recommended_with(product_ids=in_cart, limit=CART_SHOWN),
        "recently_viewed": selectors.recently_viewed(
            product_ids=recently_viewed.viewed_product_ids(request),
            exclude=in_cart,
            limit=CART_SHOWN,
        ),
    }
