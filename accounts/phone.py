"""Phone numbers in one spelling: E.164 ("+" then 8 to 15 digits, no leading zero).

A full numbering plan (libphonenumber) would know each country's lengths; this shop only
needs one stable, unique spelling to look numbers up and to hand the SMS gateway, so it
checks the E.164 shape and leaves the rest to the confirmation code.
"""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

#: What people type between digits: spaces, dots, dashes, brackets.
_SEPARATORS = re.compile(r"[\s().\-/]")
_E164 = re.compile(r"\+[1-9]\d{7,14}")

INVALID_MESSAGE = _(
    "Enter a phone number in international form, e.g. +44 20 7946 0958 or +86 138 0013 8000."
)


def normalize_phone(raw: str, *, default_calling_code: str | None = None) -> str:
    """Return `raw` in E.164 form or raise ValidationError with a message for the page."""
    if default_calling_code is None:
        default_calling_code = settings.PHONE_DEFAULT_CALLING_CODE
    number = _SEPARATORS.sub("", raw or "")
    if number.startswith("00"):
        number = "+" + number[2:]
    if not number.startswith("+"):
        if not default_calling_code or not number.isdigit():
            raise ValidationError(INVALID_MESSAGE, code="invalid_phone")
        # A national number: drop the trunk prefix ("0" in most of the world).
        number = "+" + default_calling_code.lstrip("+") + number.lstrip("0")
    if not _E164.fullmatch(number):
        raise ValidationError(INVALID_MESSAGE, code="invalid_phone")
    return number


def mask_phone(number: str) -> str:
    """+4420****0958: enough for the owner to recognise, little for a shoulder-surfer."""
    if len(number) <= 7:
        return number
    return number[:5] + "*" * (len(number) - 9) + number[-4:]
