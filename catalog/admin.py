"""The merchant's tools for the catalog.

Every write that spans rows goes through catalog.services: saving a product refreshes its
summary columns (price, stock, search document) and the cached pages that show it; bulk
actions are single UPDATEs. Lists stay fast on a large catalog: related rows are joined, no
full count on the product list, foreign keys to big tables use autocomplete.

Stock is never written back from a form. Variant forms show the stock read-only with the
value the page loaded in a hidden field, and take an adjustment (units received or removed,
with a reason) or a counted quantity, which catalog.stock records as a movement; a form
whose stock moved since it was loaded is refused with what the merchant typed kept. Saving
a variant writes only the columns the merchant changed, so a price change never touches
the stock (or a sale price set by promotions meanwhile).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import CharField, Q, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from catalog import csv_io, services
from catalog.forms import StockEntry, StockEntryField, StockEntryFormMixin
from catalog.models import (
    LOW_STOCK,
    Brand,
    Category,
    OptionType,
    OptionValue,
    Product,
    ProductImage,
    Specification,
    StockMovement,
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

#: Variant columns a merchant edits on a form. Not `stock` (it moves only by movements) nor
#: `sale_price` (kept by promotions).
VARIANT_FIELDS = (
    "product",
    "sku",
    "price",
    "compare_at_price",
    "weight_grams",
    "is_active",
    "position",
)
#: Movements shown on a variant's or product's page, newest first; the full history is on
#: the stock movements list, one click away.
RECENT_MOVEMENTS = 10


def save_variant_form(form, *, actor) -> bool:
    """Save a variant's form (its ModelForm already ran `save(commit=False)`) as the merchant
    changed it: only the columns they changed, so a page loaded before a sale writes back
    nothing it did not edit, and the stock only as a movement (catalog.stock). A new variant
    starts its ledger with an opening balance of what was entered. Returns whether anything
    but the stock changed (then the product's summary needs a refresh). Many-to-many
    fields are left to the caller (`form.save_m2m()`).
    """
    variant = form.instance
    entry: StockEntry | None = form.stock_entry
    if variant.pk is None:
        variant.stock = entry.result(0) if entry else 0
        variant.save()
        services.record_opening_stock(variants=[variant], actor=actor)
        return True
    fields = [name for name in form.changed_data if name in VARIANT_FIELDS]
    if fields:
        variant.save(update_fields=fields)
    if entry is not None:
        if entry.counted is not None:
            services.count_stock(
                variant_id=variant.pk, counted=entry.counted, expected=entry.loaded, actor=actor
            )
        else:
            services.adjust_stock(
                variant_id=variant.pk,
                delta=entry.adjust,
                reason=entry.reason,
                actor=actor,
                expected=entry.loaded,
            )
    return bool(fields) or "option_values" in form.changed_data


def movements_table(movements, *, with_sku: bool):
    """The newest stock movements as a small read-only table, for a change page."""
    movements = list(movements)
    if not movements:
        return _("No stock movements yet.")
    changelist = reverse("admin:catalog_stockmovement_changelist")
    headers = [_("When")]
    if with_sku:
        headers.append(_("SKU"))
    headers += [_("Change"), _("Stock after"), _("Reason"), _("Reference"), _("By"), _("Note")]
    rows = []
    for movement in movements:
        cells = [formats.localize(timezone.localtime(movement.created_at))]
        if with_sku:
            cells.append(
                format_html(
                    '<a href="{}?variant__id__exact={}">{}</a>',
                    changelist,
                    movement.variant_id,
                    movement.variant.sku,
                )
            )
        cells += [
            f"{movement.quantity:+d}",
            movement.stock_after,
            movement.get_reason_display(),
            movement.reference or "—",
            movement.actor or "—",
            movement.note or "—",
        ]
        rows.append(format_html_join("", "<td>{}</td>", ((cell,) for cell in cells)))
    return format_html(
        "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>",
        format_html_join("", '<th scope="col">{}</th>', ((h,) for h in headers)),
        format_html_join("", "<tr>{}</tr>", ((row,) for row in rows)),
    )


class StockErrorsAsMessages:
    """A stock service refusing a save that the form's own check let through (a sale in the
    instant between them, possible where rows cannot be locked): the save's transaction
    rolls back and the merchant reads why on the page, instead of an error page."""

    def changeform_view(self, request, *args, **kwargs):
        try:
            return super().changeform_view(request, *args, **kwargs)
        except services.StockError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def changelist_view(self, request, *args, **kwargs):
        try:
            return super().changelist_view(request, *args, **kwargs)
        except services.StockError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class LedgerGoesWithItsVariants:
    """Deleting a product or variant deletes its stock movements with it, although nobody
    may delete a movement on its own (StockMovementAdmin)."""

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(StockMovement._meta.verbose_name)
        return deleted, counts, perms_needed, protected


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
        # Narrow number boxes keep the columns inside the page at laptop widths.
        widgets = {
            "sku": forms.TextInput(attrs={"style": "width: 12em"}),
            "price": forms.NumberInput(attrs=_NARROW),
            "compare_at_price": forms.NumberInput(attrs=_NARROW),
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
class ProductAdmin(StockErrorsAsMessages, LedgerGoesWithItsVariants, admin.ModelAdmin):
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
class VariantAdmin(StockErrorsAsMessages, LedgerGoesWithItsVariants, admin.ModelAdmin):
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

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("option_values")

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


# --- Stock movements: the ledger, read-only ------------------------------------------------


@admin.register(StockMovement)
class StockMovementAdmin(admin.ModelAdmin):
    """Why each variant's stock is what it is. Written only by catalog.stock: nobody adds,
    edits or deletes a movement here; a mistake is put right by a correction."""

    list_display = (
        "created_at",
        "sku",
        "product_name",
        "signed_quantity",
        "stock_after",
        "reason",
        "reference",
        "actor",
        "note",
    )
    list_select_related = ("variant__product", "actor")
    list_filter = ("reason",)
    search_fields = ("=variant__sku", "=reference")
    search_help_text = _("Search by exact SKU or reference (e.g. an order number).")
    raw_id_fields = ("variant", "actor")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    ordering = ("-pk",)  # insertion order: the primary key's index, however long the ledger
    list_per_page = 100

    @admin.display(description=_("SKU"), ordering="variant__sku")
    def sku(self, movement: StockMovement):
        return movement.variant.sku

    @admin.display(description=_("product"))
    def product_name(self, movement: StockMovement):
        return movement.variant.product.name

    @admin.display(description=_("change"), ordering="quantity")
    def signed_quantity(self, movement: StockMovement):
        return f"{movement.quantity:+d}"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
