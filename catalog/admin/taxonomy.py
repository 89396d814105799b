"""The catalog's taxonomy: the category tree, brands, tags and option types."""

from django import forms
from django.contrib import admin
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from modeltranslation.admin import TranslationAdmin, TranslationTabularInline

from catalog import csv_io, services
from catalog.models import (
    Brand,
    Category,
    OptionType,
    OptionValue,
    Tag,
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
class CategoryAdmin(TranslationAdmin):
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
        # The depth comes from the materialised path: no query per row. Indented with em and
        # en spaces (1.5 em a level), which HTML does not collapse: no style attribute, which
        # the Content-Security-Policy would refuse.
        return format_html(
            "{}{}{}",
            "\u2003\u2002" * category.depth,
            "└ " if category.depth else "",
            category.name,
        )

    def save_model(self, request, obj, form, change):
        # The form already refused a cycle; a concurrent move is still caught by the service
        # inside the admin's transaction, which rolls back the whole save.
        services.save_category(category=obj)


# --- Brands, tags, options ----------------------------------------------------------------


class _RenameRefreshesProducts(admin.ModelAdmin):
    """A renamed brand or tag (in any language) changes its products' search documents and
    pages."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and any(name.startswith("name") for name in form.changed_data):
            ids = list(obj.products.values_list("pk", flat=True))
            for start in range(0, len(ids), csv_io.REFRESH_CHUNK):
                services.refresh_products(product_ids=ids[start : start + csv_io.REFRESH_CHUNK])


@admin.register(Brand)
class BrandAdmin(_RenameRefreshesProducts):
    list_display = ("name", "slug")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Tag)
class TagAdmin(_RenameRefreshesProducts, TranslationAdmin):
    list_display = ("name", "slug")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


class OptionValueInline(TranslationTabularInline):
    model = OptionValue
    fields = ("value", "slug", "swatch", "position")
    prepopulated_fields = {"slug": ("value",)}
    extra = 1


@admin.register(OptionType)
class OptionTypeAdmin(TranslationAdmin):
    list_display = ("name", "slug", "position")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [OptionValueInline]

    def save_related(self, request, form, formsets, change):
        # Names, order and swatches of options show on listings' filters and product pages.
        super().save_related(request, form, formsets, change)
        services.options_changed()


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
