"""The one place a cart's money is computed."""

from collections.abc import Sequence
from decimal import Decimal

from promotions.pricing import ZERO, CartPrice, LineInput, LinePrice, to_cents


def price_cart(
    *,
    lines: Sequence[LineInput],
    shipping: Decimal | None = None,
    coupon_code: str = "",
    user=None,
) -> CartPrice:
    """Price lines with every promotion that applies; the cart, checkout, place_order and
    the order's snapshot all call this, so a shopper sees the same numbers everywhere.

    Until promotions exist the total is the subtotal plus shipping.
    """
    priced = tuple(
        LinePrice(
            key=line.key,
            unit_price=line.unit_price,
            quantity=line.quantity,
            subtotal=to_cents(line.unit_price * line.quantity),
            discount=ZERO,
            total=to_cents(line.unit_price * line.quantity),
        )
        for line in lines
    )
    subtotal = sum((line.subtotal for line in priced), ZERO)
    total = subtotal + (shipping or ZERO)
    return CartPrice(
        lines=priced,
        subtotal=subtotal,
        discount=ZERO,
        shipping=shipping,
        shipping_discount=ZERO,
        total=total,
        coupon_error="",
    )
