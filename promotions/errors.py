"""Typed errors the cart and checkout pages explain to the shopper."""

from django.utils.translation import gettext as _


class CouponRejected(Exception):
    """An entered coupon does not apply; `reason` is one of the constants, `message` what
    the page says."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    MINIMUM_NOT_MET = "minimum_not_met"
    USED_UP = "used_up"
    NOT_FOR_THESE_ITEMS = "not_for_these_items"
    ALREADY_USED = "already_used"
    #: Valid, but a better promotion that does not combine with it applies (price_cart only).
    NOT_COMBINABLE = "not_combinable"

    def __init__(self, *, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def coupon_message(reason: str, **params) -> str:
    """The sentence for `reason`, in the active language."""
    messages = {
        CouponRejected.UNKNOWN: _("“%(code)s” is not a valid coupon code."),
        CouponRejected.EXPIRED: _("This coupon expired on %(date)s."),
        CouponRejected.NOT_YET_VALID: _("This coupon can be used from %(date)s."),
        CouponRejected.MINIMUM_NOT_MET: _("This coupon needs a subtotal of at least %(minimum)s."),
        CouponRejected.USED_UP: _("This coupon has been used up."),
        CouponRejected.NOT_FOR_THESE_ITEMS: _(
            "This coupon does not apply to the items in your cart."
        ),
        CouponRejected.ALREADY_USED: _("You have already used this coupon."),
        CouponRejected.NOT_COMBINABLE: _(
            "Your cart already gets a better discount, which does not combine with this coupon."
        ),
    }
    return messages[reason] % params


class PointsRejected(Exception):
    """Points cannot be spent, adjusted or given as asked; `message` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class FlashRejected(Exception):
    """A flash sale's units cannot be taken: `reason` one of the constants, `message`
    what the page says."""

    SOLD_OUT = "sold_out"
    OVER_LIMIT = "over_limit"
    #: Flash sales sell to signed-in shoppers only (the limit is per account).
    SIGN_IN = "sign_in"
    NOT_STARTED = "not_started"
    ENDED = "ended"

    def __init__(self, message: str, *, reason: str = SOLD_OUT):
        super().__init__(message)
        self.reason = reason
        self.message = message


def flash_message(reason: str, *, sale) -> str:
    """The sentence for `reason` about flash sale `sale` (anything with name and
    per_customer), in the active language."""
    name = {"name": sale.name}
    if reason == FlashRejected.SOLD_OUT:
        return _("Sold out: every unit of the flash sale “%(name)s” has been taken.") % name
    if reason == FlashRejected.SIGN_IN:
        return _("Sign in to buy in the flash sale “%(name)s”: it allows a limit per customer.") % (
            name
        )
    if reason == FlashRejected.NOT_STARTED:
        return _("The flash sale “%(name)s” has not started yet.") % name
    if reason == FlashRejected.ENDED:
        return _("The flash sale “%(name)s” has ended.") % name
    return _(
        "The flash sale “%(name)s” allows %(limit)s per customer, and you have reached it."
    ) % {"name": sale.name, "limit": sale.per_customer}
