"""Typed errors of the orders app; each carries the sentence the page shows."""

from django.utils.translation import gettext as _


class OrderError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ForbiddenTransition(OrderError):
    """The order's state does not allow this change; nothing was changed."""

    def __init__(self, *, number: str, from_state: str, to_state: str):
        super().__init__(
            _("Order %(number)s cannot go from “%(from)s” to “%(to)s”.")
            % {"number": number, "from": from_state, "to": to_state}
        )
        self.from_state = from_state
        self.to_state = to_state


class EmptyCheckout(OrderError):
    def __init__(self):
        super().__init__(_("Your cart has nothing ticked to buy."))


class ShippingUnavailable(OrderError):
    def __init__(self):
        super().__init__(_("This shipping method does not deliver to the address chosen."))


class CheckoutChanged(OrderError):
    """Something the shopper reviewed changed before the order was placed: they must look
    again. Nothing was taken or charged."""


class PriceChanged(CheckoutChanged):
    def __init__(self, message: str = ""):
        super().__init__(
            message
            or _("Prices or discounts changed since you reviewed your order: check the new total.")
        )


class StockChanged(CheckoutChanged):
    def __init__(self, *, names: list[str]):
        super().__init__(
            _("Not enough stock any more for: %(names)s. Please review your order.")
            % {"names": ", ".join(names)}
        )
        self.names = names


class FlashUnavailable(OrderError):
    """A flash sale's units cannot be had (sold out, or the customer's limit reached):
    the message says which; nothing was taken."""


class RefundTooLarge(OrderError):
    def __init__(self):
        super().__init__(_("A refund must be more than zero and at most what was paid."))
