"""The cart page's recommendations: what is often bought with the cart's products, and what
the visitor viewed last."""

from django.template.loader import render_to_string

from catalog import cache, recently_viewed, selectors

#: Products in each section: one row on a desktop, so that the cart stays the page's subject.
CART_SHOWN = 4


def section(request, *, product_ids: tuple[int, ...]) -> str:
    """Products often bought with the cart's, and the visitor's recently viewed products,
    neither showing what is in the cart: at most four queries, whatever the cart holds.
    Forms carry catalog.cache's CSRF placeholder (the page swaps in the visitor's token).

    What is often bought with a set of products is the same for every shopper: its section
    is kept in the cache as HTML for the catalog's version (recommendations, prices and
    stock move it), so a cart page neither asks the database for it nor renders its cards
    (a third of the page's work) more than once per set of products and language. The
    recently viewed products are the visitor's and never shared.
    """
    in_cart = list(product_ids)
    viewed = selectors.recently_viewed(
        product_ids=recently_viewed.viewed_product_ids(request), exclude=in_cart, limit=CART_SHOWN
    )
    viewed_html = ""
    if viewed:
        viewed_html = render_to_string(
            "catalog/_recently_viewed.html",
            {"recently_viewed": viewed, "request": request, "csrf_token": cache.CSRF_PLACEHOLDER},
        )
    return _often_bought_section(request, in_cart) + viewed_html


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
