"""The merchant's tools for the catalog.

Every write that spans rows goes through catalog.services: saving a product refreshes its
summary columns (price, stock, search document) and the cached pages that show it; bulk
actions are single UPDATEs. Lists stay fast on a large catalog: related rows are joined, no
full count on the product list, foreign keys to big tables use autocomplete.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import CharField, Q, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from catalog import csv_io, services
from catalog.models import (
    LOW_STOCK,
    Brand,
    Category,
    OptionType,
    OptionValue,
    Product,
    ProductImage,
    Specification,
    Tag,
    Variant,
)

# --- Categories ---------------------------------------------------------------------------


class CategoryAdminForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = ("name", "slug", "parent", "description", "image", "position", "is_active")

    def clean(self):
        cleaned = super().clean()
        try:
            services.check_category_parent(category=self.instance, parent=cleaned.get("parent"))
        except services.CategoryCycle as exc:
            self.add_error("parent", str(exc))
        return cleaned


#: Orders categories as a tree: a node's own path ("/3/17/42/") sorts right after its
#: parent's and before its parent's next sibling, so the list reads as an outline.
TREE_ORDER = Concat("path", Cast("pk", CharField()), Value("/"), output_field=CharField()).asc()


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    form = CategoryAdminForm
    list_display = ("indented_name", "slug", "position", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("parent",)
    fields = ("name", "slug", "parent", "description", "image", "position", "is_active")
    ordering = (TREE_ORDER,)

    @admin.display(description=_("name"), ordering=TREE_ORDER)
    def indented_name(self, category: Category):
        # The depth comes from the materialised path: no query per row.
        return format_html(
            '<span style="padding-left: {}em">{}{}</span>',
            category.depth * 1.5,
            "└ " if category.depth else "",
            category.name,
        )

    def save_model(self, request, obj, form, change):
        # The form already refused a cycle; a concurrent move is still caught by the service
        # inside the admin's transaction, which rolls back the whole save.
        services.save_category(category=obj)


# --- Brands, tags, options ----------------------------------------------------------------


class _RenameRefreshesProducts(admin.ModelAdmin):
    """A renamed brand or tag changes its products' search documents and pages."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "name" in form.changed_data:
            ids = list(obj.products.values_list("pk", flat=True))
            for start in range(0, len(ids), csv_io.REFRESH_CHUNK):
                services.refresh_products(product_ids=ids[start : start + csv_io.REFRESH_CHUNK])


@admin.register(Brand)
class BrandAdmin(_RenameRefreshesProducts):
    list_display = ("name", "slug")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Tag)
class TagAdmin(_RenameRefreshesProducts):
    list_display = ("name", "slug")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


class OptionValueInline(admin.TabularInline):
    model = OptionValue
    fields = ("value", "slug", "position")
    prepopulated_fields = {"slug": ("value",)}
    extra = 1


@admin.register(OptionType)
class OptionTypeAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "position")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [OptionValueInline]


@admin.register(OptionValue)
class OptionValueAdmin(admin.ModelAdmin):
    """Registered for the variants' option autocomplete; values are edited on their type."""

    list_display = ("value", "option_type", "position")
    list_select_related = ("option_type",)
    list_filter = ("option_type",)
    search_fields = ("value", "option_type__name")
    ordering = ("option_type__position", "option_type__name", "position", "value")

    def get_model_perms(self, request):
        return {}  # hidden from the admin index: OptionType's page edits these


# --- Products -----------------------------------------------------------------------------


class CategoryTreeFilter(admin.SimpleListFilter):
    """Drill down the category tree: the top level first, then the chosen node's children.

    Lists only a handful of categories at a time, so it stays one small query however big
    the tree grows; choosing a category shows everything below it too.
    """

    title = _("category")
    parameter_name = "category"

    def lookups(self, request, model_admin):
        self._chosen = None
        if self.value():
            self._chosen = Category.objects.filter(pk=_int_or_none(self.value())).first()
        if self._chosen is None:
            rows = Category.objects.roots()
            return [(str(c.pk), c.name) for c in rows]
        ids = [*self._chosen.ancestor_ids, self._chosen.pk]
        nodes = Category.objects.filter(Q(pk__in=ids) | Q(parent=self._chosen))
        by_pk = {c.pk: c for c in nodes}
        trail = [by_pk[pk] for pk in ids if pk in by_pk]
        children = sorted(
            (c for c in nodes if c.parent_id == self._chosen.pk),
            key=lambda c: (c.position, c.name),
        )
        return [(str(c.pk), "\u203a " * i + c.name) for i, c in enumerate(trail)] + [
            (str(c.pk), "\u203a " * len(trail) + c.name) for c in children
        ]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        category = getattr(self, "_chosen", None)
        if category is None:
            return queryset.none()
        return queryset.filter(category__in=Category.objects.filter(category.subtree_filter()))


class StockFilter(admin.SimpleListFilter):
    """Filters on Product.stock, the units over all active variants (kept by services)."""

    title = _("stock")
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [
            ("in", _("In stock (more than %(n)d)") % {"n": LOW_STOCK}),
            ("low", _("Low stock (1 to %(n)d)") % {"n": LOW_STOCK}),
            ("out", _("Sold out")),
        ]

    def queryset(self, request, queryset):
        match self.value():
            case "in":
                return queryset.filter(stock__gt=LOW_STOCK)
            case "low":
                return queryset.filter(stock__gt=0, stock__lte=LOW_STOCK)
            case "out":
                return queryset.filter(stock=0)
        return queryset


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class VariantInlineFormSet(forms.BaseInlineFormSet):
    """A product has at least one variant; one without options has exactly one active."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        kept = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and (form.instance.pk or form.has_changed())
        ]
        if not kept:
            raise ValidationError(
                _("A product needs at least one variant (its SKU, price and stock)."),
                code="no_variant",
            )
        if not any(data.get("option_values") for data in kept):
            active = sum(1 for data in kept if data.get("is_active"))
            if active != 1:
                raise ValidationError(
                    _(
                        "A product without options has exactly one active variant; this one "
                        "has %(count)d. Give each variant its option values (e.g. colour and "
                        "size), or keep only one variant active."
                    )
                    % {"count": active},
                    code="single_variant",
                )


_NARROW = {"style": "width: 7em"}


class VariantInlineForm(forms.ModelForm):
    class Meta:
        model = Variant
        fields = (
            "sku",
            "option_values",
            "price",
            "compare_at_price",
            "stock",
            "weight_grams",
            "is_active",
            "position",
        )
        # Narrow number boxes keep the eight columns inside the page at laptop widths.
        widgets = {
            "sku": forms.TextInput(attrs={"style": "width: 12em"}),
            "price": forms.NumberInput(attrs=_NARROW),
            "compare_at_price": forms.NumberInput(attrs=_NARROW),
            "stock": forms.NumberInput(attrs={"style": "width: 5em"}),
            "weight_grams": forms.NumberInput(attrs={"style": "width: 5em"}),
            "position": forms.NumberInput(attrs={"style": "width: 4em"}),
        }


class VariantInline(admin.TabularInline):
    model = Variant
    form = VariantInlineForm
    formset = VariantInlineFormSet
    fields = (
        "sku",
        "option_values",
        "price",
        "compare_at_price",
        "stock",
        "weight_grams",
        "is_active",
        "position",
    )
    autocomplete_fields = ("option_values",)
    extra = 0

    def get_extra(self, request, obj=None, **kwargs):
        return 0 if obj is not None else 1  # a new product starts with one empty variant row

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("option_values__option_type")

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "option_values":
            kwargs["queryset"] = OptionValue.objects.select_related("option_type")
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    fields = ("preview", "image", "alt_text", "position")
    readonly_fields = ("preview",)
    extra = 0

    @admin.display(description=_("preview"))
    def preview(self, image: ProductImage):
        if not image.pk or not image.image:
            return "—"
        small = image.small
        return format_html(
            '<img src="{}" alt="{}" style="max-width: 80px; max-height: 80px">',
            small.url,
            image.alt_text,
        )


class SpecificationInline(admin.TabularInline):
    model = Specification
    fields = ("name", "value", "position")
    extra = 0


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "category",
        "brand",
        "price",
        "stock",
        "is_published",
        "is_featured",
        "updated_at",
    )
    list_select_related = ("category", "brand")
    list_filter = (
        CategoryTreeFilter,
        "brand",
        "is_published",
        "is_featured",
        StockFilter,
        "tax_class",
    )
    search_fields = ("name", "variants__sku")
    search_help_text = _("Search by product name or variant SKU.")
    show_full_result_count = False  # no COUNT(*) over the whole catalog on every page
    show_facets = admin.ShowFacets.NEVER  # facet counts are one COUNT per filter choice
    list_per_page = 50
    autocomplete_fields = ("brand", "category", "tags")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = (
        "price",
        "compare_at_price",
        "stock",
        "sold_count",
        "rating_average",
        "rating_count",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (
            None,
            {"fields": ("name", "slug", "category", "brand", "tags", "description", "tax_class")},
        ),
        (_("Visibility"), {"fields": ("is_published", "is_featured")}),
        (
            _("Summary (computed from the variants and reviews)"),
            {
                "fields": (
                    ("price", "compare_at_price", "stock"),
                    ("sold_count", "rating_average", "rating_count"),
                    ("created_at", "updated_at"),
                )
            },
        ),
    )
    inlines = [VariantInline, ProductImageInline, SpecificationInline]
    actions = ["publish", "unpublish", "feature", "unfeature", "export_csv"]

    def get_search_results(self, request, queryset, search_term):
        """Name contains each word, or a variant's SKU does: a subquery, never a join, so a
        product with many matching SKUs is listed once and no DISTINCT is needed."""
        for bit in smart_split(search_term):
            if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
                bit = unescape_string_literal(bit)
            by_sku = Variant.objects.filter(sku__icontains=bit).values("product_id")
            queryset = queryset.filter(Q(name__icontains=bit) | Q(pk__in=Subquery(by_sku)))
        return queryset, False

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Variants, tags and images are saved now: the summary columns, search document and
        # cached pages follow them.
        services.refresh_products(product_ids=[form.instance.pk])

    def save_formset(self, request, form, formset, change):
        if formset.model is not ProductImage:
            return super().save_formset(request, form, formset, change)
        images = formset.save(commit=False)
        for image in formset.deleted_objects:
            image.delete()
        changed = {obj.pk: fields for obj, fields in formset.changed_objects}
        for image in images:
            new_file = image in formset.new_objects or "image" in changed.get(image.pk, ())
            services.save_product_image(image=image, new_file=new_file)
        return None

    def delete_model(self, request, obj):
        services.delete_products(product_ids=[obj.pk])

    def delete_queryset(self, request, queryset):
        services.delete_products(product_ids=list(queryset.values_list("pk", flat=True)))

    def _ids(self, queryset) -> list[int]:
        return list(queryset.values_list("pk", flat=True))

    def _done(self, request, count: int, singular: str, plural: str) -> None:
        self.message_user(request, ngettext(singular, plural, count) % {"count": count})

    @admin.action(description=_("Publish selected products"), permissions=["change"])
    def publish(self, request, queryset):
        count = services.set_published(product_ids=self._ids(queryset), published=True)
        self._done(request, count, "%(count)d product published.", "%(count)d products published.")

    @admin.action(description=_("Unpublish selected products"), permissions=["change"])
    def unpublish(self, request, queryset):
        count = services.set_published(product_ids=self._ids(queryset), published=False)
        self._done(
            request, count, "%(count)d product unpublished.", "%(count)d products unpublished."
        )

    @admin.action(description=_("Feature selected products"), permissions=["change"])
    def feature(self, request, queryset):
        count = services.set_featured(product_ids=self._ids(queryset), featured=True)
        self._done(request, count, "%(count)d product featured.", "%(count)d products featured.")

    @admin.action(description=_("Stop featuring selected products"), permissions=["change"])
    def unfeature(self, request, queryset):
        count = services.set_featured(product_ids=self._ids(queryset), featured=False)
        self._done(
            request, count, "%(count)d product unfeatured.", "%(count)d products unfeatured."
        )

    @admin.action(description=_("Export selected as CSV"), permissions=["view"])
    def export_csv(self, request, queryset):
        response = StreamingHttpResponse(
            csv_io.export_products(queryset=queryset), content_type="text/csv; charset=utf-8"
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="products-{stamp}.csv"'
        return response


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


class VariantStockForm(forms.ModelForm):
    class Meta:
        model = Variant
        fields = ("stock",)


@admin.register(Variant)
class VariantAdmin(admin.ModelAdmin):
    """Variants, opening on the low-stock list; stock is edited right in the list."""

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

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("option_values")

    def get_changelist_form(self, request, **kwargs):
        return VariantStockForm

    @admin.display(description=_("product"), ordering="product__name")
    def product_name(self, variant: Variant):
        return variant.product.name

    @admin.display(description=_("options"))
    def options(self, variant: Variant):
        return variant.options_label or "—"

    @staticmethod
    def _stock_only(form, change) -> bool:
        return change and list(form.changed_data) == ["stock"]

    def save_model(self, request, obj, form, change):
        if self._stock_only(form, change):
            # The list's stock column, or a recount on the change page.
            services.set_variant_stock(variant=obj, stock=obj.stock)
            return
        if change and "product" in form.changed_data:
            form._moved_from = form.initial.get("product")
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if not self._stock_only(form, change):
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
