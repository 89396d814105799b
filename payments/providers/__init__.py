"""Payment providers: one module per provider, named after its code, exposing `provider`.

The merchant enables providers with settings.PAYMENT_PROVIDERS; adding one means adding a
module here that implements payments.providers.base.Provider (and its label in settings).
"""

from functools import cache
from importlib import import_module

from django.conf import settings

from payments.errors import UnknownProvider
from payments.providers.base import Provider


def enabled_codes() -> list[str]:
    return list(settings.PAYMENT_PROVIDERS)


@cache
def _load(code: str) -> Provider:
    try:
        module = import_module(f"payments.providers.{code}")
    except ImportError as error:
        raise UnknownProvider(code) from error
    return module.provider


def get_provider(code: str) -> Provider:
    """The enabled provider `code`, else UnknownProvider (a disabled one is unknown too)."""
    if code not in enabled_codes() or not code.isidentifier() or code == "base":
        raise UnknownProvider(code)
    return _load(code)


def enabled_providers() -> list[Provider]:
    return [get_provider(code) for code in enabled_codes()]
