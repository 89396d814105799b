"""What the order's admin page (the merchant's desk) shows around the order's own fields: the
timeline in plain words, the customer's history, the state badges and the tools the order's
state allows. Reads only: every tool leads to a page that calls a service, and the service
decides again under the order's lock.

The payments app adds its own entries (money in and out) and tools (refund, cancel, record a
bank transfer) in payments/desk.py: orders never imports payments.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, Q, Sum
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from orders import documents, services
from orders.errors import OrderError
from orders.models import (
    ZERO,
    EventKind,
    FulfilmentStatus,
    Order,
    OrderEvent,
    OrderStatus,
    PaymentStatus,
    ReturnStatus,
)


@dataclass(frozen=True)
class Entry:
    """One line of the timeline: when, what happened in words, who did it, any detail."""

    when: datetime
    text: str
    actor: str = ""
    detail: str = ""
    #: What it is about, for its marker: "order", "money", "goods", "return", "note".
    topic: str = "note"


@dataclass(frozen=True)
class Tool:
    """A button on the order: a link to the page that does it (and asks first)."""

    label: str
    url: str
    #: "primary" (the next thing to do), "danger" (cancels or gives money back) or "".
    tone: str = ""


@dataclass(frozen=True)
class Customer:
    name: str
    email: str
    is_guest: bool
    order_count: int
    #: Paid minus refunded over all their orders in this order's currency.
    spend: object
    orders_url: str
    account_url: str = ""


# The words for each status an event moved to, said as what happened.
ORDER_WORDS = {
    OrderStatus.COMPLETED: _("Order completed"),
    OrderStatus.CANCELLED: _("Order cancelled"),
    OrderStatus.OPEN: _("Order reopened"),
}
PAYMENT_WORDS = {
    PaymentStatus.UNPAID: _("Order unpaid"),
    PaymentStatus.PARTIALLY_PAID: _("Order partly paid"),
    PaymentStatus.PAID: _("Order paid in full"),
    PaymentStatus.PARTIALLY_REFUNDED: _("Order partly refunded"),
    PaymentStatus.REFUNDED: _("Order refunded in full"),
}
FULFILMENT_WORDS = {
    FulfilmentStatus.UNFULFILLED: _("Nothing shipped"),
    FulfilmentStatus.PARTIALLY_SHIPPED: _("Part of the order shipped"),
    FulfilmentStatus.SHIPPED: _("Everything shipped"),
    FulfilmentStatus.DELIVERED: _("Delivered"),
    FulfilmentStatus.RETURNED: _("Everything returned"),
}
RETURN_WORDS = {
    ReturnStatus.REQUESTED: _("The shopper asked to return items"),
    ReturnStatus.APPROVED: _("Return approved"),
    ReturnStatus.REJECTED: _("Return rejected"),
    ReturnStatus.RECEIVED: _("Returned parcel received"),
    ReturnStatus.REFUNDED: _("Return refunded"),
}


def actor_name(user) -> str:
    return user.get_full_name() if user is not None else ""


def event_entry(event: OrderEvent) -> Entry:
    """An order event in words. The notes of payment moves are left out: they may carry a
    provider's raw event name, and the payments app's own entries say what was paid."""
    actor = actor_name(event.actor)
    if event.kind == EventKind.ORDER:
        if not event.from_status and event.to_status == OrderStatus.OPEN:
            return Entry(event.created_at, str(_("Order placed")), actor, topic="order")
        text = ORDER_WORDS.get(event.to_status, event.get_kind_display())
        return Entry(event.created_at, str(text), actor, event.note, topic="order")
    if event.kind == EventKind.PAYMENT:
        text = PAYMENT_WORDS.get(event.to_status, event.get_kind_display())
        return Entry(event.created_at, str(text), actor, topic="money")
    if event.kind == EventKind.FULFILMENT:
        text = FULFILMENT_WORDS.get(event.to_status, event.get_kind_display())
        return Entry(event.created_at, str(text), actor, event.note, topic="goods")
    if event.kind == EventKind.RETURN:
        text = RETURN_WORDS.get(event.to_status, event.get_kind_display())
        return Entry(event.created_at, str(text), actor, event.note, topic="return")
    return Entry(event.created_at, event.note or str(_("Note")), actor, topic="note")


def timeline(order: Order, *, extra: list[Entry] = ()) -> list[Entry]:
    """The order's events (order.event_list, from selectors.with_page_details) and `extra`
    entries, newest first."""
    entries = [event_entry(event) for event in order.event_list] + list(extra)
    return sorted(entries, key=lambda entry: entry.when, reverse=True)


def customer_of(order: Order) -> Customer:
    """Who bought it, with how many orders they placed and what they spent: one query.

    A shopper's orders are those of their account; a guest's, those placed with the same
    email without an account."""
    if order.user_id:
        mine = Q(user_id=order.user_id)
        query = {"user__id__exact": order.user_id}
    else:
        mine = Q(user__isnull=True, email__iexact=order.email)
        query = {"email": order.email}
    totals = Order.objects.filter(mine).aggregate(
        count=Count("pk"),
        spend=Sum(
            F("total_paid") - F("total_refunded"), filter=Q(currency=order.currency), default=ZERO
        ),
    )
    user = order.user if order.user_id else None
    return Customer(
        name=(user.full_name if user else "") or order.ship_name,
        email=user.email if user and user.email else order.email,
        is_guest=user is None,
        order_count=totals["count"],
        spend=totals["spend"],
        orders_url=reverse("admin:orders_order_changelist") + "?" + urlencode(query),
        account_url=reverse("admin:accounts_user_change", args=[user.pk]) if user else "",
    )


def may_cancel(order: Order) -> bool:
    try:
        services.check_cancellable(order)
    except OrderError:
        return False
    return True


def order_tools(order: Order) -> list[Tool]:
    """The orders app's tools the order's state allows: ship, mark delivered, packing slip,
    invoice. Needs order.line_list and order.shipment_list (selectors.with_page_details)."""
    tools = []
    ships = services.may_ship(order) and any(line.quantity_to_ship for line in order.line_list)
    if ships:
        url = reverse("admin:orders_order_ship", args=[order.pk])
        tools.append(Tool(str(_("Ship items")), url, "primary"))
    if any(shipment.delivered_at is None for shipment in order.shipment_list):
        url = reverse("admin:orders_order_deliver", args=[order.pk])
        tools.append(Tool(str(_("Mark delivered")), url))
    if ships:
        url = reverse("admin:orders_order_packing_slip", args=[order.pk])
        tools.append(Tool(str(_("Packing slip")), url))
    if documents.invoice_of(order) is not None:
        tools.append(
            Tool(str(_("Invoice")), reverse("admin:orders_order_invoice", args=[order.pk]))
        )
    return tools


def return_tools(return_request, *, back: str = "order") -> list[Tool]:
    """The steps RETURN_TRANSITIONS allows from the return's status, as links from the order
    (`back`: the pages come back to the order)."""
    query = "?" + urlencode({"back": back})
    allowed = services.RETURN_TRANSITIONS[return_request.status]
    tools = []
    if ReturnStatus.APPROVED in allowed:
        url = reverse("admin:orders_returnrequest_approve", args=[return_request.pk])
        tools.append(Tool(str(_("Approve return")), url + query, "primary"))
    if ReturnStatus.RECEIVED in allowed:
        url = reverse("admin:orders_returnrequest_receive", args=[return_request.pk])
        tools.append(Tool(str(_("Parcel received")), url + query, "primary"))
    if ReturnStatus.REJECTED in allowed:
        url = reverse("admin:orders_returnrequest_reject", args=[return_request.pk])
        tools.append(Tool(str(_("Reject return")), url + query, "danger"))
    return tools
