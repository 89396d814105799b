"""Reads of the orders app that pages share; permission-checked fetches raise 404."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import Count, Prefetch, QuerySet, Sum
from django.http import Http404
from django.utils.crypto import constant_time_compare

from cart.models import Cart, CartLine
from cart.selectors import UNSHOWN_FIELDS, with_options
from catalog import cache as catalog_cache
from catalog.models import Product
from catalog.selectors import first_image, with_first_image
from orders import delivery
from orders.models import (
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    OrderTaxLine,
    PaymentStatus,
    ReturnLine,
    ReturnStatus,
    ShipmentLine,
    ShippingMethod,
)
from shop.cookies import held_signer
from shop.prepared import Prepared

#: Salt of the signed links in order mails: a guest reaches their order only through one.
GUEST_LINK_SALT = "orders.guest-link"


def free_shipping_threshold() -> Decimal | None:
    """The lowest subtotal from which an active shipping method to the shop's default
    country is free (one query), for the cart's "more for free shipping" bar before the
    shopper chooses where to ship. The cart estimates for that country, as it does its tax:
    a method that serves only other countries must not promise free shipping."""
    country = settings.ADDRESS_DEFAULT_COUNTRY
    methods = ShippingMethod.objects.active().filter(free_above__isnull=False)
    return min(
        (
            method.free_above
            for method in methods.only("free_above", "countries")
            if method.serves(country)
        ),
        default=None,
    )


def _ticked_lines(cart_id):
    return (
        CartLine.objects.filter(cart_id=cart_id, is_selected=True)
        .select_related("variant__product__category")
        .defer(*UNSHOWN_FIELDS)
        .order_by("added_at", "pk")
    )


#: The checkout's read of a cart's ticked lines, built once (shop.prepared): the review page
#: and place_order read them on every order, and building them (the options' prefetch above
#: all) cost the ORM several times what running them did.
_TICKED_LINES = Prepared(_ticked_lines, "cart_id")


def checkout_lines(*, cart: Cart) -> list[CartLine]:
    """The ticked lines of a cart with variant, product, category and each variant's option
    values (its `options_label`, "Red / M"): 2 queries."""
    return with_options(_TICKED_LINES.objects(cart_id=cart.pk), cart_id=cart.pk)


_ORDER_WITH_KEY = Prepared(lambda key: Order.objects.filter(idempotency_key=key)[:1], "key")


def order_with_key(*, idempotency_key: str) -> Order | None:
    """The order placed with this idempotency key, if any (the statement built once: every
    order asks)."""
    return _ORDER_WITH_KEY.first(key=idempotency_key)


_ACTIVE_SHIPPING_METHOD = Prepared(
    lambda pk: ShippingMethod.objects.active().filter(pk=pk)[:1], "pk"
)


def active_shipping_method_now(*, pk: int) -> ShippingMethod | None:
    """The active shipping method `pk` as the database has it now, not as this process keeps
    it (active_shipping_method()): what place_order charges under its locks."""
    return _ACTIVE_SHIPPING_METHOD.first(pk=pk)


def active_shipping_methods() -> list[ShippingMethod]:
    """The active shipping methods in the shop's order, kept per catalog version in each
    process (catalog.cache.shared: any change of a method moves that version when it commits,
    orders.receivers), so the checkout's steps read them without a query. Read-only: the
    list is shared between requests. place_order reads its method again under its locks."""
    return catalog_cache.shared("active-shipping-methods", _active_shipping_methods)


def _active_shipping_methods() -> list[ShippingMethod]:
    return list(ShippingMethod.objects.active())


def active_shipping_method(*, pk) -> ShippingMethod | None:
    """The active method `pk` (as active_shipping_methods() holds it), or None."""
    return next((method for method in active_shipping_methods() if method.pk == pk), None)


def shipping_methods_for(*, country: str | None) -> list[ShippingMethod]:
    """Active methods that deliver to `country` (all active ones when it is not known)."""
    methods = list(ShippingMethod.objects.active())
    if not country:
        return methods
    return [method for method in methods if method.serves(country)]


@dataclass(frozen=True)
class StandardDelivery:
    """The standard method's promise as a product page shows it: days and dates."""

    days_min: int
    days_max: int
    earliest: date
    latest: date


def standard_delivery(*, today: date) -> StandardDelivery | None:
    """When an order placed `today` arrives by the cheapest active method that has delivery
    days (the shopper's country is not known on a product page), in working days, Monday to
    Friday (orders.delivery). None when no method has days. One query."""
    method = (
        ShippingMethod.objects.active()
        .exclude(delivery_days_min__isnull=True, delivery_days_max__isnull=True)
        .order_by("price", "position", "pk")
        .first()
    )
    dates = delivery.delivery_estimate(method, start=today)
    if dates is None:
        return None
    low, high = delivery.working_days(method)
    return StandardDelivery(low, high, dates.earliest, dates.latest)


def payment_methods() -> list[tuple[str, str]]:
    return list(settings.SHOP_PAYMENT_METHODS)


def payment_method_label(code: str) -> str:
    return str(settings.PAYMENT_PROVIDER_LABELS.get(code, code))


def expired_order_ids(*, now: datetime, limit: int) -> list[int]:
    """Open orders still unpaid after their deadline (a partial index serves this)."""
    return list(
        Order.objects.filter(
            status=OrderStatus.OPEN,
            payment_status=PaymentStatus.UNPAID,
            payment_deadline__lt=now,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def orders_due_a_reminder(*, now: datetime, limit: int) -> list[tuple[int, datetime, str]]:
    """Unpaid orders paid by hand (bank transfer) not reminded yet: (id, deadline, method)."""
    return list(
        Order.objects.filter(
            status=OrderStatus.OPEN,
            payment_status=PaymentStatus.UNPAID,
            payment_method__in=settings.ORDER_REMINDED_PAYMENT_METHODS,
            payment_reminder_sent_at__isnull=True,
            payment_deadline__gt=now,
        )
        .order_by("payment_deadline", "pk")
        .values_list("pk", "payment_deadline", "payment_method")[:limit]
    )


def guest_key(*, number: str) -> str:
    """The signature that opens an order without signing in (put in the order's mails):
    Django's `Signer(salt=GUEST_LINK_SALT).signature(number)`, by the process's signer
    (shop.cookies.held_signer: the HMAC key derived once), as placing an order asks it
    twice (the payment page's link, the placed mail's)."""
    return held_signer(GUEST_LINK_SALT).signature(number)


def _may_see(order: Order, *, user, key: str) -> bool:
    if user is not None and user.is_authenticated and order.user_id == user.pk:
        return True
    return bool(key) and constant_time_compare(key, guest_key(number=order.number))


def get_order_for_user(*, number: str, user, key: str = "") -> Order:
    """The order `number` if `user` owns it or `key` is its signed link; else 404 (the same
    404 as for an order that does not exist, so numbers cannot be probed)."""
    # The invoice, fapiao request and shipping method ride along: no query of their own.
    order = (
        Order.objects.select_related("invoice", "fapiao", "shipping_method")
        .filter(number=number)
        .first()
    )
    if order is None or not _may_see(order, user=user, key=key):
        raise Http404
    return order


def order_for_page(*, number: str, user, key: str = "") -> Order:
    """get_order_for_user() with everything the order page shows (lines with their
    thumbnails): 10 queries at most."""
    return with_page_details(get_order_for_user(number=number, user=user, key=key), images=True)


def with_page_details(order: Order, *, images: bool = False) -> Order:
    """The order's lines, tax rows, discounts, events, shipments and returns with their
    lines: 9 queries at most (shipment lines and tracking events, and return lines, only
    when there are some). With
    `images`, each line has the `thumbnail` of its product's first picture (same query)."""
    lines = order.lines.all()
    if images:
        lines = with_first_image(lines, product="product")
    order.line_list = list(lines)
    for line in order.line_list if images else ():
        line.thumbnail = first_image(line, "small")
    order.tax_line_list = list(order.tax_lines.all())
    order.discount_list = list(order.discounts.all())
    order.event_list = list(OrderEvent.objects.filter(order=order).select_related("actor"))
    order.shipment_list = list(
        order.shipments.prefetch_related(
            Prefetch("lines", queryset=ShipmentLine.objects.select_related("line")),
            "tracking_events",
        )
    )
    order.return_list = list(
        order.returns.prefetch_related(
            Prefetch("lines", queryset=ReturnLine.objects.select_related("line"))
        )
    )
    return order


#: An order's lines and tax rows as its mails list them, built once (shop.prepared): every
#: order placed sends a mail, and building the two statements cost the ORM more than the rest
#: of the mail's reads.
_MAIL_LINES = Prepared(lambda order_id: OrderLine.objects.filter(order_id=order_id), "order_id")
_MAIL_TAX_ROWS = Prepared(
    lambda order_id: OrderTaxLine.objects.filter(order_id=order_id), "order_id"
)


def with_mail_details(order: Order) -> Order:
    """The order's lines (`line_list`) and tax rows (`tax_line_list`, which
    Order.tax_rows reads) for its mails: two queries."""
    order.line_list = _MAIL_LINES.objects(order_id=order.pk)
    order.tax_line_list = _MAIL_TAX_ROWS.objects(order_id=order.pk)
    return order


def order_for_desk(*, pk) -> Order | None:
    """The order for its admin page with everything the page shows (lines with thumbnails,
    events, shipments, returns, credit notes, the shopper's account): 11 queries at most,
    whatever the number of lines, events or parcels. None if there is no such order."""
    order = Order.objects.select_related("invoice", "fapiao", "user").filter(pk=pk).first()
    if order is None:
        return None
    with_page_details(order, images=True)
    order.credit_note_list = list(order.credit_notes.all())
    return order


def orders_for_user(*, user) -> QuerySet[Order]:
    """The shopper's orders, newest first, with their item counts: one query per page."""
    return (
        Order.objects.filter(user=user)
        .annotate(item_count=Sum("lines__quantity"), line_count=Count("lines"))
        .order_by("-created_at", "-pk")
    )


def returnable_lines(*, order: Order) -> list[OrderLine]:
    """The order's lines the shopper may still send back, each with `returnable` units:
    shipped, not returned, not refunded, not in a return under way. Two queries."""
    pending = dict(
        ReturnLine.objects.filter(
            return_request__order=order,
            return_request__status__in=[ReturnStatus.REQUESTED, ReturnStatus.APPROVED],
        )
        .values("line_id")
        .annotate(units=Sum("quantity"))
        .values_list("line_id", "units")
    )
    lines = []
    for line in OrderLine.objects.filter(order=order).order_by("pk"):
        line.returnable = line.quantity_returnable - pending.get(line.pk, 0)
        if line.returnable > 0:
            lines.append(line)
    return lines


def returnable_quantities(order: Order) -> dict[int, int]:
    """Order line id -> units the shopper may still ask to return."""
    return {line.pk: line.returnable for line in returnable_lines(order=order)}


# --- Bought together (catalog.recommendations) ----------------------------------------------

#: Rows fetched at a time from the database while streaming pairs (bounded memory).
PAIRS_BATCH = 2000


def bought_together(*, per_product: int) -> Iterator[tuple[int, int, float]]:
    """(product id, product id bought with it, paid orders holding both), each product's
    best `per_product` rows together, best first; published products only.

    Ranked by the number of distinct sold orders (Order.objects.sold(): paid, not cancelled,
    not fully refunded) holding both; ties go to the product whose own orders hold the first
    one most often (the pair's lift, for a given first product), then to the newer product.
    One statement; pairs are counted by the database and streamed (a server-side cursor on
    PostgreSQL), never all held in memory.
    """
    sold, sold_params = Order.objects.sold().values("pk").query.sql_with_params()
    listed, listed_params = Product.objects.published().values("pk").query.sql_with_params()
    sql = _BOUGHT_TOGETHER_SQL.format(line=OrderLine._meta.db_table, sold=sold, listed=listed)
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, [*listed_params, *sold_params, per_product])
        while rows := cursor.fetchmany(PAIRS_BATCH):
            for product_id, recommended_id, together in rows:
                yield product_id, recommended_id, float(together)


_BOUGHT_TOGETHER_SQL = """
WITH sold AS (
    SELECT DISTINCT l.order_id, l.product_id FROM {line} l
    WHERE l.product_id IN ({listed}) AND l.order_id IN ({sold})
),
bought AS (
    SELECT product_id, COUNT(*) AS orders FROM sold GROUP BY product_id
),
pairs AS (
    SELECT a.product_id, b.product_id AS recommended_id, COUNT(*) AS together
    FROM sold a JOIN sold b ON b.order_id = a.order_id AND b.product_id <> a.product_id
    GROUP BY a.product_id, b.product_id
),
ranked AS (
    SELECT p.product_id, p.recommended_id, p.together,
           row_number() OVER (
               PARTITION BY p.product_id
               ORDER BY p.together DESC, p.together * 1.0 / b.orders DESC,
                        p.recommended_id DESC
           ) AS rank
    FROM pairs p JOIN bought b ON b.product_id = p.recommended_id
)
SELECT product_id, recommended_id, together FROM ranked
WHERE rank <= %s ORDER BY product_id, rank
"""
