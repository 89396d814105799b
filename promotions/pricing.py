"""What a price computation takes and gives: plain values, so that the cart, checkout, the
order's snapshot and the invoice all hand the same things to the one pricing function.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from shop.money import format_money  # noqa: F401  (re-exported: the shop's currency by default)
from taxes.calculation import TaxRow

ZERO = Decimal("0.00")


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
    #: The product's tax class (taxes.TaxClass pk); None: the standard class.
    tax_class_id: int | None = None
    #: The group buy the line joins (cart line's group_id): priced at the group's price by
    #: the source the group buys app hands in (services.set_group_price_source).
    group_id: int | None = None
    #: Priced by a flash sale or a group buy: that price is final, no sale, offer, tier or
    #: coupon takes anything more off the line (the line still counts for nothing towards
    #: them either).
    final_price: bool = False


@dataclass(frozen=True)
class LinePrice:
    key: int
    unit_price: Decimal
    quantity: int
    #: unit_price x quantity, before any discount.
    subtotal: Decimal
    discount: Decimal
    #: What is left after discounts, as the catalog states prices: gross where prices
    #: include tax, net where tax is added on top.
    total: Decimal
    # Set by price_cart() (taxes.calculation): net + tax = gross, gross being what the
    # shopper pays for the line.
    net: Decimal = ZERO
    tax: Decimal = ZERO
    gross: Decimal = ZERO
    #: The rate applied, in percent, the tax's name ("VAT") and the class's name.
    tax_rate: Decimal = ZERO
    tax_name: str = ""
    tax_class: str = ""


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
    # --- Tax (price_cart() with taxes.calculation). `total` above is what the shopper pays:
    # net + tax. Lines, subtotal, discounts and shipping above are as the catalog states
    # prices (gross where prices include tax, else net).
    prices_include_tax: bool = False
    net: Decimal = ZERO
    tax: Decimal = ZERO
    #: One row per rate, lines and shipping together; the rows' taxes add up to `tax`.
    tax_rows: tuple[TaxRow, ...] = ()
    #: Prices include tax but none is charged (reverse charge, export): the seller's tax
    #: taken out of them, shown as its own row.
    tax_removed: Decimal = ZERO
    #: Why no tax is charged: "reverse_charge", "export" or empty.
    tax_not_charged: str = ""
    #: Where the rates come from, and whether that was a guess (no address yet).
    tax_country: str = ""
    tax_region: str = ""
    tax_estimated: bool = False
    #: Shipping after its discount, split (None while no shipping method is chosen), its
    #: rate and class name.
    shipping_net: Decimal | None = None
    shipping_tax: Decimal = ZERO
    shipping_gross: Decimal | None = None
    shipping_tax_rate: Decimal = ZERO
    shipping_tax_class: str = ""
    #: The merchandise subtotal (before discounts) from which shipping is free, as the
    #: shipping method (or, before one is chosen, the cheapest threshold) says; None: never.
    free_shipping_from: Decimal | None = None
    #: Points the shopper pays with (promotions.points) and the money they are worth, taken
    #: off the lines like an order discount (included in `discount`, shown in `applied`).
    points_used: int = 0
    points_value: Decimal = ZERO

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def free_shipping_remaining(self) -> Decimal | None:
        """How much more merchandise makes shipping free (zero once it is); None: no
        threshold."""
        if self.free_shipping_from is None:
            return None
        return max(self.free_shipping_from - self.subtotal, ZERO)

    @property
    def free_shipping_percent(self) -> int:
        """How far the subtotal is towards free shipping, 0 to 100, for a progress bar."""
        if not self.free_shipping_from:
            return 100
        return min(100, int(self.subtotal * 100 / self.free_shipping_from))

    @property
    def charged_tax_rows(self) -> tuple[TaxRow, ...]:
        """The rows a total shows: those with tax in them."""
        return tuple(row for row in self.tax_rows if row.tax)
