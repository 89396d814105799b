"""Promotions: coupons, automatic offers (spend tiers and sales) and membership tiers.

What a promotion is lives here; what it is worth for a cart is computed in one place,
promotions.services.price_cart().
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User

MONEY = {"max_digits": 12, "decimal_places": 2}
PERCENT = {
    "max_digits": 5,
    "decimal_places": 2,
    "validators": [MinValueValidator(Decimal("0.00")), MaxValueValidator(Decimal("100.00"))],
}
NOT_NEGATIVE = [MinValueValidator(Decimal("0.00"))]

STACKS_HELP = _(
    "Adds on top of other promotions. When off, the shopper gets the best single "
    "non-combining promotion."
)


class WindowQuerySet(models.QuerySet):
    def running(self, now):
        """Active and inside its window: from `valid_from` (included) to `valid_until`
        (excluded), either end open when empty."""
        return self.filter(
            Q(valid_from__isnull=True) | Q(valid_from__lte=now),
            Q(valid_until__isnull=True) | Q(valid_until__gt=now),
            is_active=True,
        )


class Coupon(models.Model):
    class Kind(models.TextChoices):
        PERCENT = "percent", _("Percent off")
        AMOUNT = "amount", _("Fixed amount off")
        FREE_SHIPPING = "free_shipping", _("Free shipping")

    #: Typed by shoppers in any case; unique whatever the case.
    code = models.CharField(_("code"), max_length=40)
    #: What the shopper reads next to the discount; the code when empty.
    name = models.CharField(_("name"), max_length=120, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.PERCENT)
    #: Percent for "percent off", amount for "fixed amount off", unused for free shipping.
    value = models.DecimalField(
        _("value"), **MONEY, default=Decimal("0.00"), validators=NOT_NEGATIVE
    )
    minimum_subtotal = models.DecimalField(
        _("minimum subtotal"), **MONEY, default=Decimal("0.00"), validators=NOT_NEGATIVE
    )
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    #: Empty: unlimited.
    max_uses = models.PositiveIntegerField(_("total uses"), null=True, blank=True)
    max_uses_per_customer = models.PositiveIntegerField(
        _("uses per customer"), null=True, blank=True
    )
    #: Orders placed with the coupon and not cancelled or refunded; written only by
    #: redeem_coupon() and release_coupon() under the coupon's row lock.
    used_count = models.PositiveIntegerField(_("used"), default=0, editable=False)
    categories = models.ManyToManyField(
        "catalog.Category",
        verbose_name=_("only for categories"),
        related_name="+",
        blank=True,
        help_text=_("Empty with no products either: the whole cart."),
    )
    products = models.ManyToManyField(
        "catalog.Product", verbose_name=_("only for products"), related_name="+", blank=True
    )
    is_active = models.BooleanField(_("active"), default=True)
    stacks = models.BooleanField(_("combines"), default=False, help_text=STACKS_HELP)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = WindowQuerySet.as_manager()

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(Lower("code"), name="coupon_code_unique_any_case"),
            models.CheckConstraint(
                condition=Q(max_uses__isnull=True) | Q(used_count__lte=F("max_uses")),
                name="coupon_not_used_beyond_max",
            ),
        ]

    def __str__(self):
        return self.code

    @property
    def display_name(self) -> str:
        return self.name or self.code

    @property
    def remaining_uses(self) -> int | None:
        return None if self.max_uses is None else max(self.max_uses - self.used_count, 0)


class CouponRedemption(models.Model):
    """One order that used a coupon. Released (not deleted) when the order is cancelled
    or refunded, so the merchant still sees it."""

    coupon = models.ForeignKey(
        Coupon, verbose_name=_("coupon"), related_name="redemptions", on_delete=models.PROTECT
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("customer"),
        related_name="+",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    email = models.EmailField(_("email"), blank=True)
    order_number = models.CharField(_("order"), max_length=40)
    redeemed_at = models.DateTimeField(_("redeemed"), auto_now_add=True)
    released_at = models.DateTimeField(_("released"), null=True, blank=True)

    class Meta:
        verbose_name = _("coupon redemption")
        verbose_name_plural = _("coupon redemptions")
        ordering = ["-redeemed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["order_number"],
                condition=Q(released_at__isnull=True),
                name="one_live_coupon_per_order",
            )
        ]
        indexes = [
            models.Index(fields=["coupon", "user"], name="redemption_coupon_user"),
            models.Index(Lower("email"), "coupon", name="redemption_coupon_email"),
        ]

    def __str__(self):
        return f"{self.coupon} · {self.order_number}"


class Offer(models.Model):
    """An automatic promotion, no code needed."""

    class Kind(models.TextChoices):
        SPEND = "spend", _("Spend X, save Y")
        SALE = "sale", _("Sale: percent off categories or products")

    name = models.CharField(_("name"), max_length=120, help_text=_("Shown to shoppers."))
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    #: For a sale: the percent off every unit of the products it covers.
    percent = models.DecimalField(_("percent off"), **PERCENT, default=Decimal("0.00"))
    categories = models.ManyToManyField(
        "catalog.Category",
        verbose_name=_("categories"),
        related_name="+",
        blank=True,
        help_text=_("A sale covers these categories (with their subcategories) and products."),
    )
    products = models.ManyToManyField(
        "catalog.Product", verbose_name=_("products"), related_name="+", blank=True
    )
    valid_from = models.DateTimeField(_("starts"), null=True, blank=True)
    valid_until = models.DateTimeField(_("ends"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    stacks = models.BooleanField(_("combines"), default=False, help_text=STACKS_HELP)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = WindowQuerySet.as_manager()

    class Meta:
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return self.name


class SpendTier(models.Model):
    """ "Spend `threshold`, save `amount`": of an offer's tiers the highest one reached applies."""

    offer = models.ForeignKey(
        Offer, verbose_name=_("offer"), related_name="tiers", on_delete=models.CASCADE
    )
    threshold = models.DecimalField(_("spend at least"), **MONEY, validators=NOT_NEGATIVE)
    amount = models.DecimalField(_("save"), **MONEY, validators=NOT_NEGATIVE)

    class Meta:
        verbose_name = _("spend tier")
        verbose_name_plural = _("spend tiers")
        ordering = ["threshold", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["offer", "threshold"], name="spend_tier_unique")
        ]

    def __str__(self):
        return f"{self.threshold} → {self.amount}"


class MembershipTier(models.Model):
    """A level reached by lifetime paid spend ("VIP levels" in the seeds)."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    #: Lifetime paid spend at which a customer reaches the tier (included).
    min_spend = models.DecimalField(
        _("lifetime spend from"), **MONEY, unique=True, validators=NOT_NEGATIVE
    )
    percent = models.DecimalField(_("discount percent"), **PERCENT)
    stacks = models.BooleanField(_("combines"), default=False, help_text=STACKS_HELP)
    #: Members earn this many times the shop's points rate (settings.POINTS_PER_UNIT).
    points_multiplier = models.DecimalField(
        _("points multiplier"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("1.00"),
        validators=NOT_NEGATIVE,
        help_text=_("Members earn points at this multiple of the shop's rate (1: the same)."),
    )

    class Meta:
        verbose_name = _("membership tier")
        verbose_name_plural = _("membership tiers")
        ordering = ["min_spend"]

    def __str__(self):
        return self.name


class CustomerSpend(models.Model):
    """A customer's lifetime paid spend, told by the orders app (record_paid_spend()):
    promotions never read orders."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("customer"),
        related_name="+",
        on_delete=models.CASCADE,
        primary_key=True,
    )
    paid_total = models.DecimalField(_("lifetime paid spend"), **MONEY, default=Decimal("0.00"))

    class Meta:
        verbose_name = _("customer spend")
        verbose_name_plural = _("customer spend")
        constraints = [
            models.CheckConstraint(
                condition=Q(paid_total__gte=0), name="customer_spend_not_negative"
            )
        ]

    def __str__(self):
        return f"{self.user} · {self.paid_total}"


class PromotionUse(models.Model):
    """An offer or membership tier that discounted a placed order, recorded by
    record_order_promotions() so that the merchant sees usage and orders per promotion.
    (Coupons have their own CouponRedemption, which also enforces their limits.)"""

    offer = models.ForeignKey(
        Offer,
        verbose_name=_("offer"),
        related_name="uses",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
    )
    tier = models.ForeignKey(
        MembershipTier,
        verbose_name=_("membership tier"),
        related_name="uses",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
    )
    order_number = models.CharField(_("order"), max_length=40, db_index=True)
    amount = models.DecimalField(_("discount"), **MONEY)
    used_at = models.DateTimeField(_("used"), auto_now_add=True)
    released_at = models.DateTimeField(_("released"), null=True, blank=True)

    class Meta:
        verbose_name = _("promotion use")
        verbose_name_plural = _("promotion uses")
        ordering = ["-used_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(offer__isnull=False, tier__isnull=True)
                | Q(offer__isnull=True, tier__isnull=False),
                name="promotion_use_one_promotion",
            )
        ]

    def __str__(self):
        return f"{self.offer or self.tier} · {self.order_number}"


class PointsEntryQuerySet(models.QuerySet):
    def of(self, user):
        return self.filter(user=user)


class PointsEntry(models.Model):
    """One movement of a customer's points (积分). The ledger is append-only: a balance is
    the sum of a customer's entries, and a mistake is put right by another entry, never by
    editing one. Written only by promotions.ledger, under the customer's row lock."""

    class Reason(models.TextChoices):
        EARNED = "earned", _("Earned on an order")
        FIRST_ORDER = "first_order", _("First order bonus")
        REVIEW = "review", _("Review bonus")
        REDEEMED = "redeemed", _("Paid for an order")
        RETURNED = "returned", _("Given back: order cancelled or refunded")
        TAKEN_BACK = "taken_back", _("Taken back: order refunded")
        EXPIRED = "expired", _("Expired")
        ADJUSTED = "adjusted", _("Adjusted by the shop")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("customer"),
        related_name="points_entries",
        on_delete=models.CASCADE,
    )
    #: Points in (positive) or out (negative); never zero.
    amount = models.IntegerField(_("points"))
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    #: The order it concerns (promotions never read orders: the number is enough).
    order_number = models.CharField(_("order"), max_length=40, blank=True, db_index=True)
    review_id = models.PositiveIntegerField(_("review"), null=True, blank=True)
    #: The money an earning was worked out on (what was paid net of refunds), so that a
    #: later refund takes back the same share of it.
    basis = models.DecimalField(_("worked out on"), **MONEY, null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    #: The staff member who made a manual adjustment.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        related_name="+",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    #: When what is left of these points (positive entries only) expires; empty: never.
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)

    objects = PointsEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="points_entry_not_zero"),
            models.UniqueConstraint(
                fields=["order_number", "reason"],
                condition=Q(reason__in=["earned", "redeemed"]),
                name="points_earned_and_redeemed_once_per_order",
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(reason="first_order"),
                name="points_first_order_bonus_once",
            ),
            models.UniqueConstraint(
                fields=["review_id"],
                condition=Q(reason="review"),
                name="points_review_bonus_once",
            ),
        ]
        indexes = [models.Index(fields=["user", "created_at"], name="points_entry_user_created")]

    def __str__(self):
        return f"{self.user} · {self.amount:+d} · {self.get_reason_display()}"


class CustomerPoints(User):
    """A customer as the points admin shows them (balance, history, adjustments)."""

    class Meta:
        proxy = True
        verbose_name = _("customer's points")
        verbose_name_plural = _("customers' points")


class FlashSaleQuerySet(models.QuerySet):
    def running(self, now):
        return self.filter(is_active=True, starts_at__lte=now, ends_at__gt=now)

    def not_over(self, now):
        """Running or still to come: what /flash/ lists and pricing may need soon."""
        return self.filter(is_active=True, ends_at__gt=now)


class FlashSale(models.Model):
    """A flash sale (秒杀) of one variant: `cap` units at `price` between `starts_at` and
    `ends_at`, at most `per_customer` units each. A campaign of several variants is several
    flash sales with the same window.

    While it runs, the variant sells only at this price and only through this sale: units
    are taken by promotions.flash.reserve()/claim() when an order is placed and given back
    when it is cancelled or expires unpaid. `taken` is the truth, written only by those two
    under a conditional UPDATE, so it never passes `cap` (the constraint says so too)."""

    name = models.CharField(_("name"), max_length=120, help_text=_("Shown to shoppers."))
    variant = models.ForeignKey(
        "catalog.Variant",
        verbose_name=_("variant"),
        related_name="+",
        on_delete=models.CASCADE,
    )
    price = models.DecimalField(_("flash price"), **MONEY, validators=NOT_NEGATIVE)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    #: Units this sale may sell, apart from the variant's stock (which must hold them too).
    cap = models.PositiveIntegerField(_("units for sale"), validators=[MinValueValidator(1)])
    per_customer = models.PositiveIntegerField(
        _("limit per customer"),
        default=1,
        validators=[MinValueValidator(1)],
        help_text=_("Signed-in shoppers are counted by account, guests by email address."),
    )
    #: Units held by orders placed and not cancelled.
    taken = models.PositiveIntegerField(_("units taken"), default=0, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = FlashSaleQuerySet.as_manager()

    class Meta:
        verbose_name = _("flash sale")
        verbose_name_plural = _("flash sales")
        ordering = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(taken__lte=F("cap")), name="flash_not_over_cap"),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="flash_ends_after"
            ),
            models.CheckConstraint(condition=Q(cap__gte=1), name="flash_cap_positive"),
        ]
        indexes = [models.Index(fields=["ends_at", "starts_at"], name="flash_window")]

    def __str__(self):
        return self.name

    @property
    def remaining(self) -> int:
        return max(self.cap - self.taken, 0)


class FlashClaim(models.Model):
    """Units of a flash sale held by one order, for one customer (a signed-in user, or a
    guest's email in lower case). Released, not deleted, when the order is cancelled or
    expires unpaid: the merchant still sees it and it no longer counts."""

    sale = models.ForeignKey(
        FlashSale, verbose_name=_("flash sale"), related_name="claims", on_delete=models.CASCADE
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("customer"),
        related_name="+",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    email = models.EmailField(_("email"), blank=True)
    order_number = models.CharField(_("order"), max_length=40, db_index=True)
    quantity = models.PositiveIntegerField(_("units"))
    claimed_at = models.DateTimeField(_("claimed"), auto_now_add=True)
    released_at = models.DateTimeField(_("released"), null=True, blank=True)

    class Meta:
        verbose_name = _("flash sale claim")
        verbose_name_plural = _("flash sale claims")
        ordering = ["-claimed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["sale", "order_number"],
                condition=Q(released_at__isnull=True),
                name="one_live_flash_claim_per_order",
            )
        ]
        indexes = [
            models.Index(fields=["sale", "user"], name="flash_claim_sale_user"),
            models.Index(fields=["sale", "email"], name="flash_claim_sale_email"),
        ]

    def __str__(self):
        return f"{self.sale} · {self.order_number}"
