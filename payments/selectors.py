"""Reads of the payments app; the order is always fetched through its permission check."""

from datetime import timedelta

from django.conf import settings
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.http import urlencode

from orders import selectors as order_selectors
from orders.models import Order, OrderState
from payments.models import Payment

#: The session key the checkout keeps the shopper's details under (orders.views.SESSION_KEY).
CHECKOUT_SESSION_KEY = "checkout"


def _just_placed_here(order: Order, session) -> bool:
    """The checkout redirects a guest here without the order's signed key: let in the browser
    whose session holds the details this order was just placed with (its email and address),
    while it awaits payment and is younger than the unpaid-order expiry."""
    saved = session.get(CHECKOUT_SESSION_KEY) or {}
    address = saved.get("address") or {}
    recent = order.created_at >= timezone.now() - timedelta(minutes=settings.ORDER_UNPAID_MINUTES)
    return (
        order.user_id is None
        and order.state == OrderState.PENDING_PAYMENT
        and recent
        and constant_time_compare(str(saved.get("email", "")), order.email)
        and constant_time_compare(str(address.get("line1", "")), order.ship_line1)
        and constant_time_compare(str(address.get("postcode", "")), order.ship_postcode)
    )


def order_for_payment(*, number: str, user, key: str, session) -> Order:
    """The order `number` if this visitor may pay it or see its payment; else 404."""
    try:
        return order_selectors.get_order_for_user(number=number, user=user, key=key)
    except Http404:
        order = Order.objects.filter(number=number).first()
        if order is not None and _just_placed_here(order, session):
            return order
        raise


def guest_query(order: Order) -> str:
    """ "?key=..." for a guest's order (its signed link), "" for a shopper's."""
    if order.user_id:
        return ""
    return "?" + urlencode({"key": order_selectors.guest_key(number=order.number)})


def url_for(name: str, order: Order, **params) -> str:
    url = reverse(name, kwargs={"number": order.number}) + guest_query(order)
    if params:
        url += ("&" if "?" in url else "?") + urlencode(params)
    return url


def latest_payment(*, order: Order) -> Payment | None:
    return Payment.objects.filter(order=order).order_by("-pk").first()


def payment_for_sandbox(*, token: str) -> Payment:
    payment = (
        Payment.objects.filter(provider="sandbox", reference=token).select_related("order").first()
    )
    if payment is None or not token:
        raise Http404
    return payment
