"""Receivers connected in PromotionsConfig.ready: signals only to invalidate the cached
offers' schedule (promotions.selectors.offer_schedule), never to change money or rows."""

from promotions import selectors


def offers_changed(sender, **kwargs) -> None:
    selectors.offers_changed()
