"""The reviews part of the cached product page (catalog imports nothing of reviews).

Everything here is the same for every visitor: it is rendered into the product page that
catalog.cache keeps for everybody, and is invalidated by reviews.services on each change.
"""

from django import template

from reviews import selectors

register = template.Library()

#: Newest approved reviews shown on the product page; the rest are on the reviews page.
PRODUCT_PAGE_REVIEWS = 5


@register.inclusion_tag("reviews/_product_reviews.html", takes_context=True)
def product_reviews(context, product):
    """Average, count, histogram and the newest reviews: two queries when the product has
    approved reviews (the GROUP BY and one page of reviews with their authors), none when
    its stored count says it has none."""
    shared = {"product": product, "shop_name": context.get("shop_name", "")}
    if not product.rating_count:
        return {**shared, "histogram": None, "reviews": []}
    return {
        **shared,
        "histogram": selectors.rating_histogram(product=product),
        "reviews": list(selectors.approved_reviews(product=product)[:PRODUCT_PAGE_REVIEWS]),
    }


@register.simple_tag
def star_text(rating) -> str:
    """ "★★★★☆" for 4: the picture only; templates give the words next to it."""
    rating = int(rating or 0)
    return "★" * rating + "☆" * (5 - rating)
