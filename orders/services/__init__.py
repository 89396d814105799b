"""Every write of the orders app, one module per part of an order's life. Other apps and the
views import from here; a rule is found by its module's name."""

from orders.services.invoicing import (  # noqa: F401
    format_number,
    issue_invoice,
    mark_fapiao_issued,
)
from orders.services.life import (  # noqa: F401
    ORDER_TRANSITIONS,
    RETURNABLE,
    SHOPPER_CANCELLABLE,
    anonymise_orders,
    cancel_order,
    confirm_receipt,
    expire_unpaid_orders,
    mark_delivered,
    mark_paid,
    mark_shipped,
    record_refund,
    request_return,
    set_payment_method,
    transition,
)
from orders.services.placing import (  # noqa: F401
    Buyer,
    FapiaoChoice,
    Quote,
    ShippingAddress,
    destination_of,
    ensure_demo_shipping_methods,
    fingerprint_of,
    new_idempotency_key,
    new_order_number,
    place_order,
    quote_checkout,
)
