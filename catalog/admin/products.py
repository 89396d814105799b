"""The product list and page: variants, images and specifications edited together."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Q, Subquery
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from modeltranslation.admin import TranslationTabularInline

from catalog import csv_io, selectors, services
from catalog.admin import bulk_edit
from catalog.admin.columns import price_html, stock_html, thumbnail_html
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
    Category,
    OptionValue,
    Product,
    ProductImage,
    Specification,
    StockMovement,
    Variant,
)

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


_NARROW = {"class": "width-7em"}


class VariantInlineForm(StockEntryFormMixin, forms.ModelForm):
    stock = StockEntryField()

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
        # Narrow number boxes keep the columns inside the page at laptop widths (classes in
        # catalog_admin.css: the Content-Security-Policy refuses style attributes).
        widgets = {
            "sku": forms.TextInput(attrs={"class": "width-12em"}),
            "price": forms.NumberInput(attrs=_NARROW),
            "compare_at_price": forms.NumberInput(attrs=_NARROW),
            "weight_grams": forms.NumberInput(attrs={"class": "width-5em"}),
            "position": forms.NumberInput(attrs={"class": "width-4em"}),
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
    fields = ("preview", "image", "alt_text", "option_values", "position")
    readonly_fields = ("preview",)
    autocomplete_fields = ("option_values",)
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("option_values__option_type")

    @admin.display(description=_("preview"))
    def preview(self, image: ProductImage):
        if not image.pk or not image.image:
            return "—"
        small = image.small
        return format_html(
            '<img class="image-preview" src="{}" alt="{}">',
            small.url,
            image.alt_text,
        )


class SpecificationInline(TranslationTabularInline):
    model = Specification
    fields = ("name", "value", "position")
    extra = 0


@admin.register(Product)
class ProductAdmin(StockErrorsAsMessages, LedgerGoesWithItsVariants, admin.ModelAdmin):
    list_display = (
        "thumbnail",
        "name",
        "category",
        "price_from",
        "stock_summary",
        "is_published",
    )
    list_display_links = ("name",)
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
        "recent_stock_movements",
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
        (_("Stock movements"), {"fields": ("recent_stock_movements",)}),
    )
    inlines = [VariantInline, ProductImageInline, SpecificationInline]
    actions = ["edit_variants", "publish", "unpublish", "feature", "unfeature", "export_csv"]

    class Media:
        css = {"all": ["catalog/admin/catalog_admin.css"]}

    def get_queryset(self, request):
        """The list's columns read annotations, never a query per row: the first image's
        thumbnails, and the count and highest price of the active variants (subqueries on
        the variant index, so the page stays one statement however long the catalog)."""
        return selectors.with_admin_list_columns(super().get_queryset(request))

    @admin.display(description=_("picture"))
    def thumbnail(self, product: Product):
        return thumbnail_html(product)

    @admin.display(description=_("price"), ordering="price")
    def price_from(self, product: Product):
        return price_html(
            low=product.price,
            high=product.price_high,
            sale=product.sale_price,
        )

    @admin.display(description=_("stock"), ordering="stock")
    def stock_summary(self, product: Product):
        return stock_html(stock=product.stock, variants=product.variant_count)

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

    @admin.display(description=_("newest stock movements"))
    def recent_stock_movements(self, product: Product):
        if not product.pk:
            return "—"
        movements = (
            StockMovement.objects.filter(variant__product=product)
            .select_related("variant", "actor")
            .order_by("-created_at", "-pk")[:RECENT_MOVEMENTS]
        )
        return movements_table(movements, with_sku=True)

    def save_formset(self, request, form, formset, change):
        if formset.model is Variant:
            formset.save(commit=False)  # also what the change message reads
            for variant in formset.deleted_objects:
                variant.delete()
            for variant_form in formset.saved_forms:
                save_variant_form(variant_form, actor=request.user)
                variant_form.save_m2m()
            return None
        if formset.model is not ProductImage:
            return super().save_formset(request, form, formset, change)
        images = formset.save(commit=False)
        for image in formset.deleted_objects:
            image.delete()
        changed = {obj.pk: fields for obj, fields in formset.changed_objects}
        for image in images:
            new_file = image in formset.new_objects or "image" in changed.get(image.pk, ())
            services.save_product_image(image=image, new_file=new_file)
        formset.save_m2m()  # the options each picture shows (save_related refreshes the pages)
        return None

    def delete_model(self, request, obj):
        services.delete_products(product_ids=[obj.pk])

    def delete_queryset(self, request, queryset):
        services.delete_products(product_ids=list(queryset.values_list("pk", flat=True)))

    def _ids(self, queryset) -> list[int]:
        return list(queryset.values_list("pk", flat=True))

    def _done(self, request, count: int, singular: str, plural: str) -> None:
        self.message_user(request, ngettext(singular, plural, count) % {"count": count})

    def has_bulk_edit_permission(self, request) -> bool:
        return bulk_edit.has_bulk_edit_permission(request)

    @admin.action(
        description=_("Edit prices and stock of their variants"), permissions=["bulk_edit"]
    )
    def edit_variants(self, request, queryset):
        ids = Variant.objects.filter(product__in=queryset.values("pk")).order_by("pk")
        return bulk_edit.redirect_to_bulk_edit(
            self, request, list(ids.values_list("pk", flat=True)), back="products"
        )

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
