"""Orders keep snapshots of what the shopper saw and agreed to, not links to rows that may
change: names, SKUs, prices, discounts and the address are copied when the order is placed.
"""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_countries import countries
from django_countries.fields import CountryField

from shop.countries import country_name

MONEY = {"max_digits": 12, "decimal_places": 2}
ZERO = Decimal("0.00")


def validate_country_codes(value) -> None:
    if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
        raise ValidationError(_('Enter a list of country codes, e.g. ["GB", "IE"].'))
    unknown = [code for code in value if code.upper() not in dict(countries)]
    if unknown:
        raise ValidationError(
            _("Unknown country codes: %(codes)s.") % {"codes": ", ".join(unknown)}
        )


class ShippingMethodQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)


class ShippingMethod(models.Model):
    """A way of delivering an order, set up by the merchant in the admin."""

    name = models.CharField(_("name"), max_length=80)
    price = models.DecimalField(_("price"), **MONEY, default=ZERO)
    #: Free when the order's merchandise subtotal (before discounts) reaches this; empty:
    #: never free. promotions.services.price_cart() applies it.
    free_above = models.DecimalField(_("free from subtotal"), **MONEY, null=True, blank=True)
    #: ISO 3166-1 alpha-2 codes of the countries served; an empty list serves everywhere.
    countries = models.JSONField(
        _("countries served"),
        default=list,
        blank=True,
        validators=[validate_country_codes],
        help_text=_('Country codes such as ["GB", "IE"]; leave [] to ship everywhere.'),
    )
    delivery_estimate = models.CharField(
        _("delivery estimate"), max_length=80, blank=True, help_text=_("e.g. 2–4 working days")
    )
    #: Working days (Monday to Friday) to the door, fastest and slowest: product pages show
    #: the cheapest method's as "Delivery in 3-5 working days, Dec 4-Dec 8", the confirmation
    #: and the mails the order's own (orders.delivery). Empty: no dates are promised.
    delivery_days_min = models.PositiveSmallIntegerField(
        _("delivery from (working days)"),
        null=True,
        blank=True,
        help_text=_("Fewest working days to deliver; product pages show the dates."),
    )
    delivery_days_max = models.PositiveSmallIntegerField(
        _("delivery up to (working days)"), null=True, blank=True
    )
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    #: Shipping is taxed where its class has a rate (taxes app); empty: the standard class.
    tax_class = models.ForeignKey(
        "taxes.TaxClass",
        verbose_name=_("tax class"),
        related_name="+",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        help_text=_("Empty: the standard rate."),
    )

    objects = ShippingMethodQuerySet.as_manager()

    class Meta:
        verbose_name = _("shipping method")
        verbose_name_plural = _("shipping methods")
        ordering = ["position", "price", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="shipping_price_not_negative"),
            models.CheckConstraint(
                condition=Q(delivery_days_min__isnull=True)
                | Q(delivery_days_max__isnull=True)
                | Q(delivery_days_min__lte=F("delivery_days_max")),
                name="shipping_delivery_days_in_order",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        self.countries = sorted({code.upper() for code in self.countries or []})
        low, high = self.delivery_days_min, self.delivery_days_max
        if low is not None and high is not None and low > high:
            raise ValidationError(
                {"delivery_days_max": _("At least the fewest days (%(days)s).") % {"days": low}}
            )

    def serves(self, country: str) -> bool:
        return not self.countries or str(country).upper() in self.countries


class OrderStatus(models.TextChoices):
    """Where the order stands as a whole: open until there is nothing left to do."""

    OPEN = "open", _("Open")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


class PaymentStatus(models.TextChoices):
    """What the order holds of the shopper's money, derived from what was paid and given back
    (payment_status.derive_payment_status); never set by hand."""

    UNPAID = "unpaid", _("Unpaid")
    PARTIALLY_PAID = "partially_paid", _("Partially paid")
    PAID = "paid", _("Paid")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")


class FulfilmentStatus(models.TextChoices):
    """Where the goods are, derived from the shipment, cancellation and return lines
    (fulfilment.derive_fulfilment_status); never set by hand."""

    UNFULFILLED = "unfulfilled", _("Unfulfilled")
    PARTIALLY_SHIPPED = "partially_shipped", _("Partially shipped")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    RETURNED = "returned", _("Returned")


#: How soon a bank transfer's deadline must be for the admin's "to do" filter (and the
#: merchant's dashboard) to list it: two days leave time to remind the shopper or call them
#: before the order expires.
TRANSFER_DUE_SOON = timedelta(days=2)


#: An order that counts as a sale: paid or partially refunded, and not cancelled (the
#: merchant's dashboard and sales report, insights.selectors). Unpaid, partially paid,
#: cancelled and fully refunded orders never count.
SOLD = Q(payment_status__in=["paid", "partially_refunded"], paid_at__isnull=False) & ~Q(
    status="cancelled"
)


class OrderQuerySet(models.QuerySet):
    def sold(self):
        return self.filter(SOLD)

    def awaiting_payment(self):
        return self.filter(
            status=OrderStatus.OPEN,
            payment_status__in=[PaymentStatus.UNPAID, PaymentStatus.PARTIALLY_PAID],
        )

    def awaiting_shipment(self):
        return self.filter(
            status=OrderStatus.OPEN,
            on_hold=False,
            payment_status__in=[PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED],
            fulfilment_status__in=[
                FulfilmentStatus.UNFULFILLED,
                FulfilmentStatus.PARTIALLY_SHIPPED,
            ],
        )

    def tracking_problems(self):
        """Open orders with a parcel the carrier reports in trouble (问题件, refused,
        returned): the merchant's to-do until the carrier reports progress."""
        return self.filter(
            status=OrderStatus.OPEN,
            shipments__tracking_stage__in=["exception", "returned"],
        ).distinct()

    def bank_transfers_due(self, *, before):
        """Unpaid orders paid by hand (bank transfer) whose deadline falls before `before`,
        including those past it that the expiry task has not cancelled yet."""
        return self.awaiting_payment().filter(
            payment_method__in=settings.ORDER_REMINDED_PAYMENT_METHODS,
            payment_deadline__lt=before,
        )


class Order(models.Model):
    Status = OrderStatus
    PaymentStatus = PaymentStatus
    FulfilmentStatus = FulfilmentStatus

    #: Random and human-readable ("7K3M-9QXP-2D"): reveals nothing about sales volume.
    number = models.CharField(_("number"), max_length=16, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shopper"),
        related_name="orders",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    email = models.EmailField(_("email"))
    status = models.CharField(
        _("status"), max_length=24, choices=OrderStatus.choices, default=OrderStatus.OPEN
    )
    payment_status = models.CharField(
        _("payment"), max_length=24, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID
    )
    fulfilment_status = models.CharField(
        _("fulfilment"),
        max_length=24,
        choices=FulfilmentStatus.choices,
        default=FulfilmentStatus.UNFULFILLED,
    )
    #: A code from settings.SHOP_PAYMENT_METHODS; the payments app knows what it means.
    payment_method = models.CharField(_("payment method"), max_length=32)
    #: The random key the review page embedded: a second submit finds this order.
    idempotency_key = models.CharField(max_length=64, unique=True, editable=False)
    #: The language the shopper used, for the mails sent later.
    language = models.CharField(max_length=10, default="en", editable=False)

    # The shipping address, copied from the form or the address book.
    ship_name = models.CharField(_("full name"), max_length=150)
    ship_phone = models.CharField(_("phone number"), max_length=16, blank=True)
    ship_line1 = models.CharField(_("address line 1"), max_length=200)
    ship_line2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    ship_city = models.CharField(_("city or town"), max_length=100)
    ship_region = models.CharField(_("state, province or region"), max_length=100, blank=True)
    ship_postcode = models.CharField(_("postcode"), max_length=12, blank=True)
    ship_country = CountryField(_("country"))

    shipping_method = models.ForeignKey(
        ShippingMethod,
        verbose_name=_("shipping method"),
        related_name="orders",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    shipping_method_name = models.CharField(_("shipping method"), max_length=80)
    coupon_code = models.CharField(_("coupon code"), max_length=40, blank=True)

    currency = models.CharField(_("currency"), max_length=3)
    #: Lines before discounts.
    subtotal = models.DecimalField(_("subtotal"), **MONEY)
    #: Discounts on lines and on the order (not shipping).
    discount = models.DecimalField(_("discount"), **MONEY, default=ZERO)
    shipping = models.DecimalField(_("shipping"), **MONEY, default=ZERO)
    shipping_discount = models.DecimalField(_("shipping discount"), **MONEY, default=ZERO)
    #: What the shopper pays: net + tax (gross).
    total = models.DecimalField(_("total"), **MONEY)
    total_paid = models.DecimalField(_("paid"), **MONEY, default=ZERO)

    # Tax, as priced at checkout (promotions.services.price_cart with taxes): never worked
    # out again from today's rates. Subtotal, discount and shipping above are as the
    # catalog stated prices: gross when `prices_include_tax`, else net.
    prices_include_tax = models.BooleanField(_("prices include tax"), default=False)
    #: All the tax in `total` (lines and shipping); rows by rate in OrderTaxLine.
    tax = models.DecimalField(_("tax"), **MONEY, default=ZERO)
    #: Prices include tax but none was charged (reverse charge, export): the seller's tax
    #: taken out of them.
    tax_removed = models.DecimalField(_("tax not charged"), **MONEY, default=ZERO)
    #: Why no tax was charged: "reverse_charge", "export" or empty.
    tax_not_charged = models.CharField(_("tax not charged because"), max_length=16, blank=True)
    #: The place whose rates applied.
    tax_country = models.CharField(_("tax country"), max_length=2, blank=True)
    tax_region = models.CharField(_("tax region"), max_length=100, blank=True)
    shipping_tax = models.DecimalField(_("tax on shipping"), **MONEY, default=ZERO)
    shipping_tax_rate = models.DecimalField(
        _("shipping tax rate (%)"), max_digits=6, decimal_places=3, default=ZERO
    )
    shipping_tax_class = models.CharField(_("shipping tax class"), max_length=80, blank=True)
    # The buyer as a business, for the invoice.
    buyer_company = models.CharField(_("company"), max_length=200, blank=True)
    #: The buyer's EU VAT number, validated (python-stdnum) when the order was placed.
    buyer_vat_number = models.CharField(_("VAT number"), max_length=20, blank=True)
    #: An EU business in another member state: no VAT charged, the buyer accounts for it.
    reverse_charge = models.BooleanField(_("reverse charge"), default=False)
    total_refunded = models.DecimalField(_("refunded"), **MONEY, default=ZERO)
    #: Of total_refunded, what went back for shipping.
    shipping_refunded = models.DecimalField(_("shipping refunded"), **MONEY, default=ZERO)

    created_at = models.DateTimeField(_("placed"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    #: An unpaid order is cancelled after this (how long depends on how it is paid; an open
    #: payment at a provider extends it to the provider's own expiry).
    payment_deadline = models.DateTimeField(_("pay by"), null=True, blank=True)
    #: Paid or not, the order may not ship: a group buy line waits for its group to fill
    #: (set when placed, cleared by release_hold() with an event).
    on_hold = models.BooleanField(_("on hold"), default=False)
    payment_reminder_sent_at = models.DateTimeField(
        _("payment reminder sent"), null=True, blank=True, editable=False
    )
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    #: Its account was deleted while it was open: blank its personal data once it closes.
    anonymise_when_closed = models.BooleanField(default=False, editable=False)

    objects = OrderQuerySet.as_manager()

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="order_user_recent"),
            models.Index(
                fields=["payment_deadline"],
                name="order_unpaid_deadline",
                condition=Q(status="open", payment_status="unpaid"),
            ),
            models.Index(
                fields=["status", "payment_status", "fulfilment_status"], name="order_statuses"
            ),
            models.Index(fields=["-created_at"], name="order_recent"),
            # Sales by the day they were paid, and each customer's first sale (the dashboard).
            models.Index(fields=["paid_at"], name="order_sold_paid_at", condition=SOLD),
            models.Index(Upper("email"), "paid_at", name="order_sold_customer", condition=SOLD),
            # A shopper's guest orders, found when their email is verified (guest_orders).
            models.Index(Upper("email"), name="order_guest_email", condition=Q(user=None)),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative"),
            models.CheckConstraint(
                condition=Q(total_refunded__lte=models.F("total_paid")),
                name="order_refund_within_paid",
            ),
        ]

    def __str__(self):
        return self.number

    def get_absolute_url(self):
        return reverse("orders:detail", kwargs={"number": self.number})

    @property
    def address_lines(self) -> list[str]:
        """The address as printed on a label (same layout as accounts.Address.lines())."""
        if self.ship_country.code in {"US", "CA", "AU"}:
            tail = " ".join(part for part in (self.ship_region, self.ship_postcode) if part)
            city_line = ", ".join(part for part in (self.ship_city, tail) if part)
            region = ""
        else:
            city_line = " ".join(part for part in (self.ship_postcode, self.ship_city) if part)
            region = self.ship_region
        parts = [self.ship_name, self.ship_line1, self.ship_line2, city_line, region]
        return [part for part in parts if part] + [country_name(self.ship_country)]

    @property
    def shipping_total(self) -> Decimal:
        return self.shipping - self.shipping_discount

    @property
    def held(self) -> Decimal:
        """The shopper's money the order holds: paid minus given back."""
        return self.total_paid - self.total_refunded

    @property
    def amount_due(self) -> Decimal:
        return max(self.total - self.total_paid, ZERO)

    @property
    def shipping_refundable(self) -> Decimal:
        return self.shipping_total - self.shipping_refunded

    @property
    def is_open(self) -> bool:
        return self.status == OrderStatus.OPEN

    @property
    def net(self) -> Decimal:
        return self.total - self.tax

    @property
    def shipping_gross(self) -> Decimal:
        """What the shopper paid for shipping, tax included: the total less its lines."""
        lines = getattr(self, "line_list", None)
        lines = lines if lines is not None else list(self.lines.all())
        return self.total - sum((line.total for line in lines), ZERO)

    @property
    def shipping_net(self) -> Decimal:
        return self.shipping_gross - self.shipping_tax

    # What the tax partials (templates/taxes/) read from a CartPrice, for an order too.
    tax_estimated = False

    @property
    def tax_rows(self) -> list["OrderTaxLine"]:
        rows = getattr(self, "tax_line_list", None)
        return rows if rows is not None else list(self.tax_lines.all())

    @property
    def charged_tax_rows(self) -> list["OrderTaxLine"]:
        return [row for row in self.tax_rows if row.tax]


class OrderLine(models.Model):
    """One line as the shopper bought it; the variant link only serves restocking."""

    order = models.ForeignKey(Order, related_name="lines", on_delete=models.CASCADE)
    variant = models.ForeignKey(
        "catalog.Variant", related_name="+", on_delete=models.SET_NULL, null=True, blank=True
    )
    product = models.ForeignKey(
        "catalog.Product", related_name="+", on_delete=models.SET_NULL, null=True, blank=True
    )
    product_name = models.CharField(_("product"), max_length=200)
    sku = models.CharField(_("SKU"), max_length=64)
    options_label = models.CharField(_("options"), max_length=200, blank=True)
    unit_price = models.DecimalField(_("unit price"), **MONEY)
    quantity = models.PositiveIntegerField(_("quantity"))
    discount = models.DecimalField(_("discount"), **MONEY, default=ZERO)
    #: What the shopper pays for this line: net + tax (gross).
    total = models.DecimalField(_("total"), **MONEY)
    net = models.DecimalField(_("net"), **MONEY, default=ZERO)
    tax = models.DecimalField(_("tax"), **MONEY, default=ZERO)
    #: The rate applied, in percent, and the tax class's name, as they were when placed.
    tax_rate = models.DecimalField(_("tax rate (%)"), max_digits=6, decimal_places=3, default=ZERO)
    tax_class = models.CharField(_("tax class"), max_length=80, blank=True)
    #: The group buy (groupbuys.Group pk) the line was bought in, copied from the cart line.
    group_id = models.PositiveBigIntegerField(_("group buy"), null=True, blank=True, db_index=True)
    # Counters kept by the fulfilment and refund services under the order's row lock; each
    # equals the sum of its rows (shipment, refund and return lines), which tests check.
    quantity_shipped = models.PositiveIntegerField(_("shipped"), default=0)
    #: Units taken off the order before they shipped (cancelled or refunded unshipped).
    quantity_cancelled = models.PositiveIntegerField(_("cancelled"), default=0)
    quantity_refunded = models.PositiveIntegerField(_("refunded"), default=0)
    #: Of the refunded units, those refunded with the return that brought them back.
    quantity_refunded_returned = models.PositiveIntegerField(_("refunded with a return"), default=0)
    quantity_returned = models.PositiveIntegerField(_("returned"), default=0)
    #: Units put back on the shelf (cancelled, or returned and judged fit to sell).
    quantity_restocked = models.PositiveIntegerField(_("restocked"), default=0)
    amount_refunded = models.DecimalField(_("amount refunded"), **MONEY, default=ZERO)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="order_line_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(quantity_shipped__lte=F("quantity") - F("quantity_cancelled")),
                name="order_line_ships_what_is_left",
            ),
            models.CheckConstraint(
                condition=Q(quantity_refunded__lte=F("quantity"))
                & Q(quantity_restocked__lte=F("quantity"))
                & Q(quantity_returned__lte=F("quantity_shipped"))
                & Q(amount_refunded__lte=F("total")),
                name="order_line_counters_within_quantity",
            ),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.product_name}"

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def quantity_to_ship(self) -> int:
        return self.quantity - self.quantity_cancelled - self.quantity_shipped

    @property
    def quantity_refundable(self) -> int:
        return self.quantity - self.quantity_refunded

    @property
    def quantity_returnable(self) -> int:
        """Units the shopper has and may send back: shipped, not returned, not refunded for
        them to keep (units refunded with their return are counted once, as returned)."""
        kept = self.quantity_refunded - self.quantity_cancelled - self.quantity_refunded_returned
        return max(self.quantity_shipped - self.quantity_returned - max(kept, 0), 0)

    @property
    def amount(self) -> Decimal:
        """The line after discounts as the catalog states prices (gross when prices include
        tax, else net): what the order's pages list, before the tax rows."""
        return self.subtotal - self.discount


class OrderTaxLine(models.Model):
    """One rate of an order's tax, as the shopper saw it on the total and the invoice."""

    order = models.ForeignKey(Order, related_name="tax_lines", on_delete=models.CASCADE)
    #: The tax's name ("VAT", "Sales tax"); empty: the shop's generic name.
    name = models.CharField(_("name"), max_length=40, blank=True)
    rate = models.DecimalField(_("rate (%)"), max_digits=6, decimal_places=3)
    exempt = models.BooleanField(_("exempt"), default=False)
    net = models.DecimalField(_("net"), **MONEY)
    tax = models.DecimalField(_("tax"), **MONEY)

    class Meta:
        verbose_name = _("tax by rate")
        verbose_name_plural = _("taxes by rate")
        ordering = ["-rate", "pk"]

    def __str__(self):
        return f"{self.name} {self.rate.normalize():f} %: {self.tax}"

    @property
    def percent(self) -> Decimal:
        return self.rate

    @property
    def gross(self) -> Decimal:
        return self.net + self.tax


class OrderDiscount(models.Model):
    """A discount the order got, as the shopper saw it named."""

    order = models.ForeignKey(Order, related_name="discounts", on_delete=models.CASCADE)
    name = models.CharField(_("name"), max_length=200)
    code = models.CharField(_("coupon code"), max_length=40, blank=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    #: "line", "order" or "shipping" (promotions.pricing.AppliedPromotion.kind).
    kind = models.CharField(_("kind"), max_length=16)
    source = models.CharField(max_length=40, blank=True)

    class Meta:
        verbose_name = _("discount")
        verbose_name_plural = _("discounts")
        ordering = ["pk"]

    def __str__(self):
        return f"{self.name}: -{self.amount}"


class ReturnStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    RECEIVED = "received", _("Received")
    REFUNDED = "refunded", _("Refunded")


class EventKind(models.TextChoices):
    """Which of the order's statuses an event moved (or a note on the order)."""

    ORDER = "order", _("Order")
    PAYMENT = "payment", _("Payment")
    FULFILMENT = "fulfilment", _("Fulfilment")
    RETURN = "return", _("Return")
    NOTE = "note", _("Note")


#: Every status value an event may name, for its label.
STATUS_LABELS = {
    **dict(OrderStatus.choices),
    **dict(PaymentStatus.choices),
    **dict(FulfilmentStatus.choices),
    **{f"return_{value}": label for value, label in ReturnStatus.choices},
    "placed": _("Placed"),
    "on_hold": _("On hold"),
}


class OrderEvent(models.Model):
    """One change of one of an order's statuses (or a note): who, when, from, to, why."""

    order = models.ForeignKey(Order, related_name="events", on_delete=models.CASCADE)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        related_name="+",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    kind = models.CharField(
        _("kind"), max_length=16, choices=EventKind.choices, default=EventKind.NOTE
    )
    #: Values of the status `kind` names ("" when there was none before, as on placing).
    from_status = models.CharField(_("from"), max_length=24, blank=True)
    to_status = models.CharField(_("to"), max_length=24, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"{self.order_id}: {self.kind} {self.from_status or '-'} → {self.to_status}"

    @property
    def label(self) -> str:
        """The new status in words, e.g. "Payment: Paid"."""
        if self.kind == EventKind.NOTE:
            return str(_("Note"))
        value = f"return_{self.to_status}" if self.kind == EventKind.RETURN else self.to_status
        return f"{self.get_kind_display()}: {STATUS_LABELS.get(value, value)}"


#: Carrier code -> (name, tracking URL template with {number}).
CARRIERS = {
    "dhl": ("DHL", "https://www.dhl.com/en/express/tracking.html?AWB={number}"),
    "ups": ("UPS", "https://www.ups.com/track?tracknum={number}"),
    "fedex": ("FedEx", "https://www.fedex.com/fedextrack/?trknbr={number}"),
    "usps": ("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}"),
    "royalmail": (
        "Royal Mail",
        "https://www.royalmail.com/track-your-item#/tracking-results/{number}",
    ),
    "sf": ("SF Express", "https://www.sf-express.com/we/ow/chn/en/waybill/waybill-detail/{number}"),
    "other": (_("Other carrier"), ""),
    "ems": (_("China Post EMS"), ""),
    "zto": (_("ZTO Express"), ""),
    "yto": (_("YTO Express"), ""),
    "yunda": (_("Yunda Express"), ""),
    "jd": (_("JD Logistics"), ""),
    #: The built-in demo carrier (orders/tracking/demo.py): a parcel arrives in minutes.
    "demo": (_("Demo carrier"), ""),
}


class TrackingStage(models.TextChoices):
    """Where a parcel is, in the shop's words, whatever the carrier calls it."""

    ACCEPTED = "accepted", _("Accepted by the carrier")
    IN_TRANSIT = "in_transit", _("In transit")
    OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
    DELIVERED = "delivered", pgettext_lazy("tracking stage", "Delivered")
    EXCEPTION = "exception", _("Problem with the delivery")
    RETURNED = "returned", _("Returned to the sender")


class Shipment(models.Model):
    order = models.ForeignKey(Order, related_name="shipments", on_delete=models.CASCADE)
    carrier = models.CharField(
        _("carrier"),
        max_length=20,
        choices=[(code, name) for code, (name, _url) in CARRIERS.items()],
    )
    tracking_number = models.CharField(_("tracking number"), max_length=64, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"))
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    #: The stage of the latest tracking event (empty: no event yet).
    tracking_stage = models.CharField(
        _("tracking stage"), max_length=20, choices=TrackingStage.choices, blank=True
    )
    #: The carrier pushes its events (Kuaidi100 subscription): no polling needed.
    tracking_pushed = models.BooleanField(_("tracking pushed"), default=False)
    tracking_checked_at = models.DateTimeField(_("tracking checked at"), null=True, blank=True)
    #: Delivered as the carrier reported it, not yet confirmed: the order completes by itself
    #: at this time (自动确认收货) unless the shopper confirms receipt first.
    confirm_by = models.DateTimeField(_("receipt confirmed by"), null=True, blank=True)

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ["shipped_at", "pk"]

    def __str__(self):
        return f"{self.get_carrier_display()} {self.tracking_number}"

    @property
    def tracking_url(self) -> str:
        from urllib.parse import quote

        template = CARRIERS.get(self.carrier, ("", ""))[1]
        if not template or not self.tracking_number:
            return ""
        return template.format(number=quote(self.tracking_number, safe=""))


class TrackingEvent(models.Model):
    """One scan of a parcel as the carrier reported it; the same scan reported twice (a
    push repeated, a poll after a push) is one row."""

    shipment = models.ForeignKey(Shipment, related_name="tracking_events", on_delete=models.CASCADE)
    occurred_at = models.DateTimeField(_("when"))
    location = models.CharField(_("where"), max_length=200, blank=True)
    description = models.CharField(_("what"), max_length=500)
    stage = models.CharField(_("stage"), max_length=20, choices=TrackingStage.choices)
    #: sha256 of time, place and text: what makes two reports the same scan.
    fingerprint = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("tracking event")
        verbose_name_plural = _("tracking events")
        ordering = ["-occurred_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "fingerprint"], name="tracking_event_once")
        ]

    def __str__(self):
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.description}"


class ShipmentLine(models.Model):
    """How many units of one order line went in one parcel."""

    shipment = models.ForeignKey(Shipment, related_name="lines", on_delete=models.CASCADE)
    line = models.ForeignKey(OrderLine, related_name="shipment_lines", on_delete=models.CASCADE)
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        verbose_name = _("shipment line")
        verbose_name_plural = _("shipment lines")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="shipment_line_positive")
        ]

    def __str__(self):
        return f"{self.quantity} × {self.line_id}"


class ReturnRequestQuerySet(models.QuerySet):
    def to_handle(self):
        """Returns waiting on the merchant: to decide (requested) or to refund (received)."""
        return self.filter(status__in=[ReturnStatus.REQUESTED, ReturnStatus.RECEIVED])


class ReturnRequest(models.Model):
    """The shopper asks to send units back; the merchant approves or rejects, receives the
    parcel (choosing per line what goes back on the shelf), then refunds it."""

    Status = ReturnStatus

    class Reason(models.TextChoices):
        DOES_NOT_FIT = "does_not_fit", _("It does not fit")
        DAMAGED = "damaged", _("It arrived damaged or faulty")
        NOT_AS_DESCRIBED = "not_as_described", _("It is not as described")
        WRONG_ITEM = "wrong_item", _("I received the wrong item")
        CHANGED_MIND = "changed_mind", _("I changed my mind")
        OTHER = "other", _("Another reason")

    order = models.ForeignKey(Order, related_name="returns", on_delete=models.CASCADE)
    status = models.CharField(
        _("status"), max_length=16, choices=ReturnStatus.choices, default=ReturnStatus.REQUESTED
    )
    reason = models.CharField(_("reason"), max_length=24, choices=Reason.choices)
    note = models.CharField(_("shopper's note"), max_length=500, blank=True)
    #: Why the merchant rejected it, shown to the shopper.
    answer = models.CharField(_("merchant's answer"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ReturnRequestQuerySet.as_manager()

    class Meta:
        verbose_name = _("return")
        verbose_name_plural = _("returns")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "created_at"], name="return_status_created")]

    def __str__(self):
        return _("Return %(id)s of order %(number)s") % {
            "id": self.pk,
            "number": self.order.number,
        }

    @property
    def is_open(self) -> bool:
        return self.status in (ReturnStatus.REQUESTED, ReturnStatus.APPROVED, ReturnStatus.RECEIVED)


class ReturnLine(models.Model):
    return_request = models.ForeignKey(
        ReturnRequest, related_name="lines", on_delete=models.CASCADE
    )
    line = models.ForeignKey(OrderLine, related_name="return_lines", on_delete=models.CASCADE)
    quantity = models.PositiveIntegerField(_("quantity"))
    #: Chosen when the parcel is received: fit to sell again, or not. Empty before.
    restock = models.BooleanField(_("restock"), null=True, blank=True)

    class Meta:
        verbose_name = _("return line")
        verbose_name_plural = _("return lines")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="return_line_positive")
        ]

    def __str__(self):
        return f"{self.quantity} × {self.line_id}"


class OrderRefund(models.Model):
    """What the merchant chose to give back, by line (amounts from the order's snapshot) and
    shipping. The money itself moves as the payments app's refunds; `amount` is what they
    must add up to."""

    order = models.ForeignKey(Order, related_name="refunds", on_delete=models.CASCADE)
    return_request = models.ForeignKey(
        ReturnRequest, related_name="refunds", on_delete=models.SET_NULL, null=True, blank=True
    )
    amount = models.DecimalField(_("amount"), **MONEY)
    shipping = models.DecimalField(_("shipping"), **MONEY, default=ZERO)
    #: The tax in `amount`: its lines' tax and `shipping_tax` (taxes.calculation.split_refund).
    tax = models.DecimalField(_("tax"), **MONEY, default=ZERO)
    #: The tax in `shipping`, its share of the order's shipping tax.
    shipping_tax = models.DecimalField(_("tax on shipping"), **MONEY, default=ZERO)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        related_name="+",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("order refund")
        verbose_name_plural = _("order refunds")
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="order_refund_positive")
        ]

    def __str__(self):
        return f"{self.order.number}: {self.amount}"


class OrderRefundLine(models.Model):
    refund = models.ForeignKey(OrderRefund, related_name="lines", on_delete=models.CASCADE)
    line = models.ForeignKey(OrderLine, related_name="refund_lines", on_delete=models.CASCADE)
    quantity = models.PositiveIntegerField(_("quantity"))
    #: Gross: net + tax, the line's total's share for these units (cumulative rounding).
    amount = models.DecimalField(_("amount"), **MONEY)
    net = models.DecimalField(_("net"), **MONEY, default=ZERO)
    tax = models.DecimalField(_("tax"), **MONEY, default=ZERO)
    #: Units put back on the shelf by this refund.
    restocked = models.PositiveIntegerField(_("restocked"), default=0)

    class Meta:
        verbose_name = _("refund line")
        verbose_name_plural = _("refund lines")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_refund_line_positive")
        ]

    def __str__(self):
        return f"{self.quantity} × {self.line_id}"


class OrderMail(models.Model):
    """One mail about an order, queued in the transaction that decided it (the outbox) and
    marked sent in the worker's transaction that sends it. Tasks are acknowledged late, so a
    worker killed while mailing hands its task to the next one: the mark makes that second
    delivery send nothing, and a rollback (a send that failed) leaves the mail to the retry."""

    order = models.ForeignKey(Order, related_name="mails", on_delete=models.CASCADE)
    #: One of orders.mails.MAILS ("placed", "paid", "shipped", ...), or for a parcel's
    #: tracking mail one of orders.tracking.mails.MAILS ("out_for_delivery", "delivered").
    name = models.CharField(_("mail"), max_length=20)
    #: The parcel a "shipped" or tracking mail is about; empty for the order's other mails.
    shipment = models.ForeignKey(
        "Shipment", related_name="mails", on_delete=models.CASCADE, null=True, blank=True
    )
    queued_at = models.DateTimeField(_("queued at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("order mail")
        verbose_name_plural = _("order mails")
        ordering = ["queued_at", "pk"]

    def __str__(self):
        return f"{self.order_id}: {self.name}"


# --- Invoices and fapiao (issue 15; orders.services.invoicing) ---------------------------


class DocumentCounter(models.Model):
    """The last number given in a series ("invoice", "credit_note"). Locked while a number
    is taken, in the transaction that uses it, so numbers are sequential and gap-free."""

    series = models.CharField(max_length=20, unique=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("document counter")
        verbose_name_plural = _("document counters")

    def __str__(self):
        return f"{self.series}: {self.last}"


class Invoice(models.Model):
    """The invoice of a paid order: its own gap-free number (not the order's), and the
    seller and buyer as they were when it was issued."""

    order = models.OneToOneField(
        Order, verbose_name=_("order"), related_name="invoice", on_delete=models.PROTECT
    )
    #: The position in the series: 1, 2, 3, ... without gaps.
    sequence = models.PositiveIntegerField(_("sequence"), unique=True)
    number = models.CharField(_("invoice number"), max_length=32, unique=True)
    issued_at = models.DateTimeField(_("issued"))
    #: {"name", "address": [...], "tax_id", "country", "email"} (taxes.conf.Seller).
    seller = models.JSONField(_("seller"), default=dict)
    #: {"name", "company", "address": [...], "email", "vat_number", "country"}.
    buyer = models.JSONField(_("buyer"), default=dict)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-sequence"]

    def __str__(self):
        return self.number


class CreditNote(models.Model):
    """The credit note of one refund of an invoiced order: its own gap-free number (series
    "credit_note"), the invoice it corrects, and the seller and buyer as they were when it
    was issued. What it credits are the refund's rows (OrderRefundLine), which never change."""

    order = models.ForeignKey(
        Order, verbose_name=_("order"), related_name="credit_notes", on_delete=models.PROTECT
    )
    refund = models.OneToOneField(
        OrderRefund,
        verbose_name=_("refund"),
        related_name="credit_note",
        on_delete=models.PROTECT,
    )
    #: The position in the series: 1, 2, 3, ... without gaps.
    sequence = models.PositiveIntegerField(_("sequence"), unique=True)
    number = models.CharField(_("credit note number"), max_length=32, unique=True)
    #: The number of the invoice this credit note corrects, as printed on it.
    invoice_number = models.CharField(_("invoice number"), max_length=32)
    issued_at = models.DateTimeField(_("issued"))
    seller = models.JSONField(_("seller"), default=dict)
    buyer = models.JSONField(_("buyer"), default=dict)

    class Meta:
        verbose_name = _("credit note")
        verbose_name_plural = _("credit notes")
        ordering = ["sequence"]

    def __str__(self):
        return self.number


class FapiaoRequest(models.Model):
    """A Chinese buyer's request for a fapiao (发票); the merchant issues it in the tax
    office's system and records its number here."""

    class Kind(models.TextChoices):
        PERSONAL = "personal", _("Personal (个人)")
        COMPANY = "company", _("Company (单位)")

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        ISSUED = "issued", _("Issued")

    order = models.OneToOneField(
        Order, verbose_name=_("order"), related_name="fapiao", on_delete=models.CASCADE
    )
    kind = models.CharField(_("fapiao type"), max_length=10, choices=Kind.choices)
    #: The title (抬头): the company's registered name, or the person's name.
    title = models.CharField(_("title (抬头)"), max_length=200)
    #: The company's taxpayer number (税号, 18 characters); empty for a person.
    taxpayer_number = models.CharField(_("taxpayer number (税号)"), max_length=18, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.REQUESTED
    )
    number = models.CharField(_("fapiao number"), max_length=40, blank=True)
    requested_at = models.DateTimeField(_("requested"), auto_now_add=True)
    issued_at = models.DateTimeField(_("issued"), null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("issued by"),
        related_name="+",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )

    class Meta:
        verbose_name = _("fapiao request")
        verbose_name_plural = _("fapiao requests")
        ordering = ["-requested_at", "-pk"]
        indexes = [models.Index(fields=["status", "requested_at"], name="fapiao_status")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="issued") | ~Q(number=""), name="fapiao_issued_has_number"
            ),
            models.CheckConstraint(
                condition=~Q(kind="company") | ~Q(taxpayer_number=""),
                name="fapiao_company_has_taxpayer_number",
            ),
        ]

    def __str__(self):
        return f"{self.order_id}: {self.get_kind_display()} {self.title}"
