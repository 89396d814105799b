from decimal import Decimal

from orders.tests.factories import order_of
from payments import gateway, services
from payments.models import Payment

RETURN = "http://testserver/payments/return/"


def sandbox_order(*, price=Decimal("10.00"), quantity=1, **kwargs):
    """A placed order awaiting payment by the sandbox (total = price * quantity + 5.00)."""
    order, _variant = order_of(quantity, price=price, payment="sandbox", **kwargs)
    return order


def start(order, provider="sandbox") -> Payment:
    payment, _result = services.start_payment(
        order=order, provider_code=provider, return_url=RETURN, cancel_url=RETURN
    )
    return payment


def deliver(payment, outcome="pay", **kwargs):
    """Build the signed sandbox callback and take it in as the webhook would."""
    body, headers = gateway.build_callback(payment=payment, outcome=outcome, **kwargs)
    return (
        body,
        headers,
        services.receive_callback(provider_code="sandbox", body=body, headers=headers),
    )
