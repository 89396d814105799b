"""The group buys part of the cached product page (catalog imports nothing of group buys).

It is the same for every visitor: rendered into the product page that catalog.cache keeps,
and invalidated by groupbuys.services on every change of a group's seats (and by expiry)."""

from django import template

from groupbuys import selectors

register = template.Library()


@register.inclusion_tag("groupbuys/_product_offer.html", takes_context=True)
def group_offer(context, product, chosen):
    """ "Start a group at ¥X" and the open groups to join: no query when the product has no
    running offer but the offer's lookup (1), two more with one (variants, open groups)."""
    offer = selectors.running_offer(product_id=product.pk)
    shared = {"csrf_token": context.get("csrf_token"), "product": product, "chosen": chosen}
    if offer is None:
        return {**shared, "offer": None}
    covered = chosen is not None and offer.covers(chosen)
    return {
        **shared,
        "offer": offer,
        "covered": covered,
        "groups": selectors.open_groups(offer=offer),
    }
