"""The merchant's order tools. Every change goes through orders.services; list pages stay at a
fixed number of queries (no per-row lookups, no full count on huge lists)."""

import csv

from django.contrib import admin, messages
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from orders import services
from orders.errors import OrderError
from orders.forms import ShipForm
from orders.models import (
    Order,
    OrderDiscount,
    OrderEvent,
    OrderLine,
    Shipment,
    ShippingMethod,
)


@admin.register(ShippingMethod)
class ShippingMethodAdmin(admin.ModelAdmin):
    list_display = ["name", "price", "free_above", "countries", "delivery_estimate", "is_active"]
    list_editable = ["is_active"]
    list_filter = ["is_active"]
    search_fields = ["name"]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ["product_name", "sku", "options_label", "unit_price", "quantity", "discount", "total"]
    readonly_fields = fields


class OrderDiscountInline(ReadOnlyInline):
    model = OrderDiscount
    fields = ["name", "code", "kind", "amount"]
    readonly_fields = fields


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["created_at", "actor", "from_state", "to_state", "note"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class ShipmentInline(ReadOnlyInline):
    model = Shipment
    fields = ["carrier", "tracking_number", "shipped_at", "delivered_at"]
    readonly_fields = fields


class Echo:
    """A file that hands back what is written to it, for csv.writer into a stream."""

    def write(self, value):
        return value


CSV_FIELDS = [
    ("number", _("Number")),
    ("created_at", _("Placed")),
    ("state", _("State")),
    ("email", _("Email")),
    ("ship_name", _("Name")),
    ("ship_country", _("Country")),
    ("payment_method", _("Payment method")),
    ("shipping_method_name", _("Shipping method")),
    ("subtotal", _("Subtotal")),
    ("discount", _("Discount")),
    ("shipping", _("Shipping")),
    ("shipping_discount", _("Shipping discount")),
    ("total", _("Total")),
    ("total_paid", _("Paid")),
    ("total_refunded", _("Refunded")),
    ("currency", _("Currency")),
]


def stream_orders_csv(queryset) -> StreamingHttpResponse:
    """The orders as CSV, streamed: rows are read in chunks with a server-side cursor (on
    PostgreSQL) and written as they come, so 100,000 orders neither time out nor fill
    memory."""
    writer = csv.writer(Echo())
    names = [name for name, _label in CSV_FIELDS]

    def rows():
        yield writer.writerow([str(label) for _name, label in CSV_FIELDS])
        for row in queryset.order_by("pk").values_list(*names).iterator(chunk_size=2000):
            yield writer.writerow(
                [value.isoformat() if hasattr(value, "isoformat") else value for value in row]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="orders-{stamp}.csv"'
    return response


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "created_at",
        "state",
        "email",
        "ship_name",
        "ship_country",
        "payment_method",
        "shipping_method_name",
        "total",
    ]
    list_filter = ["state", "created_at", "payment_method", "shipping_method"]
    date_hierarchy = "created_at"
    search_fields = ["=number", "email", "ship_name"]
    list_select_related = []  # the list shows only the order's own columns
    show_full_result_count = False
    list_per_page = 50
    raw_id_fields = ["user", "shipping_method"]
    inlines = [OrderLineInline, OrderDiscountInline, ShipmentInline, OrderEventInline]
    actions = ["mark_shipped", "mark_delivered", "cancel_orders", "export_csv"]
    readonly_fields = [
        "number",
        "state",
        "user",
        "email",
        "payment_method",
        "shipping_method",
        "shipping_method_name",
        "coupon_code",
        "currency",
        "subtotal",
        "discount",
        "shipping",
        "shipping_discount",
        "total",
        "total_paid",
        "total_refunded",
        "created_at",
        "paid_at",
    ]
    fieldsets = [
        (None, {"fields": ["number", "state", "user", "email", "created_at", "paid_at"]}),
        (
            _("Shipping address"),
            {
                "fields": [
                    "ship_name",
                    "ship_phone",
                    "ship_line1",
                    "ship_line2",
                    "ship_city",
                    "ship_region",
                    "ship_postcode",
                    "ship_country",
                ]
            },
        ),
        (
            _("Money"),
            {
                "fields": [
                    "payment_method",
                    "shipping_method",
                    "shipping_method_name",
                    "coupon_code",
                    "currency",
                    "subtotal",
                    "discount",
                    "shipping",
                    "shipping_discount",
                    "total",
                    "total_paid",
                    "total_refunded",
                ]
            },
        ),
    ]

    def has_add_permission(self, request):
        return False  # orders are placed at checkout

    def has_delete_permission(self, request, obj=None):
        return False  # cancel instead: the books keep every order

    def _each(self, request, queryset, act, done):
        changed = 0
        for order in queryset.order_by("pk"):
            try:
                act(order)
            except OrderError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                changed += 1
        if changed:
            self.message_user(request, done % {"count": changed}, messages.SUCCESS)

    @admin.action(description=_("Mark shipped (carrier and tracking number)"))
    def mark_shipped(self, request, queryset):
        form = ShipForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            self._each(
                request,
                queryset,
                lambda order: services.mark_shipped(
                    order=order,
                    carrier=form.cleaned_data["carrier"],
                    tracking_number=form.cleaned_data["tracking_number"],
                    actor=request.user,
                ),
                ngettext_lazy(
                    "%(count)d order marked shipped.", "%(count)d orders marked shipped.", "count"
                ),
            )
            return None
        return TemplateResponse(
            request,
            "orders/admin/ship.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Mark orders shipped"),
                "form": form,
                "orders": queryset,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )

    @admin.action(description=_("Mark delivered"))
    def mark_delivered(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda order: services.mark_delivered(order=order, actor=request.user),
            ngettext_lazy(
                "%(count)d order marked delivered.", "%(count)d orders marked delivered.", "count"
            ),
        )

    @admin.action(description=_("Cancel (stock goes back)"))
    def cancel_orders(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda order: services.cancel_order(
                order=order, actor=request.user, note=str(_("Cancelled by the merchant"))
            ),
            ngettext_lazy("%(count)d order cancelled.", "%(count)d orders cancelled.", "count"),
        )

    @admin.action(description=_("Export as CSV"))
    def export_csv(self, request, queryset):
        return stream_orders_csv(queryset)
