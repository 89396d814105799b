"""Reads of the payments app; the order is always fetched through its permission check."""

from datetime import datetime

import segno
from django.db.models import Q
from django.http import Http404
from django.urls import reverse
from django.utils.http import urlencode

from orders import selectors as order_selectors
from orders.models import Order, OrderStatus, PaymentStatus
from payments.models import Payment, PaymentState
from payments.providers import enabled_providers


def order_for_payment(*, number: str, user, key: str) -> Order:
    """The order `number` if this visitor may pay it or see its payment (its owner, or a
    guest with the order's signed key); else 404."""
    return order_selectors.get_order_for_user(number=number, user=user, key=key)


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


def open_payments_to_check(*, now: datetime) -> list[Payment]:
    """Open payments of providers that can be asked about them (Provider.queryable) whose
    order's deadline has passed or whose order no longer awaits payment."""
    codes = [provider.code for provider in enabled_providers() if provider.queryable]
    awaiting = Q(
        order__status=OrderStatus.OPEN,
        order__payment_status__in=[PaymentStatus.UNPAID, PaymentStatus.PARTIALLY_PAID],
    )
    return list(
        Payment.objects.filter(
            provider__in=codes, state__in=[PaymentState.PENDING, PaymentState.AUTHORISED]
        )
        .exclude(reference="")
        .filter(~awaiting | Q(order__payment_deadline__lt=now))
        .select_related("order")
        .order_by("pk")
    )


def qr_svg(data: str, *, title: str) -> str:
    """`data` as a QR code in inline SVG (segno), drawn on the server: no script, no image
    request. Error correction M (15 %) keeps a WeChat code_url at a size phones read from a
    screen; 4 modules of quiet zone, as the standard asks."""
    return segno.make(data, error="m", micro=False).svg_inline(
        scale=6, border=4, light="#fff", title=title, svgclass="wechatpay__qr", omitsize=True
    )
