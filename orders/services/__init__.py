"""Every write of the orders app, one module per part of an order's life:

- placing.py: the checkout's quote and place_order();
- statuses.py: the three statuses (order, payment, fulfilment), derived from rows;
- payment_status.py: money in and out as the payments app reports it; deadlines, expiry;
- fulfilment.py: shipping lines and delivery;
- tracking.py: carrier tracking scans, receipt confirmed by the shopper or by itself;
- cancelling.py: cancelling before anything ships;
- refunds.py: refunds by line (what goes back, and what that does to stock);
- returns.py: returns from request to refund;
- privacy.py: personal data when an account goes;
- guest_orders.py: guest orders joining the account of their verified email;
- recommendations.py: "frequently bought together", counted from sold orders;
- invoicing.py: invoice and credit note numbers (gap-free) and fapiao requests.

Other apps and the views import from here.
"""

from orders.services.cancelling import (
    cancel_locked_order,
    cancel_order,
    check_cancellable,
    shopper_may_cancel,
)
from orders.services.fulfilment import mark_delivered, may_ship, release_hold, ship_lines
from orders.services.guest_orders import attach_guest_orders
from orders.services.invoicing import (
    format_number,
    issue_credit_note,
    issue_invoice,
    mark_fapiao_issued,
)
from orders.services.payment_status import (
    deadline_for,
    expire_unpaid_orders,
    extend_payment_deadline,
    note_on_order,
    record_payment,
    record_refund,
    record_refund_reversed,
    send_payment_reminders,
    set_payment_method,
)
from orders.services.placing import (
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
from orders.services.privacy import anonymise_closed_orders, anonymise_orders
from orders.services.recommendations import rebuild_recommendations
from orders.services.refunds import (
    RefundPlan,
    RefundRejected,
    committed_refunds,
    line_refund_amount,
    plan_refund,
    refund_lines,
)
from orders.services.returns import (
    RETURN_TRANSITIONS,
    approve_return,
    plan_return_refund,
    receive_return,
    reject_return,
    request_return,
    returnable_quantities,
)
from orders.services.statuses import ORDER_TRANSITIONS, PAID_STATUSES, refresh_statuses
from orders.services.tracking import (
    confirm_deliveries_due,
    confirm_receipt,
    poll_tracking,
    record_kuaidi100_push,
    record_tracking,
    start_tracking,
)

__all__ = [
    "ORDER_TRANSITIONS",
    "PAID_STATUSES",
    "RETURN_TRANSITIONS",
    "Buyer",
    "FapiaoChoice",
    "Quote",
    "RefundPlan",
    "RefundRejected",
    "ShippingAddress",
    "anonymise_closed_orders",
    "anonymise_orders",
    "approve_return",
    "attach_guest_orders",
    "cancel_locked_order",
    "cancel_order",
    "check_cancellable",
    "committed_refunds",
    "confirm_deliveries_due",
    "confirm_receipt",
    "deadline_for",
    "destination_of",
    "ensure_demo_shipping_methods",
    "expire_unpaid_orders",
    "extend_payment_deadline",
    "fingerprint_of",
    "format_number",
    "issue_credit_note",
    "issue_invoice",
    "line_refund_amount",
    "mark_delivered",
    "mark_fapiao_issued",
    "may_ship",
    "new_idempotency_key",
    "new_order_number",
    "note_on_order",
    "place_order",
    "plan_refund",
    "plan_return_refund",
    "poll_tracking",
    "quote_checkout",
    "rebuild_recommendations",
    "receive_return",
    "record_kuaidi100_push",
    "record_payment",
    "record_refund",
    "record_refund_reversed",
    "record_tracking",
    "refresh_statuses",
    "refund_lines",
    "reject_return",
    "release_hold",
    "request_return",
    "returnable_quantities",
    "send_payment_reminders",
    "set_payment_method",
    "ship_lines",
    "shopper_may_cancel",
    "start_tracking",
]
