"""Placing an order: the checkout's quote and place_order(), which turns a cart into an
order under row locks, idempotently."""

import hashlib
import secrets
from dataclasses import dataclass
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
    FlashUnavailable,
    OrderError,
    PriceChanged,
    ShippingUnavailable,
    StockChanged,
)
from orders.models import (
    ZERO,
    EventKind,
    FapiaoRequest,
    Order,
    OrderDiscount,
    OrderLine,
    OrderTaxLine,
    ShippingMethod,
)
from orders.services.payment_status import deadline_for
from orders.services.statuses import record_event, refresh_statuses
from promotions import flash
from promotions import ledger as points_ledger
from promotions import services as promotions
from promotions.errors import CouponRejected, FlashRejected
from promotions.pricing import CartPrice, LineInput
from shop import prepared
from taxes import vat
from taxes.calculation import REVERSE_CHARGE
from taxes.selectors import Destination

#: Crockford's base32: no I, L, O, U, so a number read over the phone is not misheard.
NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: Numbers tried for one order: two taken numbers in a row is already next to impossible.
ORDER_NUMBER_ATTEMPTS = 3


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


@dataclass(frozen=True)
class Buyer:
    """The buyer as a business, for the invoice: an EU VAT number may mean reverse charge."""

    company: str = ""
    vat_number: str = ""


@dataclass(frozen=True)
class FapiaoChoice:
    """A Chinese buyer's fapiao (发票) request: personal or company, with its title (抬头)
    and, for a company, its taxpayer number (税号)."""

    kind: str
    title: str
    taxpayer_number: str = ""


def destination_of(*, country: str, region: str = "", vat_number: str = "") -> Destination:
    """Where tax is judged: the delivery address, and the buyer's VAT number if valid."""
    number = vat.compact(vat_number) if vat.is_valid(vat_number, country=country) else ""
    return Destination(country=str(country).upper(), region=region or "", vat_number=number)


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
            tax_class_id=line.variant.product.tax_class_id,
            group_id=line.group_id,
        )
        for line in lines
    ]


def _price(
    *,
    inputs: list[LineInput],
    method: ShippingMethod,
    coupon_code: str,
    user,
    email: str,
    destination,
    points=0,
    now=None,
) -> CartPrice:
    return promotions.price_cart(
        lines=inputs,
        shipping=method.price,
        free_shipping_from=method.free_above,
        coupon_code=coupon_code,
        user=user if user is not None and user.is_authenticated else None,
        email=email,
        destination=destination,
        shipping_tax_class_id=method.tax_class_id,
        points=points,
        now=now,
    )


def fingerprint_of(*, lines: list[CartLine], price: CartPrice, method: ShippingMethod) -> str:
    """A digest of everything the shopper agreed to on the review page, tax included: a
    rate changed between the review and the submit is caught like a price change."""
    priced = {line.key: line for line in price.lines}
    parts = [
        f"{line.variant_id}:{line.quantity}:{priced[line.pk].unit_price}:{priced[line.pk].total}"
        f":{priced[line.pk].tax}:{priced[line.pk].tax_rate}:{priced[line.pk].gross}"
        for line in lines
    ]
    parts += [
        f"ship:{method.pk}:{price.shipping}:{price.shipping_discount}:{price.shipping_tax}",
        f"total:{price.total}",
        f"coupon:{price.coupon_code}",
        f"points:{price.points_used}:{price.points_value}",
        f"tax:{price.tax_country}:{price.tax_region}:{price.tax}:{price.tax_removed}"
        f":{price.tax_not_charged}",
        *(f"rate:{row.name}:{row.percent}:{row.net}:{row.tax}" for row in price.tax_rows),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _is_sellable(line: CartLine) -> bool:
    product = line.variant.product
    return line.variant.is_active and product.is_published and product.category.is_active


def quote_checkout(
    *,
    cart: Cart,
    user,
    email: str,
    country: str,
    shipping_method: ShippingMethod,
    region: str = "",
    vat_number: str = "",
    points: int = 0,
) -> Quote:
    """Price the ticked lines for the review page, with the tax of the address (`country`,
    `region`) and the buyer's VAT number, paying with up to `points` of the shopper's
    points; raises EmptyCheckout, StockChanged or
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
    inputs = _line_inputs(lines)
    try:
        flash.check(lines=inputs, user=user, email=email)
    except FlashRejected as rejected:
        raise FlashUnavailable(rejected.message) from rejected
    if not shipping_method.is_active or not shipping_method.serves(country):
        raise ShippingUnavailable
    price = _price(
        inputs=inputs,
        method=shipping_method,
        coupon_code=cart.coupon_code,
        user=user,
        email=email,
        destination=destination_of(country=country, region=region, vat_number=vat_number),
        points=points,
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
    buyer: Buyer | None = None,
    fapiao: FapiaoChoice | None = None,
    points: int = 0,
) -> Order:
    """Turn the cart's ticked lines into an order, holding their stock until payment or
    expiry. One transaction.

    Every line is snapshotted with its net, tax, gross, rate and class, and the order with
    its tax by rate, so nothing is ever worked out again from today's rates. `buyer` names
    the business (an EU VAT number of another member state means reverse charge);
    `fapiao` records a Chinese buyer's fapiao request. A signed-in shopper pays with up to
    `points` points: the customer's row is locked before they are counted and the
    redemption is an entry of this transaction, so two checkouts never spend the same points.

    The cart row is locked first (two submits of one checkout queue), then the variant rows
    in primary-key order (two checkouts never deadlock). Stock, prices, discounts and the
    coupon are judged again under the locks: if the result differs from the review page's
    `fingerprint`, PriceChanged or StockChanged is raised and nothing is written. A second
    submit with the same `idempotency_key` returns the first order, taking nothing again.
    Mails go out after commit.
    """
    if payment_method not in dict(selectors.payment_methods()):
        raise OrderError(_("Choose a payment method."))
    # The key answers only for the cart it was issued to: another cart submitting it (a
    # copied form) places its own order instead of receiving someone else's.
    idempotency_key = f"{cart.pk}:{idempotency_key}"[:64]
    # 32^10 numbers: a collision is rare enough that placing the order again with another
    # number suffices (the unique constraint makes sure of it), without a savepoint on
    # every order.
    for attempt in range(ORDER_NUMBER_ATTEMPTS):
        number = new_order_number()
        flash_held: list[flash.Reservation] = []
        try:
            with flash.one_schedule():  # the flash sales' gate, pricing and claim agree
                return _place_order(
                    cart=cart,
                    user=user,
                    email=email,
                    address=address,
                    shipping_method_id=shipping_method_id,
                    payment_method=payment_method,
                    idempotency_key=idempotency_key,
                    number=number,
                    fingerprint=fingerprint,
                    buyer=buyer or Buyer(),
                    fapiao=fapiao,
                    points=points,
                    flash_held=flash_held,
                )
        except IntegrityError:
            # Rolled back whole. A concurrent submit of the same checkout won the race to
            # the unique key, or the number was taken.
            flash.cancel_reservations(flash_held)
            existing = selectors.order_with_key(idempotency_key=idempotency_key)
            if existing is not None:
                return existing
            taken = Order.objects.filter(number=number).exists()
            if not taken or attempt == ORDER_NUMBER_ATTEMPTS - 1:
                raise
        except BaseException:
            # Not placed (refused, rolled back): the flash units reserved go back to the crowd.
            flash.cancel_reservations(flash_held)
            raise
    raise AssertionError("unreachable")


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
    number,
    fingerprint,
    buyer,
    fapiao,
    points,
    flash_held,
) -> Order:
    locks.cart_for_update(pk=cart.pk)
    existing = selectors.order_with_key(idempotency_key=idempotency_key)
    if existing is not None:
        return existing
    lines = selectors.checkout_lines(cart=cart)
    if not lines:
        raise EmptyCheckout
    # One moment for the flash sale's gate, the pricing and the claim: a sale that ends (or
    # starts) while the order is placed is judged the same by all three, so no order is at
    # the flash price without its claim.
    now = timezone.now()
    # Flash sale units first, before any row lock: the crowd past the cap is told "sold
    # out" here without queueing on the variant's row (promotions.flash).
    try:
        flash_held.extend(flash.reserve(lines=_line_inputs(lines), user=user, email=email, now=now))
    except FlashRejected as rejected:
        raise FlashUnavailable(rejected.message) from rejected
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
    method = selectors.active_shipping_method_now(pk=shipping_method_id)
    if method is None or not method.serves(address.country):
        raise ShippingUnavailable
    user = user if user is not None and user.is_authenticated else None
    points = points if user is not None else 0
    if points:
        points_ledger.lock_customer(user=user)  # the balance price_cart reads holds till commit
    destination = destination_of(
        country=address.country, region=address.region, vat_number=buyer.vat_number
    )
    # Built once, from the locked rows' prices: what is priced is what the coupon and the
    # flash sale record.
    inputs = _line_inputs(lines)
    price = _price(
        inputs=inputs,
        method=method,
        coupon_code=cart.coupon_code,
        user=user,
        email=email,
        destination=destination,
        points=points,
        now=now,
    )
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
        number=number,
        coupon_code=cart.coupon_code if price.coupon_code else "",
        buyer=buyer,
        destination=destination,
        on_hold=any(line.group_id for line in lines),
    )
    if price.coupon_code:
        try:
            promotions.redeem_coupon(
                code=price.coupon_code,
                user=user,
                email=email,
                order_number=order.number,
                subtotal=price.subtotal,
                lines=inputs,
            )
        except CouponRejected as rejected:
            raise PriceChanged(rejected.message) from rejected
    try:
        claims = flash.claim(
            lines=inputs, user=user, email=email, order_number=order.number, now=now
        )
    except FlashRejected as rejected:
        raise FlashUnavailable(rejected.message) from rejected
    flash_deadline = flash.payment_deadline(placed_at=order.created_at)
    if claims and (order.payment_deadline is None or flash_deadline < order.payment_deadline):
        # Flash units wait for nobody: a short deadline of their own.
        order.payment_deadline = flash_deadline
        order.save(update_fields=["payment_deadline"])
    promotions.record_order_promotions(order_number=order.number, price=price)
    if price.points_used:
        points_ledger.record_redemption(
            user=user, order_number=order.number, points=price.points_used
        )
    priced = {line.key: line for line in price.lines}
    prepared.create_all(
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
                total=priced[line.pk].gross,
                net=priced[line.pk].net,
                tax=priced[line.pk].tax,
                tax_rate=priced[line.pk].tax_rate,
                tax_class=priced[line.pk].tax_class[:80],
                group_id=line.group_id,
            )
            for line in lines
        ]
    )
    prepared.create_all(
        [
            OrderTaxLine(
                order=order,
                name=row.name[:40],
                rate=row.percent,
                exempt=row.exempt,
                net=row.net,
                tax=row.tax,
            )
            for row in price.tax_rows
        ]
    )
    if fapiao is not None:
        FapiaoRequest.objects.create(
            order=order,
            kind=fapiao.kind,
            title=fapiao.title[:200],
            taxpayer_number=fapiao.taxpayer_number,
        )
    if price.applied:
        prepared.create_all(
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
    record_event(
        order, kind=EventKind.ORDER, to_status=order.status, actor=user, note=_("Order placed")
    )
    if order.on_hold:
        record_event(order, kind=EventKind.NOTE, note=_("On hold until its group buy fills"))
    try:
        catalog_services.take_locked_stock(
            locked=locked, quantities=_quantities(lines), reference=order.number
        )
    except catalog_services.InsufficientStock as short:
        names = [line.variant.product.name for line in lines if line.variant_id in short.short]
        raise StockChanged(names=names) from short
    cart_services.remove_bought_lines(cart=cart, line_ids=[line.pk for line in lines])
    mails.queue_order_mail(order=order, name="placed")
    if order.total <= 0:  # discounts covered everything: nothing to pay, it ships
        refresh_statuses(order, actor=user, note=_("Nothing to pay"))
    return order


def _quantities(lines) -> dict[int, int]:
    quantities: dict[int, int] = {}
    for line in lines:
        if line.variant_id:
            quantities[line.variant_id] = quantities.get(line.variant_id, 0) + line.quantity
    return quantities


def _create_order(
    *,
    user,
    email,
    address,
    method,
    price,
    payment_method,
    idempotency_key,
    number,
    coupon_code,
    buyer,
    destination,
    on_hold,
) -> Order:
    return prepared.create(
        Order,
        number=number,
        user=user,
        email=email,
        payment_method=payment_method,
        payment_deadline=deadline_for(payment_method=payment_method, placed_at=timezone.now()),
        idempotency_key=idempotency_key,
        language=translation.get_language() or settings.LANGUAGE_CODE,
        ship_name=address.full_name,
        ship_phone=address.phone,
        ship_line1=address.line1,
        ship_line2=address.line2,
        ship_city=address.city,
        ship_region=address.region,
        ship_postcode=address.postcode,
        ship_country=address.country,
        shipping_method=method,
        shipping_method_name=method.name,
        coupon_code=coupon_code,
        currency=settings.SHOP_CURRENCY,
        subtotal=price.subtotal,
        discount=price.discount,
        shipping=price.shipping or ZERO,
        shipping_discount=price.shipping_discount,
        total=price.total,
        prices_include_tax=price.prices_include_tax,
        tax=price.tax,
        tax_removed=price.tax_removed,
        tax_not_charged=price.tax_not_charged,
        tax_country=price.tax_country,
        tax_region=price.tax_region[:100],
        shipping_tax=price.shipping_tax,
        shipping_tax_rate=price.shipping_tax_rate,
        shipping_tax_class=price.shipping_tax_class[:80],
        buyer_company=buyer.company[:200],
        buyer_vat_number=destination.vat_number or vat.compact(buyer.vat_number)[:20],
        reverse_charge=price.tax_not_charged == REVERSE_CHARGE,
        # A group buy's order ships only once its group fills (the group buys app releases it).
        on_hold=on_hold,
    )


@transaction.atomic
def ensure_demo_shipping_methods() -> int:
    """Two demo shipping methods if the shop has none (seed_demo); returns how many added."""
    if ShippingMethod.objects.exists():
        return 0
    # (standard, free from, express): a yuan shop's as shops in China charge (满 99 包邮).
    in_yuan = settings.SHOP_CURRENCY == "CNY"
    standard, free_above, express = (
        ("8.00", "99.00", "23.00") if in_yuan else ("4.95", "50.00", "12.00")
    )
    ShippingMethod.objects.bulk_create(
        [
            ShippingMethod(
                name_en="Standard",
                name_zh_hans="标准快递",
                price=Decimal(standard),
                free_above=Decimal(free_above),
                delivery_estimate_en="3–5 working days",
                delivery_estimate_zh_hans="3–5 个工作日",
                delivery_days_min=3,
                delivery_days_max=5,
                position=0,
            ),
            ShippingMethod(
                name_en="Express",
                name_zh_hans="特快专递",
                price=Decimal(express),
                delivery_estimate_en="1–2 working days",
                delivery_estimate_zh_hans="1–2 个工作日",
                delivery_days_min=1,
                delivery_days_max=2,
                position=1,
            ),
        ]
    )
    return 2
