"""What a price computation takes and gives: plain values, so that the cart, checkout, the
order's snapshot and the invoice all hand the same things to the one pricing function.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.utils.formats import number_format

from shop.money import minor_units, quantize

ZERO = Decimal("0.00")

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CNY": "¥", "JPY": "¥", "AUD": "A$"}


def format_money(amount: Decimal) -> str:
    """An amount in the shop's currency as shoppers read it, with the currency's own number
    of decimals: "$1,234.50", "-$5.00", "¥1,235" in yen, or "1,234.50 CHF" for a currency
    without a symbol here."""
    code = settings.SHOP_CURRENCY
    rounded = quantize(Decimal(amount), code)
    number = number_format(abs(rounded), decimal_pos=minor_units(code), force_grouping=True)
    symbol = CURRENCY_SYMBOLS.get(code)
    text = f"{symbol}{number}" if symbol else f"{number} {code}"
    return f"-{text}" if rounded < 0 else text


@dataclass(frozen=True)
class LineInput:
    """One line to price: a variant, its price read from the database, and a quantity."""

    key: int  #: the caller's id for the line (cart line id), echoed back in LinePrice
    variant_id: int
    product_id: int
    #: The materialised path of the product's category including itself ("/3/17/42/"),
    #: so a promotion for category 17 knows this line belongs to it.
    category_path: str
    unit_price: Decimal
    quantity: int


@dataclass(frozen=True)
class LinePrice:
    key: int
    unit_price: Decimal
    quantity: int
    #: unit_price x quantity, before any discount.
    subtotal: Decimal
    discount: Decimal
    total: Decimal


@dataclass(frozen=True)
class AppliedPromotion:
    """A discount the shopper got, with the name they are shown."""

    name: str
    amount: Decimal
    #: "line", "order" or "shipping".
    kind: str
    #: The coupon code, when the discount came from one.
    code: str = ""
    #: Which promotion gave it: "offer:<pk>", "tier:<pk>" or "coupon:<pk>" (for the order's
    #: record, see services.record_order_promotions()).
    source: str = ""


@dataclass(frozen=True)
class CartPrice:
    lines: tuple[LinePrice, ...]
    #: Sum of the lines before discounts.
    subtotal: Decimal
    #: Every discount on lines and on the order (not shipping).
    discount: Decimal
    #: None while no shipping method is chosen.
    shipping: Decimal | None
    shipping_discount: Decimal
    total: Decimal
    applied: tuple[AppliedPromotion, ...] = field(default_factory=tuple)
    #: Why an entered coupon was not applied, for the page to say (empty when it was).
    coupon_error: str = ""
    #: The code of the coupon that was applied, as the merchant wrote it (empty when none):
    #: what place_order hands to services.redeem_coupon().
    coupon_code: str = ""

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)
