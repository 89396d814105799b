"""The one place a cart's money is computed, and every write of the promotions app.

The orders app calls, inside its place_order transaction:
    price = price_cart(lines=..., shipping=..., coupon_code=..., user=..., email=...)
    if price.coupon_code:
        redeem_coupon(code=price.coupon_code, user=..., email=..., order_number=...,
                      subtotal=price.subtotal, lines=...)
    record_order_promotions(order_number=..., price=price)
and on cancellation or refund release_coupon(order_number=...) and
release_order_promotions(order_number=...); when an order is paid or refunded,
record_paid_spend(user=..., amount=...).
"""

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from catalog import services as catalog_services
from catalog.models import Variant
from promotions import calculator, flash, locks, selectors
from promotions import points as points_arithmetic
from promotions.calculator import Rule, Scope
from promotions.errors import CouponRejected, coupon_message
from promotions.models import (
    Coupon,
    CouponRedemption,
    CustomerSpend,
    Offer,
    PromotionUse,
)
from promotions.pricing import ZERO, CartPrice, LineInput, format_money
from shop.money import quantize
from taxes import calculation as tax_calculation
from taxes import selectors as tax_selectors
from taxes.selectors import Destination

__all__ = [
    "CouponRejected",
    "check_coupon",
    "price_cart",
    "record_order_promotions",
    "record_paid_spend",
    "redeem_coupon",
    "release_coupon",
    "release_order_promotions",
    "sync_sale_prices",
]

#: Most queries price_cart() makes, whatever the number of lines: running offers 1, their
#: spend tiers, products and categories 3 (only when an offer runs); membership tier with
#: the customer's spend 1 (signed in only); coupon 1, its products and categories 2, the
#: customer's uses of it 1 (only when a code is entered, the coupon exists and has a
#: per-customer limit); the tax table 1 (only when the cache is cold: taxes.selectors);
#: group prices 1 (only when a line joins a group buy); the flash sales' schedule 1 (only when
#: the cache is cold: promotions.flash).
PRICE_CART_MAX_QUERIES = 12

#: Where price_cart reads group buy prices: group buys live above promotions, so their app
#: hands its reader in when it starts (GroupbuysConfig.ready). It takes the lines that join a
#: group, the shopper and the moment, and answers {line key: group unit price} for the
#: lines whose shopper holds a seat in an open group; other lines keep their price.
_group_price_source = None


def set_group_price_source(source) -> None:
    global _group_price_source
    _group_price_source = source


def _at_group_prices(lines: list[LineInput], *, user, now) -> list[LineInput]:
    joining = [line for line in lines if line.group_id]
    if not joining or _group_price_source is None:
        return lines
    prices = _group_price_source(lines=joining, user=user, now=now)
    return [
        replace(line, unit_price=prices[line.key], final_price=True) if line.key in prices else line
        for line in lines
    ]


def price_cart(
    *,
    lines: Sequence[LineInput],
    shipping: Decimal | None = None,
    coupon_code: str = "",
    user=None,
    email: str = "",
    now: datetime | None = None,
    destination: Destination | None = None,
    shipping_tax_class_id: int | None = None,
    free_shipping_from: Decimal | None = None,
    points: int = 0,
) -> CartPrice:
    """Price lines with every promotion that applies, then tax them; the cart, checkout,
    place_order and the order's snapshot all call this, so a shopper sees the same numbers
    everywhere.

    Reads only (at most PRICE_CART_MAX_QUERIES queries) and never writes: a coupon counts
    as used only in redeem_coupon(). An entered coupon that does not apply leaves the
    reason in `coupon_error`; the one that applied is in `coupon_code`. `email` identifies
    a guest for per-customer coupon limits; `now` is the moment promotions and tax rates
    are judged at. Tax is worked out on what is left of each line after discounts, and on
    shipping (of class `shipping_tax_class_id`), with the rates of `destination` (the
    address and the buyer's VAT number); without one, the seller's country's, flagged
    `tax_estimated`. Shipping is free once the lines' subtotal before discounts reaches
    `free_shipping_from` (the shipping method's threshold; on the cart, before a method is
    chosen, the cheapest one, for the "more for free shipping" bar). A signed-in `user`
    pays with up to `points` of their points (promotions.points: the balance and the cap
    decide how many), taken off the lines after every other discount and before tax. A line
    that joins a group buy costs the group's price while its shopper holds a seat.
    """
    now = now or timezone.now()
    # A running flash sale prices its variant (promotions.flash), a seat in a group buy its
    # line; those prices are final (no other promotion covers such a line).
    lines = flash.flash_priced(lines, now=now) if lines else []
    lines = _at_group_prices(lines, user=user, now=now)
    subtotal = sum((calculator.line_subtotal(line) for line in lines), ZERO)
    if shipping is not None and free_shipping_from is not None and subtotal >= free_shipping_from:
        shipping = ZERO
    if not lines:
        price = calculator.calculate(lines=[], shipping=shipping, rules=[])
        return replace(price, free_shipping_from=free_shipping_from)
    price = _discounted(
        lines=lines, shipping=shipping, coupon_code=coupon_code, user=user, email=email, now=now
    )
    price = replace(price, free_shipping_from=free_shipping_from)
    if points > 0 and user is not None and getattr(user, "is_authenticated", False):
        price = _with_points(price, points=points, user=user)
    return _taxed(
        price,
        lines=lines,
        destination=destination,
        shipping_tax_class_id=shipping_tax_class_id,
        now=now,
    )


def _discounted(*, lines, shipping, coupon_code, user, email, now) -> CartPrice:
    subtotal = sum((calculator.line_subtotal(line) for line in lines), ZERO)
    rules = _offer_rules(lines=lines, now=now) + _tier_rules(user=user)
    coupon_rule = None
    coupon_error = ""
    if coupon_code.strip():
        try:
            coupon, scope = _valid_coupon(
                code=coupon_code, lines=lines, subtotal=subtotal, user=user, email=email, now=now
            )
        except CouponRejected as rejected:
            coupon_error = rejected.message
        else:
            coupon_rule = _coupon_rule(coupon, scope)
            rules.append(coupon_rule)
    price = calculator.calculate(lines=lines, shipping=shipping, rules=rules)
    if coupon_rule is not None and not price.coupon_code:
        coupon_error = coupon_message(CouponRejected.NOT_COMBINABLE)
    if coupon_error:
        price = replace(price, coupon_error=coupon_error)
    return price


def _with_points(price: CartPrice, *, points: int, user) -> CartPrice:
    spent = points_arithmetic.redemption(
        wanted=points,
        balance=selectors.points_balance(user=user),
        base=sum((line.total for line in price.lines), ZERO),
        value_per_point=settings.POINTS_VALUE,
        max_share=settings.POINTS_MAX_SHARE,
    )
    return points_arithmetic.apply_redemption(price, spent)


SHIPPING_KEY = ("shipping",)


def _taxed(
    price: CartPrice,
    *,
    lines: list[LineInput],
    destination: Destination | None,
    shipping_tax_class_id: int | None,
    now: datetime,
) -> CartPrice:
    """The discounted price with tax on each line and on shipping (taxes.calculation)."""
    estimated = destination is None
    destination = destination or tax_selectors.default_destination()
    table = tax_selectors.tax_table()
    rules = tax_selectors.rules_for(destination, now=now, table=table)
    classes = {line.key: table.class_of(line.tax_class_id) for line in lines}
    items = [
        tax_calculation.Item(
            key=("line", line.key), amount=line.total, tax_class=classes[line.key].code
        )
        for line in price.lines
    ]
    shipping_class = table.class_of(shipping_tax_class_id)
    if price.shipping is not None:
        items.append(
            tax_calculation.Item(
                key=SHIPPING_KEY,
                amount=price.shipping - price.shipping_discount,
                tax_class=shipping_class.code,
            )
        )
    result = tax_calculation.compute(items=items, rules=rules)
    taxed = {item.key: item for item in result.items}
    priced_lines = []
    for line in price.lines:
        item = taxed[("line", line.key)]
        priced_lines.append(
            replace(
                line,
                net=item.net,
                tax=item.tax,
                gross=item.gross,
                tax_rate=item.rate.percent,
                tax_name=item.rate.name,
                tax_class=classes[line.key].name,
            )
        )
    shipping = taxed.get(SHIPPING_KEY)
    return replace(
        price,
        lines=tuple(priced_lines),
        total=result.gross,
        prices_include_tax=rules.prices_include_tax,
        net=result.net,
        tax=result.tax,
        tax_rows=result.rows,
        tax_removed=result.removed,
        tax_not_charged=result.not_charged,
        tax_country=destination.country.upper(),
        tax_region=destination.region,
        tax_estimated=estimated,
        shipping_net=shipping.net if shipping else None,
        shipping_tax=shipping.tax if shipping else ZERO,
        shipping_gross=shipping.gross if shipping else None,
        shipping_tax_rate=shipping.rate.percent if shipping else ZERO,
        shipping_tax_class=shipping_class.name if shipping else "",
    )


def _offer_rules(*, lines: list[LineInput], now: datetime) -> list[Rule]:
    rules = []
    for running in selectors.running_offers(now=now):
        offer = running.offer
        if offer.kind == Offer.Kind.SALE:
            if offer.percent > 0:
                rules.append(
                    Rule(
                        source=f"offer:{offer.pk}",
                        name=offer.name,
                        kind=calculator.SALE,
                        value=offer.percent,
                        stacks=offer.stacks,
                        stage="sale",
                        scope=running.scope,
                    )
                )
            continue
        # Spend offers measure what the shopper spends on the lines they cover, before
        # discounts; the highest tier reached applies.
        spent = sum(
            (calculator.line_subtotal(line) for line in lines if running.scope.covers(line)),
            ZERO,
        )
        reached = [amount for threshold, amount in running.tiers if spent >= threshold]
        if reached and max(reached) > 0:
            rules.append(
                Rule(
                    source=f"offer:{offer.pk}",
                    name=offer.name,
                    kind=calculator.AMOUNT,
                    value=max(reached),
                    stacks=offer.stacks,
                    stage="offer",
                    scope=running.scope,
                )
            )
    return rules


def _tier_rules(*, user) -> list[Rule]:
    member = selectors.membership(user=user)
    if member is None or member.tier is None or member.tier.percent <= 0:
        return []
    tier = member.tier
    return [
        Rule(
            source=f"tier:{tier.pk}",
            name=_("%(tier)s member discount") % {"tier": tier.name},
            kind=calculator.PERCENT,
            value=tier.percent,
            stacks=tier.stacks,
            stage="tier",
        )
    ]


def _coupon_rule(coupon: Coupon, scope: Scope) -> Rule:
    kind = {
        Coupon.Kind.PERCENT: calculator.PERCENT,
        Coupon.Kind.AMOUNT: calculator.AMOUNT,
        Coupon.Kind.FREE_SHIPPING: calculator.FREE_SHIPPING,
    }[coupon.kind]
    return Rule(
        source=f"coupon:{coupon.pk}",
        name=coupon.display_name,
        kind=kind,
        value=coupon.value,
        stacks=coupon.stacks,
        stage="coupon",
        scope=scope,
        code=coupon.code,
    )


# --- Coupons ----------------------------------------------------------------------------


def _when(moment: datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def _reject(reason: str, **params) -> CouponRejected:
    return CouponRejected(reason=reason, message=coupon_message(reason, **params))


def _check(
    *,
    coupon: Coupon | None,
    code: str,
    scope: Scope | None,
    lines: Sequence[LineInput],
    subtotal: Decimal,
    customer_uses,
    now: datetime,
) -> None:
    """Every rule of a coupon, in the order a shopper would want to hear them.

    `customer_uses` is a callable, so the per-customer count is only read when it matters.
    `scope` None skips the items rule (redeem_coupon() without lines).
    """
    if coupon is None or not coupon.is_active:
        raise _reject(CouponRejected.UNKNOWN, code=code.strip())
    if coupon.valid_from is not None and now < coupon.valid_from:
        raise _reject(CouponRejected.NOT_YET_VALID, date=_when(coupon.valid_from))
    if coupon.valid_until is not None and now >= coupon.valid_until:
        raise _reject(CouponRejected.EXPIRED, date=_when(coupon.valid_until))
    if coupon.max_uses is not None and coupon.used_count >= coupon.max_uses:
        raise _reject(CouponRejected.USED_UP)
    if coupon.max_uses_per_customer is not None and (
        customer_uses() >= coupon.max_uses_per_customer
    ):
        raise _reject(CouponRejected.ALREADY_USED)
    if subtotal < coupon.minimum_subtotal:
        raise _reject(CouponRejected.MINIMUM_NOT_MET, minimum=format_money(coupon.minimum_subtotal))
    if scope is not None and not any(scope.covers(line) for line in lines):
        raise _reject(CouponRejected.NOT_FOR_THESE_ITEMS)


def _valid_coupon(*, code, lines, subtotal, user, email, now) -> tuple[Coupon, Scope]:
    found = selectors.coupon_with_scope(code=code)
    coupon, scope = found if found else (None, None)
    _check(
        coupon=coupon,
        code=code,
        scope=scope,
        lines=lines,
        subtotal=subtotal,
        customer_uses=lambda: selectors.customer_uses(coupon=coupon, user=user, email=email),
        now=now,
    )
    return coupon, scope


def check_coupon(
    *,
    code: str,
    lines: Sequence[LineInput],
    user=None,
    email: str = "",
    now: datetime | None = None,
) -> Coupon:
    """The coupon for `code` if it could apply to these lines; raises CouponRejected with
    the reason otherwise. For a cart's "apply" button (price_cart() says the same through
    `coupon_error`)."""
    lines = list(lines)
    subtotal = sum((calculator.line_subtotal(line) for line in lines), ZERO)
    coupon, _scope = _valid_coupon(
        code=code, lines=lines, subtotal=subtotal, user=user, email=email, now=now or timezone.now()
    )
    return coupon


@transaction.atomic
def redeem_coupon(
    *,
    code: str,
    user,
    email: str,
    order_number: str,
    subtotal: Decimal,
    lines: Sequence[LineInput] | None = None,
    now: datetime | None = None,
) -> CouponRedemption:
    """Count one use of a coupon for an order, or raise CouponRejected.

    Call it inside place_order's transaction. The coupon's row is locked first
    (promotions.locks), so its rules are judged again against uses that committed a moment
    ago and concurrent orders queue: a coupon with 5 uses left is redeemed at most 5 times
    however many orders race for it. Redeeming again for the same order returns the same
    redemption. With `lines`, the "only for these items" rule is checked too.
    """
    now = now or timezone.now()
    user = user if user is not None and getattr(user, "is_authenticated", False) else None
    coupon = locks.coupon_for_update(code=code)
    if coupon is not None:
        existing = CouponRedemption.objects.filter(
            coupon=coupon, order_number=order_number, released_at__isnull=True
        ).first()
        if existing is not None:
            return existing
    scope = None
    if coupon is not None and lines is not None:
        scope = selectors._scopes(Coupon, [coupon.pk])[coupon.pk]
    _check(
        coupon=coupon,
        code=code,
        scope=scope,
        lines=list(lines or ()),
        subtotal=subtotal,
        customer_uses=lambda: selectors.customer_uses(coupon=coupon, user=user, email=email),
        now=now,
    )
    Coupon.objects.filter(pk=coupon.pk).update(used_count=F("used_count") + 1)
    coupon.used_count += 1
    return CouponRedemption.objects.create(
        coupon=coupon, user=user, email=email.strip(), order_number=order_number
    )


@transaction.atomic
def release_coupon(*, order_number: str, now: datetime | None = None) -> bool:
    """Give back the coupon use of a cancelled or refunded order. Idempotent: returns False
    when there was none left to give back."""
    redemptions = list(locks.live_redemptions_for_update(order_number=order_number))
    for redemption in redemptions:
        CouponRedemption.objects.filter(pk=redemption.pk).update(released_at=now or timezone.now())
        Coupon.objects.filter(pk=redemption.coupon_id, used_count__gt=0).update(
            used_count=F("used_count") - 1
        )
    return bool(redemptions)


@transaction.atomic
def set_coupons_active(*, coupon_ids: Iterable[int], active: bool) -> int:
    return Coupon.objects.filter(pk__in=list(coupon_ids)).update(is_active=active)


# --- Offers and membership tiers on orders ----------------------------------------------


def record_order_promotions(*, order_number: str, price: CartPrice) -> int:
    """Record which offers and membership tiers discounted an order (coupons are recorded
    by redeem_coupon()), for the merchant's usage counts. Idempotent per order. An order
    that none discounted (points and coupons are not offers) costs no query."""
    uses = []
    for applied in price.applied:
        kind, _sep, pk = applied.source.partition(":")
        if kind == "offer":
            uses.append(
                PromotionUse(offer_id=int(pk), order_number=order_number, amount=applied.amount)
            )
        elif kind == "tier":
            uses.append(
                PromotionUse(tier_id=int(pk), order_number=order_number, amount=applied.amount)
            )
    if not uses:
        return 0
    with transaction.atomic():
        if PromotionUse.objects.filter(
            order_number=order_number, released_at__isnull=True
        ).exists():
            return 0
        PromotionUse.objects.bulk_create(uses)
    return len(uses)


@transaction.atomic
def release_order_promotions(*, order_number: str, now: datetime | None = None) -> int:
    """A cancelled or refunded order no longer counts as a use of its offers and tier."""
    return PromotionUse.objects.filter(order_number=order_number, released_at__isnull=True).update(
        released_at=now or timezone.now()
    )


@transaction.atomic
def set_offers_active(*, offer_ids: Iterable[int], active: bool) -> int:
    updated = Offer.objects.filter(pk__in=list(offer_ids)).update(is_active=active)
    selectors.offers_changed()  # update() sends no signal
    sync_sale_prices()
    return updated


@transaction.atomic
def record_paid_spend(*, user, amount: Decimal) -> Decimal:
    """Add a paid order's amount to the customer's lifetime spend (negative for a refund;
    the spend never goes below zero). Returns the new lifetime spend. One conditional
    UPDATE, so concurrent payments add up."""
    amount = quantize(Decimal(amount))
    CustomerSpend.objects.get_or_create(user=user)
    CustomerSpend.objects.filter(user=user).update(
        paid_total=Greatest(F("paid_total") + amount, Decimal("0.00"))
    )
    return CustomerSpend.objects.values_list("paid_total", flat=True).get(user=user)


# --- Sales shown on product cards and pages ---------------------------------------------


def sale_prices(*, now: datetime) -> dict[int, Decimal]:
    """The price of one unit of each active variant under the sales running at `now`,
    computed by the same arithmetic as price_cart(), for variants a sale lowers."""
    running = selectors.running_offers(now=now, kind=Offer.Kind.SALE)
    rules = _rules_of_sales(running)
    if not rules:
        return {}
    covers = Q()
    for rule in rules:
        if rule.scope.everything:
            covers = Q()
            break
        covers |= Q(product_id__in=rule.scope.product_ids)
        covers |= Q(product__category_id__in=rule.scope.category_ids)
        for category_id in rule.scope.category_ids:
            covers |= Q(product__category__path__contains=f"/{category_id}/")
    rows = (
        Variant.objects.active()
        .filter(covers)
        .values_list("pk", "product_id", "price", "product__category_id", "product__category__path")
    )
    prices = {}
    for pk, product_id, price, category_id, path in rows.iterator(chunk_size=2000):
        line = LineInput(
            key=pk,
            variant_id=pk,
            product_id=product_id,
            category_path=f"{path}{category_id}/",
            unit_price=price,
            quantity=1,
        )
        unit = calculator.calculate(lines=[line], shipping=None, rules=rules).lines[0].total
        if unit < price:
            prices[pk] = unit
    return prices


def _rules_of_sales(running) -> list[Rule]:
    return [
        Rule(
            source=f"offer:{item.offer.pk}",
            name=item.offer.name,
            kind=calculator.SALE,
            value=item.offer.percent,
            stacks=item.offer.stacks,
            stage="sale",
            scope=item.scope,
        )
        for item in running
        if item.offer.percent > 0
    ]


@transaction.atomic
def sync_sale_prices(*, now: datetime | None = None) -> int:
    """Make the catalog's sale prices those of the sales running now; returns how many
    variants changed. Run every minute by Celery beat and after a sale is saved, so a sale
    appears and disappears on cards and product pages within a minute of its window's
    edges (the cart charges by price_cart(), exact to the second). Only changed variants
    are written, so cached pages of untouched products stay cached."""
    wanted = sale_prices(now=now or timezone.now())
    current = dict(Variant.objects.filter(sale_price__isnull=False).values_list("pk", "sale_price"))
    changes: dict[int, Decimal | None] = {
        pk: price for pk, price in wanted.items() if current.get(pk) != price
    }
    changes.update({pk: None for pk in current if pk not in wanted})
    if changes:
        catalog_services.set_sale_prices(variant_prices=changes)
    return len(changes)
