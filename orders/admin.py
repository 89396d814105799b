"""The merchant's order tools. Every change goes through orders.services; list pages stay at a
fixed number of queries (no per-row lookups, no full count on huge lists)."""

import csv

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from modeltranslation.admin import TranslationAdmin

from orders import desk, documents, selectors, services
from orders.errors import OrderError
from orders.forms import ReceiveReturnForm, RejectReturnForm, ShipForm, ShipLinesForm
from orders.models import (
    TRANSFER_DUE_SOON,
    FapiaoRequest,
    Invoice,
    Order,
    OrderStatus,
    ReturnLine,
    ReturnRequest,
    ShippingMethod,
)
from orders.services.invoicing import buyer_of
from promotions import selectors as points_selectors
from promotions.models import PointsEntry
from shop.money import format_money


@admin.register(ShippingMethod)
class ShippingMethodAdmin(TranslationAdmin):
    list_display = [
        "name",
        "price",
        "free_above",
        "countries",
        "delivery_estimate",
        "tax_class",
        "is_active",
    ]
    list_editable = ["is_active"]
    list_filter = ["is_active", "tax_class"]
    list_select_related = ["tax_class"]
    search_fields = ["name"]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    # Django's tabular inline without the per-row caption and the empty header cells.
    template = "orders/admin/readonly_tabular.html"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class FapiaoInline(ReadOnlyInline):
    model = FapiaoRequest
    fields = ["kind", "title", "taxpayer_number", "status", "number", "issued_at", "issued_by"]
    readonly_fields = fields
    show_change_link = True


class Echo:
    """A file that hands back what is written to it, for csv.writer into a stream."""

    def write(self, value):
        return value


CSV_FIELDS = [
    ("number", _("Number")),
    ("created_at", _("Placed")),
    ("status", _("Status")),
    ("payment_status", _("Payment")),
    ("fulfilment_status", _("Fulfilment")),
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
    ("tax", _("Tax")),
    ("tax_country", _("Tax country")),
    ("buyer_vat_number", _("VAT number")),
    ("reverse_charge", _("Reverse charge")),
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


class FapiaoFilter(admin.SimpleListFilter):
    title = _("fapiao")
    parameter_name = "fapiao"

    def lookups(self, request, model_admin):
        return [
            ("requested", _("Fapiao requested, not issued")),
            ("issued", _("Fapiao issued")),
            ("any", _("Fapiao requested (any)")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "requested":
            return queryset.filter(fapiao__status=FapiaoRequest.Status.REQUESTED)
        if self.value() == "issued":
            return queryset.filter(fapiao__status=FapiaoRequest.Status.ISSUED)
        if self.value() == "any":
            return queryset.filter(fapiao__isnull=False)
        return queryset


def badge(value: str, label) -> str:
    """A status as a coloured label; the colour only repeats what the word says."""
    return format_html('<span class="badge badge--{}">{}</span>', value, label)


class PaymentMethodFilter(admin.SimpleListFilter):
    """By payment method, named as checkout names them (never by their codes)."""

    title = _("payment method")
    parameter_name = "payment_method"

    def lookups(self, request, model_admin):
        return [
            (code, selectors.payment_method_label(code))
            for code in settings.PAYMENT_PROVIDER_LABELS
        ]

    def queryset(self, request, queryset):
        return queryset.filter(payment_method=self.value()) if self.value() else queryset


class ToDoFilter(admin.SimpleListFilter):
    """Orders waiting on the merchant; the dashboard's to-do counts link here."""

    title = _("to do")
    parameter_name = "todo"

    def lookups(self, request, model_admin):
        return [
            ("ship", _("To ship")),
            ("transfer_due", _("Bank transfer due within 2 days")),
            ("tracking", _("Delivery problem")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "ship":
            return queryset.awaiting_shipment()
        if self.value() == "transfer_due":
            return queryset.bank_transfers_due(before=timezone.now() + TRANSFER_DUE_SOON)
        if self.value() == "tracking":
            return queryset.tracking_problems()
        return queryset


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """The order list (six columns that fit a laptop and a phone) and the order's page: the
    merchant's desk (orders/desk.py) above the order's details, with the tools its state
    allows."""

    list_display = ["number", "placed", "customer", "total_amount", "payment", "fulfilment"]
    list_filter = [
        ToDoFilter,
        "status",
        "payment_status",
        "fulfilment_status",
        "created_at",
        PaymentMethodFilter,
        "shipping_method",
        FapiaoFilter,
        "reverse_charge",
    ]
    date_hierarchy = "created_at"
    search_fields = ["=number", "email", "ship_name"]
    list_select_related = []  # every column is the order's own: no join, no query per row
    show_full_result_count = False
    list_per_page = 50
    inlines = [FapiaoInline]
    actions = ["mark_shipped", "mark_delivered", "export_csv"]
    change_form_template = "orders/admin/order_change_form.html"
    readonly_fields = [
        "number",
        "payment_deadline",
        "user",
        "email",
        "payment_method_label",
        "shipping_method_name",
        "coupon_code",
        "created_at",
        "paid_at",
        "cancelled_at",
        "completed_at",
        "prices_include_tax",
        "tax_not_charged",
        "tax_country",
        "tax_region",
        "shipping_tax_rate",
        "buyer_company",
        "buyer_vat_number",
        "reverse_charge",
        "invoice_links",
    ]
    fieldsets = [
        (
            _("Change the shipping address"),
            {
                "classes": ["collapse"],
                "fields": [
                    "ship_name",
                    "ship_phone",
                    "ship_line1",
                    "ship_line2",
                    "ship_city",
                    "ship_region",
                    "ship_postcode",
                    "ship_country",
                ],
            },
        ),
        (
            _("Details"),
            {
                "classes": ["collapse"],
                "fields": [
                    "number",
                    "user",
                    "email",
                    ("created_at", "payment_deadline", "paid_at"),
                    ("cancelled_at", "completed_at"),
                    "payment_method_label",
                    "shipping_method_name",
                    "coupon_code",
                ],
            },
        ),
        (
            _("Tax and invoice"),
            {
                "classes": ["collapse"],
                "fields": [
                    "invoice_links",
                    "prices_include_tax",
                    "tax_not_charged",
                    ("tax_country", "tax_region"),
                    "shipping_tax_rate",
                    "buyer_company",
                    "buyer_vat_number",
                    "reverse_charge",
                ],
            },
        ),
    ]

    class Media:
        css = {"all": ["css/admin-orders.css"]}

    @admin.display(description=_("placed"), ordering="created_at")
    def placed(self, obj):
        return date_format(timezone.localtime(obj.created_at), "SHORT_DATE_FORMAT")

    @admin.display(description=_("customer"), ordering="ship_name")
    def customer(self, obj):
        return format_html(
            '<span class="customer-name">{}</span><span class="customer-email">{}</span>',
            obj.ship_name,
            obj.email,
        )

    @admin.display(description=_("total"), ordering="total")
    def total_amount(self, obj):
        return format_money(obj.total, obj.currency)

    @admin.display(description=_("payment"), ordering="payment_status")
    def payment(self, obj):
        html = badge(obj.payment_status, obj.get_payment_status_display())
        if obj.status == OrderStatus.CANCELLED:
            html = badge(obj.status, obj.get_status_display()) + " " + html
        return html

    @admin.display(description=_("fulfilment"), ordering="fulfilment_status")
    def fulfilment(self, obj):
        return badge(obj.fulfilment_status, obj.get_fulfilment_status_display())

    @admin.display(description=_("payment method"))
    def payment_method_label(self, obj):
        return selectors.payment_method_label(obj.payment_method)

    def get_inlines(self, request, obj):
        # The fapiao request only where the shopper asked for one (rare outside China);
        # asked once per request, however often Django asks for the inlines.
        if obj is not None and not hasattr(obj, "has_fapiao"):
            obj.has_fapiao = FapiaoRequest.objects.filter(order=obj).exists()
        shown = obj is not None and obj.has_fapiao
        return [inline for inline in self.inlines if inline is not FapiaoInline or shown]

    def desk_tools(self, order) -> list:
        """The buttons of the order's page; the payments app adds the ones moving money."""
        return desk.order_tools(order)

    def desk_entries(self, order) -> list:
        """Timeline entries besides the order's events (the payments app adds money)."""
        return []

    def desk_context(self, request, order) -> dict:
        return {
            "title": _("Order %(number)s") % {"number": order.number},
            "desk": order,
            "tools": self.desk_tools(order),
            "timeline": desk.timeline(order, extra=self.desk_entries(order)),
            "customer": desk.customer_of(order),
            "billing": (
                documents.invoice_of(order).buyer
                if documents.invoice_of(order)
                else buyer_of(order)
            ),
            "returns": [(item, desk.return_tools(item)) for item in order.return_list],
            "payment_method": selectors.payment_method_label(order.payment_method),
            "points_moved": [
                (PointsEntry.Reason(reason).label, amount)
                for reason, amount in points_selectors.order_points(
                    order_number=order.number
                ).items()
            ],
        }

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = selectors.order_for_desk(pk=object_id) if str(object_id).isdigit() else None
        if order is not None:
            extra_context = {**(extra_context or {}), **self.desk_context(request, order)}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("invoice"))
    def invoice_links(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        invoice = documents.invoice_of(obj)
        page = reverse("admin:orders_order_invoice", args=[obj.pk])
        if invoice is None:
            return format_html('<a href="{}">{}</a>', page, _("Pro forma invoice"))
        pdf = reverse("admin:orders_order_invoice_pdf", args=[obj.pk])
        # Buttons, not links inside a line of text: told apart without relying on colour.
        html = format_html(
            '{} <a class="button" href="{}">{}</a> <a class="button" href="{}">{}</a>',
            invoice.number,
            page,
            _("print"),
            pdf,
            _("PDF"),
        )
        for credit_note in obj.credit_notes.all():
            args = [obj.pk, credit_note.pk]
            html += format_html(
                '<br>{} <a class="button" href="{}">{}</a> <a class="button" href="{}">{}</a>',
                _("Credit note %(number)s") % {"number": credit_note.number},
                reverse("admin:orders_order_credit_note", args=args),
                _("print"),
                reverse("admin:orders_order_credit_note_pdf", args=args),
                _("PDF"),
            )
        return html

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/ship/", view(self.ship_view), name="{}_{}_ship".format(*info)),
            path("<int:pk>/deliver/", view(self.deliver_view), name="{}_{}_deliver".format(*info)),
            path(
                "<int:pk>/packing-slip/",
                view(self.packing_slip_view),
                name="{}_{}_packing_slip".format(*info),
            ),
            path("<int:pk>/invoice/", view(self.invoice_view), name="{}_{}_invoice".format(*info)),
            path(
                "<int:pk>/invoice.pdf",
                view(self.invoice_pdf_view),
                name="{}_{}_invoice_pdf".format(*info),
            ),
            path(
                "<int:pk>/credit-notes/<int:credit_note>/",
                view(self.credit_note_view),
                name="{}_{}_credit_note".format(*info),
            ),
            path(
                "<int:pk>/credit-notes/<int:credit_note>.pdf",
                view(self.credit_note_pdf_view),
                name="{}_{}_credit_note_pdf".format(*info),
            ),
            *super().get_urls(),
        ]

    def _credit_note(self, request, pk, credit_note):
        order = Order.objects.select_related("invoice").filter(pk=pk).first()
        if order is None or not self.has_view_permission(request, order):
            raise Http404
        return documents.credit_note_of(order, pk=credit_note)

    def credit_note_view(self, request, pk, credit_note):
        """The credit note as the shopper prints it (the same template)."""
        document = self._credit_note(request, pk, credit_note)
        context = documents.credit_note_context(document)
        context["pdf_url"] = reverse("admin:orders_order_credit_note_pdf", args=[pk, document.pk])
        context["order_url"] = reverse("admin:orders_order_change", args=[pk])
        return render(request, "orders/credit_note.html", context)

    def credit_note_pdf_view(self, request, pk, credit_note):
        document = self._credit_note(request, pk, credit_note)
        response = HttpResponse(documents.credit_note_pdf(document), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{document.number}.pdf"'
        return response

    def _order_for_invoice(self, request, pk) -> Order:
        order = Order.objects.select_related("invoice", "fapiao").filter(pk=pk).first()
        if order is None or not self.has_view_permission(request, order):
            raise Http404
        return selectors.with_page_details(order)

    def invoice_view(self, request, pk):
        """The invoice as the shopper prints it (the same template)."""
        order = self._order_for_invoice(request, pk)
        context = documents.invoice_context(order)
        if context["invoice"]:
            context["pdf_url"] = reverse("admin:orders_order_invoice_pdf", args=[order.pk])
        context["order_url"] = reverse("admin:orders_order_change", args=[order.pk])
        return render(request, "orders/invoice.html", context)

    def invoice_pdf_view(self, request, pk):
        order = self._order_for_invoice(request, pk)
        response = HttpResponse(documents.invoice_pdf(order), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{documents.pdf_filename(order)}"'
        return response

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

    def ship_view(self, request, pk):
        """Ship chosen lines and quantities of one order (a partial shipment)."""
        order = self._order_to_change(request, pk)
        lines = [line for line in order.lines.order_by("pk") if line.quantity_to_ship]
        form = ShipLinesForm(request.POST if request.method == "POST" else None, lines=lines)
        if request.method == "POST" and form.is_valid():
            try:
                services.ship_lines(
                    order=order,
                    carrier=form.cleaned_data["carrier"],
                    tracking_number=form.cleaned_data["tracking_number"],
                    quantities=form.quantities(),
                    actor=request.user,
                    notify=form.cleaned_data["notify"],
                )
            except OrderError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, _("Shipment recorded."), messages.SUCCESS)
                return redirect("admin:orders_order_change", order.pk)
        return TemplateResponse(
            request,
            "orders/admin/ship_lines.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Ship items of order %(number)s") % {"number": order.number},
                "form": form,
                "order": order,
                "object": order,
                "lines": lines,
                "opts": self.model._meta,
            },
            status=400 if request.method == "POST" else 200,
        )

    def _order_to_change(self, request, pk) -> Order:
        if not request.user.has_perm("orders.change_order"):
            raise PermissionDenied
        return get_object_or_404(Order, pk=pk)

    def _action_page(self, request, template, *, order, title, status=None, **context):
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "title": title,
                "order": order,
                "object": order,
                "opts": self.model._meta,
                **context,
            },
            status=status or (400 if request.method == "POST" else 200),
        )

    def deliver_view(self, request, pk):
        """Every parcel on its way has arrived: asks first, then mark_delivered()."""
        order = self._order_to_change(request, pk)
        error = ""
        if request.method == "POST":
            try:
                services.mark_delivered(order=order, actor=request.user)
            except OrderError as problem:
                error = problem.message
            else:
                self.message_user(request, _("Order marked delivered."), messages.SUCCESS)
                return redirect("admin:orders_order_change", order.pk)
        return self._action_page(
            request,
            "orders/admin/deliver.html",
            order=order,
            title=_("Mark order %(number)s delivered") % {"number": order.number},
            error=error,
            shipments=order.shipments.filter(delivered_at__isnull=True).prefetch_related(
                "lines__line"
            ),
        )

    def packing_slip_view(self, request, pk):
        """A page to print and put in the parcel: what is still to ship, no prices."""
        order = get_object_or_404(Order, pk=pk)
        if not self.has_view_permission(request, order):
            raise PermissionDenied
        lines = [line for line in order.lines.order_by("pk") if line.quantity_to_ship]
        return render(
            request,
            "orders/admin/packing_slip.html",
            {"order": order, "lines": lines, "shop_name": settings.SHOP_NAME},
        )

    @admin.action(
        description=_("Ship everything left to ship (carrier and tracking number)"),
        permissions=["change"],
    )
    def mark_shipped(self, request, queryset):
        form = ShipForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            self._each(
                request,
                queryset,
                lambda order: services.ship_lines(
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

    @admin.action(description=_("Mark delivered"), permissions=["change"])
    def mark_delivered(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda order: services.mark_delivered(order=order, actor=request.user),
            ngettext_lazy(
                "%(count)d order marked delivered.", "%(count)d orders marked delivered.", "count"
            ),
        )

    @admin.action(description=_("Export as CSV"))
    def export_csv(self, request, queryset):
        return stream_orders_csv(queryset)


class ReturnLineInline(ReadOnlyInline):
    model = ReturnLine
    fields = ["item", "quantity", "restock"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("line")

    @admin.display(description=_("item"))
    def item(self, obj):
        # Not the order line's str() ("2 x Linen Shirt"): the units ordered, not returned.
        return f"{obj.line.product_name} ({obj.line.sku})"


class ReturnToHandleFilter(admin.SimpleListFilter):
    """Returns waiting on the merchant: to approve or reject (requested), to refund
    (received). An approved return waits on the shopper's parcel."""

    title = _("to do")
    parameter_name = "todo"

    def lookups(self, request, model_admin):
        return [("handle", _("To handle (to decide or to refund)"))]

    def queryset(self, request, queryset):
        if self.value() == "handle":
            return queryset.to_handle()
        return queryset


@admin.register(ReturnRequest)
class ReturnRequestAdmin(admin.ModelAdmin):
    """Returns to handle: approve or reject, receive the parcel (restock per line), then
    refund (a button of the payments app on the same page)."""

    list_display = ["label", "order", "status", "reason", "created_at"]
    list_filter = [ReturnToHandleFilter, "status", "reason", "created_at"]
    search_fields = ["=order__number", "order__email"]
    list_select_related = ["order"]
    show_full_result_count = False
    readonly_fields = ["order", "status", "reason", "note", "answer", "created_at", "updated_at"]
    fields = readonly_fields
    inlines = [ReturnLineInline]
    actions = ["approve"]
    change_form_template = "orders/admin/return_change_form.html"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Every field is read-only: no Save buttons that would save nothing (a Close link).
        extra_context = {**(extra_context or {}), "show_save": False}
        extra_context["show_save_and_continue"] = False
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("return"), ordering="pk")
    def label(self, obj):
        return _("Return %(id)s") % {"id": obj.pk}

    @admin.action(
        description=_("Approve (the shopper may send the items back)"), permissions=["change"]
    )
    def approve(self, request, queryset):
        done = 0
        for return_request in queryset.order_by("pk"):
            try:
                services.approve_return(return_request=return_request, actor=request.user)
            except OrderError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext_lazy("%(count)d return approved.", "%(count)d returns approved.", "count")
                % {"count": done},
                messages.SUCCESS,
            )

    def get_urls(self):
        return [
            path(
                "<int:pk>/approve/",
                self.admin_site.admin_view(self.approve_view),
                name="orders_returnrequest_approve",
            ),
            path(
                "<int:pk>/reject/",
                self.admin_site.admin_view(self.reject_view),
                name="orders_returnrequest_reject",
            ),
            path(
                "<int:pk>/receive/",
                self.admin_site.admin_view(self.receive_view),
                name="orders_returnrequest_receive",
            ),
            *super().get_urls(),
        ]

    @staticmethod
    def _from_order(request) -> bool:
        return "order" in (request.GET.get("back"), request.POST.get("back"))

    def _back(self, request, return_request) -> str:
        """Where a step of the return leads back to: the order when opened from it."""
        if self._from_order(request):
            return reverse("admin:orders_order_change", args=[return_request.order_id])
        return reverse("admin:orders_returnrequest_change", args=[return_request.pk])

    def _page(self, request, *, return_request, form, title, template, submit):
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "title": title,
                "form": form,
                "return_request": return_request,
                "object": return_request,
                "return_lines": return_request.lines.select_related("line").order_by("pk"),
                "submit": submit,
                "back_url": self._back(request, return_request),
                "from_order": self._from_order(request),
                "opts": self.model._meta,
            },
            status=400 if request.method == "POST" else 200,
        )

    def _return(self, request, pk):
        if not request.user.has_perm("orders.change_returnrequest"):
            raise PermissionDenied
        return get_object_or_404(ReturnRequest.objects.select_related("order"), pk=pk)

    def reject_view(self, request, pk):
        return_request = self._return(request, pk)
        form = RejectReturnForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                services.reject_return(
                    return_request=return_request,
                    answer=form.cleaned_data["answer"],
                    actor=request.user,
                )
            except OrderError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, _("Return rejected."), messages.SUCCESS)
                return redirect(self._back(request, return_request))
        return self._page(
            request,
            return_request=return_request,
            form=form,
            title=_("Reject return %(id)s") % {"id": return_request.pk},
            template="orders/admin/return_action.html",
            submit=_("Reject the return"),
        )

    def approve_view(self, request, pk):
        """Approve one return (the shopper may send the items back): asks first."""
        return_request = self._return(request, pk)
        form = forms.Form(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                services.approve_return(return_request=return_request, actor=request.user)
            except OrderError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, _("Return approved."), messages.SUCCESS)
                return redirect(self._back(request, return_request))
        return self._page(
            request,
            return_request=return_request,
            form=form,
            title=_("Approve return %(id)s") % {"id": return_request.pk},
            template="orders/admin/return_action.html",
            submit=_("Approve the return"),
        )

    def receive_view(self, request, pk):
        """The parcel arrived: choose per line whether its units go back on the shelf."""
        return_request = self._return(request, pk)
        lines = list(return_request.lines.select_related("line").order_by("pk"))
        form = ReceiveReturnForm(request.POST if request.method == "POST" else None, lines=lines)
        if request.method == "POST" and form.is_valid():
            try:
                services.receive_return(
                    return_request=return_request, restock=form.restock(), actor=request.user
                )
            except OrderError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, _("Return received."), messages.SUCCESS)
                return redirect(self._back(request, return_request))
        return self._page(
            request,
            return_request=return_request,
            form=form,
            title=_("Receive return %(id)s") % {"id": return_request.pk},
            template="orders/admin/return_action.html",
            submit=_("Record the parcel as received"),
        )


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    """Invoices are issued by payment, never by hand: the list is for finding and printing."""

    list_display = ["number", "issued_at", "order", "pdf"]
    list_select_related = ["order"]
    search_fields = ["=number", "=order__number"]
    date_hierarchy = "issued_at"
    show_full_result_count = False
    readonly_fields = ["number", "sequence", "order", "issued_at", "seller", "buyer", "pdf"]
    fields = readonly_fields

    @admin.display(description=_("PDF"))
    def pdf(self, obj):
        url = reverse("admin:orders_order_invoice_pdf", args=[obj.order_id])
        return format_html('<a href="{}">{}</a>', url, _("Download"))

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the series must stay without gaps


class FapiaoIssueForm(forms.ModelForm):
    """The merchant types the number of the fapiao issued; saving calls the service."""

    issue_number = forms.CharField(
        label=_("Fapiao number"),
        max_length=40,
        required=False,
        help_text=_("The number of the fapiao you issued; saving marks the request issued."),
    )

    class Meta:
        model = FapiaoRequest
        fields = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance and self.instance.pk:
            self.fields["issue_number"].initial = self.instance.number

    def clean_issue_number(self):
        number = " ".join(self.cleaned_data["issue_number"].split())
        if not number:
            raise forms.ValidationError(_("Enter the fapiao’s number."))
        return number


@admin.register(FapiaoRequest)
class FapiaoRequestAdmin(admin.ModelAdmin):
    form = FapiaoIssueForm
    list_display = ["order", "kind", "title", "taxpayer_number", "status", "number", "requested_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["order"]
    search_fields = ["=order__number", "title", "taxpayer_number", "=number"]
    readonly_fields = [
        "order",
        "kind",
        "title",
        "taxpayer_number",
        "status",
        "number",
        "requested_at",
        "issued_at",
        "issued_by",
    ]
    fields = [*readonly_fields, "issue_number"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # shoppers request at checkout

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        try:
            services.mark_fapiao_issued(
                fapiao=obj, number=form.cleaned_data["issue_number"], actor=request.user
            )
        except OrderError as error:
            self.message_user(request, error.message, messages.ERROR)
