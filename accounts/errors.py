"""Domain errors of the accounts app: each carries the message the page shows."""

from django.utils.translation import gettext_lazy as _


class AccountError(Exception):
    message = _("Something went wrong with your account request.")

    def __init__(self, message=None):
        if message is not None:
            self.message = message
        super().__init__(str(self.message))


class LoginThrottled(AccountError):
    message = _(
        "Too many failed sign-in attempts. Please wait %(minutes)s minutes and try again, "
        "or reset your password."
    )

    def __init__(self, *, minutes: int):
        self.minutes = minutes
        super().__init__(self.message % {"minutes": minutes})


class CodeSentTooRecently(AccountError):
    message = _("We sent a code less than a minute ago. Please wait a minute before asking again.")


class TooManyCodes(AccountError):
    message = _("Too many codes were sent to this number. Please try again in an hour.")


class TooManyRequests(AccountError):
    message = _(
        "Too many requests came from your network or reached us at once. Please try again "
        "in an hour."
    )


class CodeInvalid(AccountError):
    message = _("That code is not right. Check the text message and try again.")


class CodeExpired(AccountError):
    message = _("That code has expired or was already used. Ask for a new code.")


class CodeAttemptsExhausted(AccountError):
    message = _("Too many wrong codes. Ask for a new code.")


class CodeServiceUnavailable(AccountError):
    message = _(
        "We cannot send or check codes right now. Please try again in a few minutes, "
        "or sign in with your password."
    )


class TokenInvalid(AccountError):
    message = _("This link is invalid, has expired or was already used.")


class EmailTaken(AccountError):
    message = _("This email address belongs to another account.")


class PhoneTaken(AccountError):
    message = _("This phone number belongs to another account.")


class NoPhoneNumber(AccountError):
    message = _("Your account has no phone number to text a code to.")
