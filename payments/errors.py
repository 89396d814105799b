"""Typed errors of the payments app; each carries the sentence the page (or log) shows."""

from django.utils.translation import gettext as _


class PaymentError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UnknownProvider(PaymentError):
    def __init__(self, code: str):
        super().__init__(_("This payment method is not available: %(code)s.") % {"code": code})
        self.code = code


class InvalidSignature(PaymentError):
    """The callback is not signed by the provider: nothing in it may be believed."""

    def __init__(self, reason: str = ""):
        super().__init__(reason or _("The callback signature is missing or invalid."))


class InvalidPayload(PaymentError):
    """Signed, but not something we can read."""


class NotPayable(PaymentError):
    """The order does not await payment (paid already, cancelled...)."""


class RefundRejected(PaymentError):
    pass


class ProviderUnavailable(PaymentError):
    """The provider could not be reached or refused the request; nothing was recorded."""
