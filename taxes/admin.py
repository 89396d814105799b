"""The merchant's tax tools: classes, and rates per country, region and class with their
validity periods (a new rate ends the old one: set the old one's "valid until")."""

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from taxes.models import TaxClass, TaxRate


@admin.register(TaxClass)
class TaxClassAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "is_exempt", "position"]
    list_editable = ["position"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"code": ("name",)}


class ValidityFilter(admin.SimpleListFilter):
    title = _("validity")
    parameter_name = "valid"

    def lookups(self, request, model_admin):
        return [("now", _("Valid today")), ("past", _("Ended")), ("future", _("Not yet valid"))]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "now":
            return queryset.valid_on(today)
        if self.value() == "past":
            return queryset.filter(valid_until__lte=today)
        if self.value() == "future":
            return queryset.filter(valid_from__gt=today)
        return queryset


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    list_display = ["country", "region", "tax_class", "rate", "name", "valid_from", "valid_until"]
    list_filter = [ValidityFilter, "tax_class", "country"]
    list_select_related = ["tax_class"]
    search_fields = ["country", "region", "name"]
    ordering = ["country", "region", "tax_class__position", "-valid_from"]
    list_per_page = 100
    fields = ["country", "region", "tax_class", "rate", "name", "valid_from", "valid_until"]
