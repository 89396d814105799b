"""Variants, opening on the low-stock list: stock adjusted or counted right in the list."""

from django import forms
from django.contrib import admin
from django.db.models import Prefetch
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from catalog import services
from catalog.admin.bulk_edit import OPTION_ORDER, VariantBulkEdit
from catalog.admin.stock import (
    RECENT_MOVEMENTS,
    LedgerGoesWithItsVariants,
    StockErrorsAsMessages,
    movements_table,
    save_variant_form,
)
from catalog.forms import StockEntryField, StockEntryFormMixin
from catalog.models import (
    LOW_STOCK,
    Variant,
)

# --- Variants: the low-stock list ---------------------------------------------------------


class VariantStockFilter(admin.SimpleListFilter):
    """Opens on the low-stock list (active variants with at most LOW_STOCK units)."""

    title = _("stock")
    parameter_name = "level"

    def lookups(self, request, model_admin):
        return [
            ("low", _("Low stock, active (%(n)d or fewer)") % {"n": LOW_STOCK}),
            ("out", _("Sold out, active")),
            ("all", _("All variants")),
        ]

    def choices(self, changelist):
        current = self.value() or "low"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": current == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        match self.value() or "low":
            case "low":
                return queryset.filter(is_active=True, stock__lte=LOW_STOCK)
            case "out":
                return queryset.filter(is_active=True, stock=0)
        return queryset


class VariantListForm(StockEntryFormMixin, forms.ModelForm):
    """A row of the low-stock list: the stock now, with an adjustment or a count."""

    stock = StockEntryField(help_text="")

    class Meta:
        model = Variant
        fields = ("stock",)


class VariantAdminForm(StockEntryFormMixin, forms.ModelForm):
    stock = StockEntryField()

    class Meta:
        model = Variant
        fields = (
            "product",
            "sku",
            "option_values",
            "price",
            "compare_at_price",
            "stock",
            "weight_grams",
            "is_active",
            "position",
        )


@admin.register(Variant)
class VariantAdmin(
    VariantBulkEdit, StockErrorsAsMessages, LedgerGoesWithItsVariants, admin.ModelAdmin
):
    """Variants, opening on the low-stock list; stock is adjusted or counted right in the
    list, and on the change page, where its newest movements are shown."""

    form = VariantAdminForm

    list_display = ("sku", "product_name", "options", "stock", "price", "is_active")
    list_display_links = ("sku",)
    list_editable = ("stock",)
    list_select_related = ("product",)
    list_filter = (VariantStockFilter, "is_active")
    search_fields = ("=sku", "product__name")
    search_help_text = _("Search by exact SKU or by product name.")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    ordering = ("stock", "pk")
    raw_id_fields = ("product",)
    autocomplete_fields = ("option_values",)
    readonly_fields = ("recent_stock_movements",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "product",
                    "sku",
                    "option_values",
                    "price",
                    "compare_at_price",
                    "stock",
                    "weight_grams",
                    "is_active",
                    "position",
                )
            },
        ),
        (_("Stock movements"), {"fields": ("recent_stock_movements",)}),
    )

    actions = ["bulk_edit"]

    class Media:
        css = {"all": ["catalog/admin/catalog_admin.css"]}

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("option_values", queryset=OPTION_ORDER))
        )

    def get_changelist_form(self, request, **kwargs):
        return VariantListForm

    @admin.display(description=_("newest stock movements"))
    def recent_stock_movements(self, variant: Variant):
        if not variant.pk:
            return "—"
        movements = variant.stock_movements.select_related("actor").order_by("-created_at", "-pk")[
            :RECENT_MOVEMENTS
        ]
        link = format_html(
            '<p><a href="{}?variant__id__exact={}">{}</a></p>',
            reverse("admin:catalog_stockmovement_changelist"),
            variant.pk,
            _("All stock movements of this variant"),
        )
        return format_html("{}{}", movements_table(movements, with_sku=False), link)

    @admin.display(description=_("product"), ordering="product__name")
    def product_name(self, variant: Variant):
        return variant.product.name

    @admin.display(description=_("options"))
    def options(self, variant: Variant):
        return variant.options_label or "—"

    def save_model(self, request, obj, form, change):
        if change and "product" in form.changed_data:
            form._moved_from = form.initial.get("product")
        # The list's stock column or the change page: only what changed, stock as movements.
        form._refresh = save_variant_form(form, actor=request.user)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if getattr(form, "_refresh", True):  # a stock movement already refreshed its product
            moved_from = getattr(form, "_moved_from", None)
            ids = {form.instance.product_id, *([moved_from] if moved_from else [])}
            services.refresh_products(product_ids=ids)

    def delete_model(self, request, obj):
        product_id = obj.product_id
        super().delete_model(request, obj)
        services.refresh_products(product_ids=[product_id])

    def delete_queryset(self, request, queryset):
        product_ids = set(queryset.values_list("product_id", flat=True))
        super().delete_queryset(request, queryset)
        services.refresh_products(product_ids=product_ids)
