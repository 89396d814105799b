"""The merchant's tools for promotions: coupons with their redemptions, offers (spend tiers
and sales) with the orders that used them, membership tiers.

List pages read usage from a column (coupons) or one annotated query (offers, tiers), so a
list is a fixed number of queries. Writes that span rows go through promotions.services.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from promotions import flash, ledger, selectors, services
from promotions.errors import PointsRejected
from promotions.models import (
    Coupon,
    CouponRedemption,
    CustomerPoints,
    CustomerSpend,
    FlashClaim,
    FlashSale,
    MembershipTier,
    Offer,
    PointsEntry,
    PromotionUse,
    SpendTier,
)


class _WindowForm(forms.ModelForm):
    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("valid_from"), cleaned.get("valid_until")
        if start and end and end <= start:
            self.add_error("valid_until", _("The end must be after the start."))
        return cleaned


class CouponForm(_WindowForm):
    class Meta:
        model = Coupon
        fields = (
            "code",
            "name",
            "kind",
            "value",
            "is_active",
            "stacks",
            "minimum_subtotal",
            "valid_from",
            "valid_until",
            "max_uses",
            "max_uses_per_customer",
            "categories",
            "products",
        )

    def clean_code(self):
        code = self.cleaned_data["code"].strip()
        others = Coupon.objects.filter(code__iexact=code).exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError(_("Another coupon has this code (in some case)."))
        return code

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == Coupon.Kind.PERCENT and (cleaned.get("value") or 0) > 100:
            self.add_error("value", _("A percent off is at most 100."))
        return cleaned


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CouponRedemptionInline(_ReadOnlyInline):
    model = CouponRedemption
    fields = ("order_number", "user", "email", "redeemed_at", "released_at")
    readonly_fields = fields
    verbose_name_plural = _("orders that used this coupon")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
    form = CouponForm
    list_display = (
        "code",
        "name",
        "kind",
        "value",
        "minimum_subtotal",
        "used_count",
        "remaining",
        "valid_from",
        "valid_until",
        "is_active",
        "stacks",
    )
    list_filter = ("is_active", "kind", "stacks")
    search_fields = ("code", "name")
    readonly_fields = ("used_count",)
    autocomplete_fields = ("categories", "products")
    inlines = [CouponRedemptionInline]
    actions = ["activate", "deactivate"]
    fieldsets = (
        (None, {"fields": ("code", "name", "kind", "value", "is_active", "stacks")}),
        (_("Rules"), {"fields": ("minimum_subtotal", "valid_from", "valid_until")}),
        (_("Limits"), {"fields": ("max_uses", "max_uses_per_customer", "used_count")}),
        (_("Only for"), {"fields": ("categories", "products")}),
    )

    @admin.display(description=_("remaining"))
    def remaining(self, coupon):
        left = coupon.remaining_uses
        return "∞" if left is None else left

    @admin.action(description=_("Activate the selected coupons"))
    def activate(self, request, queryset):
        count = services.set_coupons_active(
            coupon_ids=queryset.values_list("pk", flat=True), active=True
        )
        self.message_user(
            request,
            ngettext("%(n)d coupon activated.", "%(n)d coupons activated.", count) % {"n": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Deactivate the selected coupons"))
    def deactivate(self, request, queryset):
        count = services.set_coupons_active(
            coupon_ids=queryset.values_list("pk", flat=True), active=False
        )
        self.message_user(
            request,
            ngettext("%(n)d coupon deactivated.", "%(n)d coupons deactivated.", count)
            % {"n": count},
            messages.SUCCESS,
        )


class SpendTierInline(admin.TabularInline):
    model = SpendTier
    extra = 2
    fields = ("threshold", "amount")


class OfferUseInline(_ReadOnlyInline):
    model = PromotionUse
    fk_name = "offer"
    fields = ("order_number", "amount", "used_at", "released_at")
    readonly_fields = fields
    verbose_name_plural = _("orders that used this offer")


class OfferForm(_WindowForm):
    class Meta:
        model = Offer
        fields = (
            "name",
            "kind",
            "is_active",
            "stacks",
            "valid_from",
            "valid_until",
            "percent",
            "categories",
            "products",
        )


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    form = OfferForm
    list_display = (
        "name",
        "kind",
        "percent",
        "valid_from",
        "valid_until",
        "is_active",
        "stacks",
        "use_count",
    )
    list_filter = ("kind", "is_active", "stacks")
    search_fields = ("name",)
    autocomplete_fields = ("categories", "products")
    inlines = [SpendTierInline, OfferUseInline]
    actions = ["activate", "deactivate"]
    fieldsets = (
        (None, {"fields": ("name", "kind", "is_active", "stacks")}),
        (_("When"), {"fields": ("valid_from", "valid_until")}),
        (
            _("Sale"),
            {
                "fields": ("percent", "categories", "products"),
                "description": _(
                    "For a sale: the percent off and what it covers. Spend offers use the "
                    "tiers below and, when set, count only these categories and products."
                ),
            },
        ),
    )

    def get_queryset(self, request):
        return selectors.offers_with_usage()

    @admin.display(description=_("orders"), ordering="use_count")
    def use_count(self, offer):
        return offer.use_count

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Categories and products are saved only now: the sale shows on pages at once.
        services.sync_sale_prices()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        services.sync_sale_prices()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        services.sync_sale_prices()

    @admin.action(description=_("Activate the selected offers"))
    def activate(self, request, queryset):
        count = services.set_offers_active(
            offer_ids=queryset.values_list("pk", flat=True), active=True
        )
        self.message_user(
            request,
            ngettext("%(n)d offer activated.", "%(n)d offers activated.", count) % {"n": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Deactivate the selected offers"))
    def deactivate(self, request, queryset):
        count = services.set_offers_active(
            offer_ids=queryset.values_list("pk", flat=True), active=False
        )
        self.message_user(
            request,
            ngettext("%(n)d offer deactivated.", "%(n)d offers deactivated.", count) % {"n": count},
            messages.SUCCESS,
        )


class TierUseInline(_ReadOnlyInline):
    model = PromotionUse
    fk_name = "tier"
    fields = ("order_number", "amount", "used_at", "released_at")
    readonly_fields = fields
    verbose_name_plural = _("orders that used this tier")


@admin.register(MembershipTier)
class MembershipTierAdmin(admin.ModelAdmin):
    list_display = ("name", "min_spend", "percent", "points_multiplier", "stacks", "use_count")
    inlines = [TierUseInline]

    def get_queryset(self, request):
        return selectors.tiers_with_usage()

    @admin.display(description=_("orders"), ordering="use_count")
    def use_count(self, tier):
        return tier.use_count


@admin.register(CustomerSpend)
class CustomerSpendAdmin(admin.ModelAdmin):
    """Read-only: the orders app keeps it through record_paid_spend()."""

    list_display = ("user", "paid_total")
    list_select_related = ("user",)
    raw_id_fields = ("user",)  # never a <select> of every customer
    search_fields = ("user__email",)
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- Points -----------------------------------------------------------------------------


class PointsEntryInline(_ReadOnlyInline):
    model = PointsEntry
    fk_name = "user"
    fields = ("created_at", "amount", "reason", "order_number", "note", "expires_at", "created_by")
    readonly_fields = fields
    verbose_name_plural = _("points history")
    ordering = ("-created_at", "-pk")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")


class PointsAdjustmentForm(forms.ModelForm):
    """A customer's points as the merchant sees them: adjusting adds an entry with its
    reason (promotions.ledger.adjust_points), never edits one."""

    adjust_by = forms.IntegerField(
        label=_("Adjust by"),
        required=False,
        help_text=_("Points to add (e.g. 200) or take away (e.g. -200)."),
    )
    adjust_note = forms.CharField(
        label=_("Reason for the adjustment"),
        required=False,
        max_length=200,
        help_text=_("Shown to the customer in their points history."),
    )

    class Meta:
        model = CustomerPoints
        fields = ()

    def clean(self):
        cleaned = super().clean()
        amount = cleaned.get("adjust_by")
        if amount and not (cleaned.get("adjust_note") or "").strip():
            self.add_error("adjust_note", _("Say why the points are adjusted."))
        if amount:
            balance = selectors.points_balance(user=self.instance)
            if balance + amount < 0:
                self.add_error(
                    "adjust_by",
                    _("The customer has %(balance)s points: they cannot go below zero.")
                    % {"balance": balance},
                )
        return cleaned


@admin.register(CustomerPoints)
class CustomerPointsAdmin(admin.ModelAdmin):
    """Every customer's points: the balance (one annotated query for the list), the history
    and a manual adjustment on the customer's page."""

    form = PointsAdjustmentForm
    list_display = ("email", "points_balance")
    search_fields = ("email", "phone", "full_name")
    show_full_result_count = False
    readonly_fields = ("email", "points_balance")
    fields = ("email", "points_balance", "adjust_by", "adjust_note")
    inlines = [PointsEntryInline]

    def get_queryset(self, request):
        # Coalesce: a customer without entries holds 0 (no query of their own per row).
        return (
            super()
            .get_queryset(request)
            .annotate(balance=Coalesce(Sum("points_entries__amount"), 0))
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("points"), ordering="balance")
    def points_balance(self, customer):
        return customer.balance

    def save_model(self, request, obj, form, change):
        amount = form.cleaned_data.get("adjust_by")
        if not amount:
            return
        try:
            ledger.adjust_points(
                user=obj, amount=amount, note=form.cleaned_data["adjust_note"], by=request.user
            )
        except PointsRejected as rejected:
            messages.error(request, rejected.message)


# --- Flash sales (秒杀) ---------------------------------------------------------------------


class FlashSaleForm(forms.ModelForm):
    class Meta:
        model = FlashSale
        fields = (
            "name",
            "variant",
            "price",
            "starts_at",
            "ends_at",
            "cap",
            "per_customer",
            "is_active",
        )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("starts_at"), cleaned.get("ends_at")
        if start and end and end <= start:
            self.add_error("ends_at", _("The end must be after the start."))
        variant, price = cleaned.get("variant"), cleaned.get("price")
        if variant is not None and price is not None and price >= variant.price:
            self.add_error(
                "price",
                _("The flash price must be below the variant's price (%(price)s).")
                % {"price": variant.price},
            )
        overlapping = self._overlapping_sale(cleaned)
        if overlapping is not None:
            self.add_error(
                "variant",
                _(
                    "“%(name)s” sells this variant in these hours: a variant is in one flash "
                    "sale at a time."
                )
                % {"name": overlapping.name},
            )
        cap = cleaned.get("cap")
        if cap is not None and cap < self.instance.taken:
            self.add_error(
                "cap",
                _("%(taken)s units are already taken: the cap cannot be lower.")
                % {"taken": self.instance.taken},
            )
        return cleaned

    def _overlapping_sale(self, cleaned) -> FlashSale | None:
        """Another active sale of the variant whose hours meet this one's. Two at once
        would each count the variant's buyers apart: a unit held in one would be claimed
        from the other when the order is placed, blocking the first's until its hold lapsed."""
        variant, start, end = (
            cleaned.get("variant"),
            cleaned.get("starts_at"),
            cleaned.get("ends_at"),
        )
        if not cleaned.get("is_active") or variant is None or not start or not end:
            return None
        return (
            FlashSale.objects.filter(
                variant=variant, is_active=True, starts_at__lt=end, ends_at__gt=start
            )
            .exclude(pk=self.instance.pk)
            .order_by("starts_at", "pk")
            .first()
        )


class FlashClaimInline(admin.TabularInline):
    model = FlashClaim
    fields = ("order_number", "user", "email", "quantity", "claimed_at", "released_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    ordering = ("-claimed_at", "-pk")

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


@admin.register(FlashSale)
class FlashSaleAdmin(admin.ModelAdmin):
    """Flash sales: the window, the price, the cap and the limit; `taken` is read-only
    (written by orders only). Saving drops the cached schedule, so pricing, /flash/ and
    product pages follow at once."""

    form = FlashSaleForm
    list_display = (
        "name",
        "variant",
        "price",
        "starts_at",
        "ends_at",
        "cap",
        "taken",
        "per_customer",
        "is_active",
    )
    list_filter = ("is_active",)
    list_select_related = ("variant", "variant__product")
    search_fields = ("name", "variant__sku")
    raw_id_fields = ("variant",)
    readonly_fields = ("taken",)
    inlines = [FlashClaimInline]
    date_hierarchy = "starts_at"

    def save_model(self, request, obj, form, change):
        if change:
            # Only what the form edits: `taken` moves with every order and the value read
            # with the form must never be written back over it.
            obj.save(update_fields=FlashSaleForm.Meta.fields)
        else:
            obj.save()
        flash.schedule_changed()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        flash.schedule_changed()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        flash.schedule_changed()
