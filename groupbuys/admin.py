"""The merchant's tools for group buys: offers (created and edited here, checked by the
model's and the form's validation), and groups with their members, read only (a group's
state moves only through groupbuys.services: payments complete it, expiry settles it)."""

from django import forms
from django.contrib import admin
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from groupbuys.models import Group, GroupOffer, Membership, MemberState


class GroupOfferForm(forms.ModelForm):
    class Meta:
        model = GroupOffer
        fields = (
            "product",
            "variants",
            "group_price",
            "group_size",
            "hours",
            "starts_at",
            "ends_at",
            "is_active",
        )

    def clean(self):
        cleaned = super().clean()
        product, variants = cleaned.get("product"), cleaned.get("variants")
        if product and variants:
            strangers = [v for v in variants if v.product_id != product.pk]
            if strangers:
                self.add_error(
                    "variants",
                    _("Choose variants of %(product)s only (not %(sku)s).")
                    % {"product": product, "sku": ", ".join(v.sku for v in strangers)},
                )
        return cleaned


@admin.register(GroupOffer)
class GroupOfferAdmin(admin.ModelAdmin):
    form = GroupOfferForm
    list_display = ("product", "group_price", "group_size", "hours", "starts_at", "ends_at")
    list_display_links = ("product",)
    list_filter = ("is_active",)
    list_select_related = ("product",)
    autocomplete_fields = ("product",)
    raw_id_fields = ("variants",)  # never a <select> of every variant
    search_fields = ("product__name",)
    date_hierarchy = "starts_at"


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    can_delete = False
    fields = ("user", "variant", "state", "reserved_until", "order", "joined_at", "paid_at")
    readonly_fields = fields
    raw_id_fields = ("user", "variant", "order")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ("code", "offer", "state", "paid_members", "deadline", "created_at")
    list_filter = ("state",)
    list_select_related = ("offer__product",)
    search_fields = ("=code", "offer__product__name")
    readonly_fields = ("offer", "code", "leader", "state", "deadline", "created_at", "closed_at")
    fields = readonly_fields
    inlines = [MembershipInline]
    show_full_result_count = False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(paid=Count("memberships", filter=Q(memberships__state=MemberState.PAID)))
        )

    @admin.display(description=_("paid members"), ordering="paid")
    def paid_members(self, group):
        return f"{group.paid} / {group.offer.group_size}"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
