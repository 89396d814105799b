"""Bank transfer or cash on delivery: no gateway, no callbacks. The order waits until the
merchant records the money in the admin (payments.services.confirm_manual_payment)."""

from collections.abc import Mapping
from decimal import Decimal

from payments.errors import InvalidSignature
from payments.providers.base import Browser, CallbackEvent, Provider, StartResult


class ManualProvider(Provider):
    code = "manual"
    online = False

    def start(
        self, *, payment, return_url: str, cancel_url: str, browser: Browser | None = None
    ) -> StartResult:
        return StartResult(redirect_url="")

    def parse_callback(self, *, body: bytes, headers: Mapping[str, str]) -> list[CallbackEvent]:
        raise InvalidSignature("Manual payments take no callbacks.")

    def refund(self, *, payment, amount: Decimal, idempotency_key: str) -> str:
        return ""  # the merchant sends the money back by hand; we record it


provider = ManualProvider()
