"""A country's name as the active language writes it, worked out once per process.

django_countries translates its whole entry on every `countries.name()` (30 to 80 µs: its
fallback names, each through gettext), and a purchase asks it five times (the review's
address and tax note, the checkout's tax note, the placed mail's two bodies). Its names
change only with the settings and the translations, both fixed while the process runs.
Imports nothing of ours: any app may use it.
"""

from functools import lru_cache

from django.utils.translation import get_language
from django_countries import countries


def country_name(code) -> str:
    """The name of the country `code` (an ISO code or a Country) in the active language;
    empty for a code django_countries does not know."""
    return _name(str(code), get_language())


@lru_cache(maxsize=1024)  # every country in each of the shop's languages
def _name(code: str, _language: str | None) -> str:
    return str(countries.name(code))
