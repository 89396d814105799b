"""System checks of the payments app."""

from django.conf import settings
from django.core.checks import Error, register


@register()
def wallets_demo_only_while_developing(app_configs, **kwargs):
    """The wallets' demo lets anyone "pay" with keys from this machine: never with DEBUG off
    (settings already refuse to start so; this also catches settings changed afterwards)."""
    if getattr(settings, "PAYMENT_WALLETS_DEMO", False) and not settings.DEBUG:
        return [
            Error(
                "PAYMENT_WALLETS_DEMO is on with DEBUG off.",
                hint="The wallets' demo is for development only: unset PAYMENT_WALLETS_DEMO.",
                id="payments.E001",
            )
        ]
    return []
