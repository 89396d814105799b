"""Template tags other apps' pages use without importing promotions (accounts may not)."""

from django import template
from django.utils import timezone

from promotions import flash, selectors

register = template.Library()


@register.inclusion_tag("promotions/_membership.html")
def membership_summary(user) -> dict:
    """The shopper's membership tier, its discount and the spend to the next tier, in one
    query; renders nothing for a guest or a shop without tiers."""
    return {"membership": selectors.membership(user=user)}


@register.inclusion_tag("promotions/flash_block.html", takes_context=True)
def flash_block(context, product_id) -> dict:
    """The product page's flash sales (a hole of the cached page, so what is left and the
    countdown are right on every request): no query while the schedule is cached and Redis
    counts, 2 at most otherwise."""
    now = timezone.now()
    return {
        "cards": flash.cards_for_product(product_id=product_id, now=now),
        "now": now,
        "csrf_token": context.get("csrf_token"),
        "request": context.get("request"),
    }
