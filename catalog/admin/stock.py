"""Stock in the admin: variant forms save stock only as movements (catalog.stock), the
newest movements of a page, and the ledger's read-only list."""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from catalog import services
from catalog.forms import StockEntry
from catalog.models import (
    StockMovement,
)

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
