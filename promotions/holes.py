"""The product page's parts that promotions fills on every request (catalog.cache's
PRODUCT_HOLES: the page around them is kept for every visitor)."""

from django.template.loader import render_to_string
from django.utils import timezone

from catalog import cache as catalog_cache
from promotions import flash


def flash_block(request, product_id: int) -> str:
    """The product's flash sales, what is left and the countdown: no query while the
    schedule is cached and Redis counts, 2 at most otherwise. Nothing at all, no template
    rendered, for a product without one (most product pages)."""
    now = timezone.now()
    cards = flash.cards_for_product(product_id=product_id, now=now)
    if not cards:
        return ""
    context = {
        "cards": cards,
        "now": now,
        "request": request,
        "csrf_token": catalog_cache.CSRF_PLACEHOLDER,  # the visitor's, put in by cache.fill
    }
    return render_to_string("promotions/flash_block.html", context)
