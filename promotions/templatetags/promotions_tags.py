"""Template tags other apps' pages use without importing promotions (accounts may not)."""

from django import template

from promotions import selectors

register = template.Library()


@register.inclusion_tag("promotions/_membership.html")
def membership_summary(user) -> dict:
    """The shopper's membership tier, its discount and the spend to the next tier, in one
    query; renders nothing for a guest or a shop without tiers."""
    return {"membership": selectors.membership(user=user)}
