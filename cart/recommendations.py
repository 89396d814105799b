"""The cart page's recommendations: what is often bought with the cart's products, and what
the visitor viewed last."""

from django.core.cache import cache as django_cache
from django.template.loader import render_to_string
from django.utils.translation import get_language

from catalog import cache, recently_viewed, selectors

#: Products in each section: one row on a desktop, so that the cart stays the page's subject.
CART_SHOWN = 4


#: What section() is given when its caller did not read the often-bought section's entry.
NOT_READ = object()


def section(request, *, product_ids: tuple[int, ...], often_bought=NOT_READ) -> str:
    """Products often bought with the cart's, and the visitor's recently viewed products,
    neither showing what is in the cart: at most four queries, whatever the cart holds.
    Forms carry catalog.cache's CSRF placeholder (the page swaps in the visitor's token).

    What is often bought with a set of products is the same for every shopper: its section
    is kept in the cache as HTML for the catalog's version (recommendations, prices and
    stock move it), so a cart page neither asks the database for it nor renders its cards
    (a third of the page's work) more than once per set of products and language. The
    recently viewed products are the visitor's and never shared. `often_bought`: the entry
    at often_bought_key() when the caller read it with its own (None: the cache has none).
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
    return _often_bought_section(request, in_cart, often_bought) + viewed_html


def often_bought_key(request, *, product_ids: tuple[int, ...]) -> str | None:
    """Where the often-bought section for these products on this page is kept (its entry:
    the catalog's version and the HTML), or None when it is not kept: no products, or a
    made-up query string (kept in the cards' "next")."""
    if not product_ids or request.GET:
        return None
    ids = ",".join(map(str, product_ids))
    return f"cart:often-bought:{get_language() or ''}:{request.path}:{ids}"


def _often_bought_section(request, in_cart: list[int], entry) -> str:
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
    key = often_bought_key(request, product_ids=tuple(in_cart))
    if key is None:
        return build()
    version = cache.versions([cache.CATALOG])[cache.CATALOG]
    if entry is NOT_READ:
        entry = django_cache.get(key)
    if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == version:
        return entry[1]
    html = build()
    django_cache.set(key, (version, html), timeout=cache.PAGE_TIMEOUT)
    return html
