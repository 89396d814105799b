"""Every write of the orders app: placing an order and every change of its state.

An order's state changes only through transition() (one table, ORDER_TRANSITIONS, one
function); it writes the event row and queues the side effects. The payments app calls
mark_paid() and record_refund(); it is above this app, never imported here.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cart import services as cart_services
from cart.models import Cart, CartLine
from catalog import locks as catalog_locks
from catalog import services as catalog_services
from orders import locks, mails, selectors
from orders.errors import (
    EmptyCheckout,
    ForbiddenTransition,
    OrderError,
    PriceChanged,
    RefundTooLarge,
    ShippingUnavailable,
    StockChanged,
)
from orders.models import (
    CARRIERS,
    ZERO,
    Order,
    OrderDiscount,
    OrderEvent,
    OrderLine,
    OrderState,
    Shipment,
    ShippingMethod,
)
from promotions import services as promotions
from promotions.errors import CouponRejected
from promotions.pricing import CartPrice, LineInput

S = OrderState

#: The one table of allowed state changes. Anything not here raises ForbiddenTransition.
ORDER_TRANSITIONS: dict[str, set[str]] = {
    S.PENDING_PAYMENT: {S.PAID, S.CANCELLED},
    S.PAID: {
        S.PROCESSING,
        S.SHIPPED,
        S.CANCELLED,
        S.REFUND_REQUESTED,
        S.PARTIALLY_REFUNDED,
        S.REFUNDED,
    },
    S.PROCESSING: {S.SHIPPED, S.CANCELLED, S.REFUND_REQUESTED, S.PARTIALLY_REFUNDED, S.REFUNDED},
    S.SHIPPED: {S.DELIVERED, S.PARTIALLY_REFUNDED, S.REFUNDED},
    S.DELIVERED: {
        S.COMPLETED,
        S.RETURN_REQUESTED,
        S.REFUND_REQUESTED,
        S.PARTIALLY_REFUNDED,
        S.REFUNDED,
    },
    S.COMPLETED: {S.RETURN_REQUESTED, S.PARTIALLY_REFUNDED, S.REFUNDED},
    S.REFUND_REQUESTED: {S.PARTIALLY_REFUNDED, S.REFUNDED},
    # A partial refund leaves the rest of the order to go on (or to be refunded later).
    S.PARTIALLY_REFUNDED: {
        S.PARTIALLY_REFUNDED,
        S.REFUNDED,
        S.PROCESSING,
        S.SHIPPED,
        S.DELIVERED,
        S.COMPLETED,
    },
    S.RETURN_REQUESTED: {S.RETURN_APPROVED, S.COMPLETED},
    S.RETURN_APPROVED: {S.PARTIALLY_REFUNDED, S.REFUNDED},
    # A paid order the shopper cancelled is then refunded through payments.
    S.CANCELLED: {S.PARTIALLY_REFUNDED, S.REFUNDED},
    S.REFUNDED: set(),
}

#: States in which the shopper may cancel (before anything has shipped).
SHOPPER_CANCELLABLE = {S.PENDING_PAYMENT, S.PAID, S.PROCESSING}
#: States in which the shopper may ask to send the goods back.
RETURNABLE = {S.DELIVERED, S.COMPLETED}

#: Crockford's base32: no I, L, O, U, so a number read over the phone is not misheard.
NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_order_number() -> str:
    """10 random characters (50 bits) in groups, e.g. "7K3M-9QXP-2D"."""
    raw = "".join(secrets.choice(NUMBER_ALPHABET) for _i in range(10))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def new_idempotency_key() -> str:
    return secrets.token_urlsafe(24)


# --- Checkout --------------------------------------------------------------------------


@dataclass(frozen=True)
class ShippingAddress:
    full_name: str
    line1: str
    city: str
    country: str
    phone: str = ""
    line2: str = ""
    region: str = ""
    postcode: str = ""

    @classmethod
    def from_address(cls, address) -> "ShippingAddress":
        return cls(
            full_name=address.full_name,
            phone=address.phone,
            line1=address.line1,
            line2=address.line2,
            city=address.city,
            region=address.region,
            postcode=address.postcode,
            country=str(address.country),
        )


@dataclass
class Quote:
    """What the review page shows and place_order() must find again under the locks."""

    lines: list[CartLine]
    price: CartPrice
    shipping_method: ShippingMethod
    fingerprint: str


def _line_inputs(lines: list[CartLine]) -> list[LineInput]:
    return [
        LineInput(
            key=line.pk,
            variant_id=line.variant_id,
            product_id=line.variant.product_id,
            category_path=line.variant.product.category.subtree_path,
            unit_price=line.variant.price,
            quantity=line.quantity,
        )
        for line in lines
    ]


def _price(*, lines, method: ShippingMethod, coupon_code: str, user, email: str) -> CartPrice:
    inputs = _line_inputs(lines)
    # Free shipping is judged on the merchandise subtotal, before discounts.
    subtotal = sum((line.unit_price * line.quantity for line in inputs), ZERO)
    return promotions.price_cart(
        lines=inputs,
        shipping=method.price_for(subtotal),
        coupon_code=coupon_code,
        user=user if user is not None and user.is_authenticated else None,
        email=email,
    )


def fingerprint_of(*, lines: list[CartLine], price: CartPrice, method: ShippingMethod) -> str:
    """A digest of everything the shopper agreed to on the review page."""
    priced = {line.key: line for line in price.lines}
    parts = [
        f"{line.variant_id}:{line.quantity}:{priced[line.pk].unit_price}:{priced[line.pk].total}"
        for line in lines
    ]
    parts += [
        f"ship:{method.pk}:{price.shipping}:{price.shipping_discount}",
        f"total:{price.total}",
        f"coupon:{price.coupon_code}",
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _is_sellable(line: CartLine) -> bool:
    product = line.variant.product
    return line.variant.is_active and product.is_published and product.category.is_active


def quote_checkout(
    *, cart: Cart, user, email: str, country: str, shipping_method: ShippingMethod
) -> Quote:
    """Price the ticked lines for the review page; raises EmptyCheckout, StockChanged or
    ShippingUnavailable when the order could not be placed as it stands."""
    lines = selectors.checkout_lines(cart=cart)
    if not lines:
        raise EmptyCheckout
    short = [
        line.variant.product.name
        for line in lines
        if not _is_sellable(line) or line.variant.stock < line.quantity
    ]
    if short:
        raise StockChanged(names=short)
    if not shipping_method.is_active or not shipping_method.serves(country):
        raise ShippingUnavailable
    price = _price(
        lines=lines, method=shipping_method, coupon_code=cart.coupon_code, user=user, email=email
    )
    return Quote(
        lines=lines,
        price=price,
        shipping_method=shipping_method,
        fingerprint=fingerprint_of(lines=lines, price=price, method=shipping_method),
    )


def place_order(
    *,
    cart: Cart,
    user,
    email: str,
    address: ShippingAddress,
    shipping_method_id: int,
    payment_method: str,
    idempotency_key: str,
    fingerprint: str,
) -> Order:
    """Turn the cart's ticked lines into an order, holding their stock until payment or
    expiry. One transaction.

    The cart row is locked first (two submits of one checkout queue), then the variant rows
    in primary-key order (two checkouts never deadlock). Stock, prices, discounts and the
    coupon are judged again under the locks: if the result differs from the review page's
    `fingerprint`, PriceChanged or StockChanged is raised and nothing is written. A second
    submit with the same `idempotency_key` returns the first order, taking nothing again.
    Mails go out after commit.
    """
    if payment_method not in dict(selectors.payment_methods()):
        raise OrderError(_("Choose a payment method."))
    try:
        return _place_order(
            cart=cart,
            user=user,
            email=email,
            address=address,
            shipping_method_id=shipping_method_id,
            payment_method=payment_method,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
        )
    except IntegrityError:
        # A concurrent submit of the same checkout won the race to the unique key.
        existing = Order.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return existing


@transaction.atomic
def _place_order(
    *,
    cart,
    user,
    email,
    address,
    shipping_method_id,
    payment_method,
    idempotency_key,
    fingerprint,
) -> Order:
    locks.cart_for_update(pk=cart.pk)
    existing = Order.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    lines = selectors.checkout_lines(cart=cart)
    if not lines:
        raise EmptyCheckout
    locked = catalog_locks.variants_for_update(ids=[line.variant_id for line in lines])
    short = []
    for line in lines:
        fresh = locked.get(line.variant_id)
        if fresh is not None:  # judge on the locked row, not the one read before the lock
            line.variant.price, line.variant.stock = fresh.price, fresh.stock
            line.variant.is_active = fresh.is_active
        if fresh is None or not _is_sellable(line) or fresh.stock < line.quantity:
            short.append(line.variant.product.name)
    if short:
        raise StockChanged(names=short)
    method = ShippingMethod.objects.active().filter(pk=shipping_method_id).first()
    if method is None or not method.serves(address.country):
        raise ShippingUnavailable
    user = user if user is not None and user.is_authenticated else None
    price = _price(lines=lines, method=method, coupon_code=cart.coupon_code, user=user, email=email)
    if fingerprint_of(lines=lines, price=price, method=method) != fingerprint:
        raise PriceChanged(price.coupon_error)

    order = _create_order(
        user=user,
        email=email,
        address=address,
        method=method,
        price=price,
        payment_method=payment_method,
        idempotency_key=idempotency_key,
        coupon_code=cart.coupon_code if price.coupon_code else "",
    )
    if price.coupon_code:
        try:
            promotions.redeem_coupon(
                code=price.coupon_code,
                user=user,
                email=email,
                order_number=order.number,
                subtotal=price.subtotal,
                lines=_line_inputs(lines),
            )
        except CouponRejected as rejected:
            raise PriceChanged(rejected.message) from rejected
    promotions.record_order_promotions(order_number=order.number, price=price)
    priced = {line.key: line for line in price.lines}
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                variant_id=line.variant_id,
                product_id=line.variant.product_id,
                product_name=line.variant.product.name,
                sku=line.variant.sku,
                options_label=line.variant.options_label,
                unit_price=priced[line.pk].unit_price,
                quantity=line.quantity,
                discount=priced[line.pk].discount,
                total=priced[line.pk].total,
            )
            for line in lines
        ]
    )
    if price.applied:
        OrderDiscount.objects.bulk_create(
            [
                OrderDiscount(
                    order=order,
                    name=applied.name[:200],
                    code=applied.code,
                    amount=applied.amount,
                    kind=applied.kind,
                    source=applied.source,
                )
                for applied in price.applied
            ]
        )
    OrderEvent.objects.create(
        order=order, actor=user, from_state="", to_state=order.state, note=_("Order placed")
    )
    try:
        catalog_services.take_stock(quantities=_quantities(lines))
    except catalog_services.InsufficientStock as short:
        names = [line.variant.product.name for line in lines if line.variant_id in short.short]
        raise StockChanged(names=names) from short
    _clear_ordered_lines(cart=cart, lines=lines)
    mails.queue_order_mail(order=order, name="placed")
    return order


def _quantities(lines) -> dict[int, int]:
    quantities: dict[int, int] = {}
    for line in lines:
        if line.variant_id:
            quantities[line.variant_id] = quantities.get(line.variant_id, 0) + line.quantity
    return quantities


def _clear_ordered_lines(*, cart: Cart, lines: list[CartLine]) -> None:
    """Empty the cart of what was ordered; unticked lines wait there for another day."""
    if not CartLine.objects.filter(cart=cart, is_selected=False).exists():
        cart_services.empty_cart(cart=cart)
        return
    for line in lines:
        cart_services.remove_line(cart=cart, line_id=line.pk)
    cart_services.set_coupon_code(cart=cart, code="")


def _create_order(
    *, user, email, address, method, price, payment_method, idempotency_key, coupon_code
) -> Order:
    fields = {
        "user": user,
        "email": email,
        "payment_method": payment_method,
        "idempotency_key": idempotency_key,
        "language": translation.get_language() or settings.LANGUAGE_CODE,
        "ship_name": address.full_name,
        "ship_phone": address.phone,
        "ship_line1": address.line1,
        "ship_line2": address.line2,
        "ship_city": address.city,
        "ship_region": address.region,
        "ship_postcode": address.postcode,
        "ship_country": address.country,
        "shipping_method": method,
        "shipping_method_name": method.name,
        "coupon_code": coupon_code,
        "currency": settings.SHOP_CURRENCY,
        "subtotal": price.subtotal,
        "discount": price.discount,
        "shipping": price.shipping or ZERO,
        "shipping_discount": price.shipping_discount,
        "total": price.total,
    }
    # 32^10 numbers: a collision is rare enough that one retry in a savepoint suffices, and
    # the unique constraint makes sure of it.
    for attempt in range(3):
        try:
            with transaction.atomic():
                return Order.objects.create(number=new_order_number(), **fields)
        except IntegrityError:
            if attempt == 2 or Order.objects.filter(idempotency_key=idempotency_key).exists():
                raise
    raise AssertionError("unreachable")


# --- The order's life ------------------------------------------------------------------


def _actor(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


@transaction.atomic
def transition(*, order: Order, to: str, actor=None, note: str = "") -> Order:
    """Move an order to state `to` if ORDER_TRANSITIONS allows it, else raise
    ForbiddenTransition and change nothing. Writes the event and queues the side effects
    (stock back, coupon released, mails). Returns the order as it is now."""
    locked = locks.order_for_update(pk=order.pk)
    _apply(locked, to=to, actor=actor, note=note)
    _copy(locked, order)
    return order


def _copy(source: Order, target: Order) -> None:
    if source is not target:
        for field in Order._meta.concrete_fields:
            setattr(target, field.attname, getattr(source, field.attname))


def _apply(order: Order, *, to: str, actor, note: str) -> None:
    """The transition itself, on an order row already locked."""
    from_state = order.state
    if to not in ORDER_TRANSITIONS.get(from_state, set()):
        raise ForbiddenTransition(
            number=order.number,
            from_state=S(from_state).label if from_state in S.values else from_state,
            to_state=S(to).label if to in S.values else to,
        )
    order.state = to
    order.save(update_fields=["state", "updated_at"])
    OrderEvent.objects.create(
        order=order, actor=_actor(actor), from_state=from_state, to_state=to, note=note[:500]
    )
    if to == S.CANCELLED:
        _return_stock(order)
        _release_promotions(order)
        mails.queue_order_mail(order=order, name="cancelled")
    elif to == S.PAID:
        mails.queue_order_mail(order=order, name="paid")
    elif to == S.SHIPPED:
        mails.queue_order_mail(order=order, name="shipped")
    elif to in (S.REFUNDED, S.PARTIALLY_REFUNDED):
        if to == S.REFUNDED:
            _release_promotions(order)
            if not order.shipments.exists():  # never shipped: the goods are still here
                _return_stock(order)
        mails.queue_order_mail(order=order, name="refunded")


def _return_stock(order: Order) -> None:
    if order.stock_returned:
        return
    catalog_services.return_stock(quantities=_quantities(order.lines.all()))
    order.stock_returned = True
    order.save(update_fields=["stock_returned", "updated_at"])


def _release_promotions(order: Order) -> None:
    promotions.release_coupon(order_number=order.number)
    promotions.release_order_promotions(order_number=order.number)


@transaction.atomic
def mark_paid(*, order: Order, amount: Decimal, actor=None, note: str = "") -> Order:
    """Record money received for an order (called by the payments app).

    The order becomes paid once what was received covers its total; a smaller amount is
    recorded with an event and the order keeps waiting. Adds to the shopper's lifetime
    spend and counts the units as sold. Raises ForbiddenTransition unless the order awaits
    payment.
    """
    amount = Decimal(amount)
    locked = locks.order_for_update(pk=order.pk)
    if locked.state != S.PENDING_PAYMENT:
        raise ForbiddenTransition(
            number=locked.number, from_state=locked.get_state_display(), to_state=S.PAID.label
        )
    if amount <= 0:
        raise OrderError(_("A payment must be more than zero."))
    locked.total_paid += amount
    locked.save(update_fields=["total_paid", "updated_at"])
    if locked.total_paid >= locked.total:
        locked.paid_at = timezone.now()
        locked.save(update_fields=["paid_at", "updated_at"])
        _apply(locked, to=S.PAID, actor=actor, note=note)
        catalog_services.record_sales(quantities=_quantities(locked.lines.all()))
    else:
        OrderEvent.objects.create(
            order=locked,
            actor=_actor(actor),
            from_state=locked.state,
            to_state=locked.state,
            note=(note or _("Part payment received"))[:500],
        )
    if locked.user_id:
        promotions.record_paid_spend(user=locked.user, amount=amount)
    _copy(locked, order)
    return order


@transaction.atomic
def record_refund(*, order: Order, amount: Decimal, actor=None, note: str = "") -> Order:
    """Record money given back (called by the payments app once the provider refunded).

    The order becomes refunded when everything paid has been given back (its coupon is
    released; its stock goes back if it never shipped), else partially refunded. The
    shopper's lifetime spend goes down by `amount`.
    """
    amount = Decimal(amount)
    locked = locks.order_for_update(pk=order.pk)
    if amount <= 0 or amount > locked.refundable:
        raise RefundTooLarge
    to = S.REFUNDED if locked.total_refunded + amount >= locked.total_paid else S.PARTIALLY_REFUNDED
    if to not in ORDER_TRANSITIONS.get(locked.state, set()):
        raise ForbiddenTransition(
            number=locked.number, from_state=locked.get_state_display(), to_state=S(to).label
        )
    locked.total_refunded += amount
    locked.save(update_fields=["total_refunded", "updated_at"])
    _apply(locked, to=to, actor=actor, note=note)
    if locked.user_id:
        promotions.record_paid_spend(user=locked.user, amount=-amount)
    _copy(locked, order)
    return order


@transaction.atomic
def cancel_order(*, order: Order, actor=None, note: str = "", by_shopper: bool = False) -> Order:
    """Cancel an order: its stock goes back and its coupon is released. The shopper may
    cancel only before anything ships; the merchant wherever the table allows."""
    locked = locks.order_for_update(pk=order.pk)
    if by_shopper and locked.state not in SHOPPER_CANCELLABLE:
        raise ForbiddenTransition(
            number=locked.number,
            from_state=locked.get_state_display(),
            to_state=S.CANCELLED.label,
        )
    _apply(locked, to=S.CANCELLED, actor=actor, note=note)
    _copy(locked, order)
    return order


@transaction.atomic
def mark_shipped(
    *, order: Order, carrier: str, tracking_number: str, actor=None, note: str = ""
) -> Shipment:
    """Hand the order to a carrier: a shipment row, the shipped state, the shopper's mail."""
    if carrier not in CARRIERS:
        raise OrderError(_("Choose a carrier."))
    locked = locks.order_for_update(pk=order.pk)
    shipment = Shipment.objects.create(
        order=locked,
        carrier=carrier,
        tracking_number=tracking_number.strip()[:64],
        shipped_at=timezone.now(),
    )
    _apply(locked, to=S.SHIPPED, actor=actor, note=note)
    _copy(locked, order)
    return shipment


@transaction.atomic
def mark_delivered(*, order: Order, actor=None, note: str = "") -> Order:
    locked = locks.order_for_update(pk=order.pk)
    _apply(locked, to=S.DELIVERED, actor=actor, note=note)
    Shipment.objects.filter(order=locked, delivered_at__isnull=True).update(
        delivered_at=timezone.now()
    )
    _copy(locked, order)
    return order


@transaction.atomic
def confirm_receipt(*, order: Order, actor=None) -> Order:
    """The shopper says the parcel arrived: shipped -> delivered -> completed."""
    locked = locks.order_for_update(pk=order.pk)
    if locked.state == S.SHIPPED:
        _apply(locked, to=S.DELIVERED, actor=actor, note=_("Receipt confirmed by the shopper"))
        Shipment.objects.filter(order=locked, delivered_at__isnull=True).update(
            delivered_at=timezone.now()
        )
    _apply(locked, to=S.COMPLETED, actor=actor, note=_("Receipt confirmed by the shopper"))
    _copy(locked, order)
    return order


@transaction.atomic
def request_return(*, order: Order, actor=None, note: str = "") -> Order:
    locked = locks.order_for_update(pk=order.pk)
    if locked.state not in RETURNABLE:
        raise ForbiddenTransition(
            number=locked.number,
            from_state=locked.get_state_display(),
            to_state=S.RETURN_REQUESTED.label,
        )
    _apply(locked, to=S.RETURN_REQUESTED, actor=actor, note=note)
    _copy(locked, order)
    return order


def expire_unpaid_orders(*, minutes: int, batch: int = 100) -> int:
    """Cancel orders unpaid for more than `minutes` and put their stock back; returns how
    many. Each batch is locked with SKIP LOCKED and re-checked, so two runs at once cancel
    each order once."""
    before = timezone.now() - timedelta(minutes=minutes)
    cancelled = 0
    while True:
        with transaction.atomic():
            orders = locks.expired_orders_for_update(before=before, limit=batch)
            for order in orders:
                _apply(order, to=S.CANCELLED, actor=None, note=_("Not paid in time"))
        cancelled += len(orders)
        if len(orders) < batch:
            return cancelled


@transaction.atomic
def anonymise_orders(*, user) -> int:
    """Before an account is deleted: blank the personal data of its orders (name, phone,
    address lines, email), keeping the country and the money for the merchant's books."""
    return Order.objects.filter(user=user).update(
        user=None,
        email="",
        ship_name="",
        ship_phone="",
        ship_line1="",
        ship_line2="",
        ship_city="",
        ship_region="",
        ship_postcode="",
        updated_at=timezone.now(),
    )


@transaction.atomic
def ensure_demo_shipping_methods() -> int:
    """Two demo shipping methods if the shop has none (seed_demo); returns how many added."""
    if ShippingMethod.objects.exists():
        return 0
    ShippingMethod.objects.bulk_create(
        [
            ShippingMethod(
                name="Standard",
                price=Decimal("4.95"),
                free_above=Decimal("50.00"),
                delivery_estimate="3–5 working days",
                position=0,
            ),
            ShippingMethod(
                name="Express",
                price=Decimal("12.00"),
                delivery_estimate="1–2 working days",
                position=1,
            ),
        ]
    )
    return 2


@transaction.atomic
def set_payment_method(*, order: Order, payment_method: str, actor=None) -> Order:
    """The shopper pays an unpaid order another way than chosen at checkout (called by the
    payments app, e.g. after a declined card): the new method is recorded with an event."""
    if payment_method not in dict(selectors.payment_methods()):
        raise OrderError(_("Choose a payment method."))
    locked = locks.order_for_update(pk=order.pk)
    if locked.state != S.PENDING_PAYMENT:
        raise ForbiddenTransition(
            number=locked.number,
            from_state=locked.get_state_display(),
            to_state=S.PENDING_PAYMENT.label,
        )
    if locked.payment_method != payment_method:
        old = locked.payment_method
        locked.payment_method = payment_method
        locked.save(update_fields=["payment_method", "updated_at"])
        OrderEvent.objects.create(
            order=locked,
            actor=_actor(actor),
            from_state=locked.state,
            to_state=locked.state,
            note=(
                _("Payment method changed from %(old)s to %(new)s")
                % {
                    "old": old,
                    "new": payment_method,
                }
            )[:500],
        )
    _copy(locked, order)
    return order
