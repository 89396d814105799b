"""The merchant's payment tools: payments with their state changes, refunds and callbacks
(payloads read-only), a refund form, "mark paid" for manual payments; and the order admin
extended with its payments. Every change goes through payments.services.

The order admin is extended here (a subclass registered in its place) rather than in
orders/admin.py, so that orders never imports payments.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from orders.admin import OrderAdmin
from orders.admin import ReadOnlyInline as OrderReadOnlyInline
from orders.errors import OrderError
from orders.models import Order
from payments import services
from payments.errors import PaymentError
from payments.forms import RefundForm
from payments.models import Payment, PaymentEvent, PaymentStateChange, Refund


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PaymentStateChangeInline(ReadOnlyInline):
    model = PaymentStateChange
    fields = ["created_at", "actor", "from_state", "to_state", "note"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ["created_at", "amount", "reason", "actor", "reference"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class PaymentEventInline(ReadOnlyInline):
    model = PaymentEvent
    fields = [
        "received_at",
        "event_type",
        "event_id",
        "signature_valid",
        "processed",
        "duplicate",
        "flagged",
        "error",
    ]
    readonly_fields = fields
    show_change_link = True


def _refund_link(payment: Payment):
    if payment.refundable <= 0:
        return "—"
    url = reverse("admin:payments_payment_refund", args=[payment.pk])
    return format_html('<a class="button" href="{}">{}</a>', url, _("Refund"))


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "order",
        "provider",
        "amount",
        "currency",
        "state",
        "amount_refunded",
        "flagged",
        "created_at",
    ]
    list_filter = ["state", "provider", "flagged", "created_at"]
    search_fields = ["=order__number", "=reference"]
    list_select_related = ["order"]
    show_full_result_count = False
    raw_id_fields = ["order"]
    inlines = [PaymentStateChangeInline, RefundInline, PaymentEventInline]
    actions = ["confirm_manual"]
    readonly_fields = [
        "order_link",
        "provider",
        "amount",
        "currency",
        "state",
        "reference",
        "amount_refunded",
        "flagged",
        "flag_reason",
        "failure_reason",
        "created_at",
        "captured_at",
        "refund",
    ]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return request.method == "GET" and super().has_change_permission(request, obj)

    @admin.display(description=_("order"))
    def order_link(self, obj):
        url = reverse("admin:orders_order_change", args=[obj.order_id])
        return format_html('<a href="{}">{}</a>', url, obj.order.number)

    @admin.display(description=_("refund"))
    def refund(self, obj):
        return _refund_link(obj)

    def get_urls(self):
        return [
            path(
                "<int:pk>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="payments_payment_refund",
            ),
            *super().get_urls(),
        ]

    def refund_view(self, request, pk):
        """Full or partial refund: never more than captured minus refunded."""
        if not request.user.has_perm("payments.change_payment"):
            raise PermissionDenied
        payment = get_object_or_404(Payment.objects.select_related("order"), pk=pk)
        form = RefundForm(request.POST or None, payment=payment)
        if request.method == "POST" and form.is_valid():
            try:
                services.refund_payment(
                    payment=payment,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except (PaymentError, OrderError) as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(request, _("Refund recorded."), messages.SUCCESS)
                return redirect("admin:orders_order_change", payment.order_id)
        return TemplateResponse(
            request,
            "payments/admin/refund.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Refund a payment"),
                "form": form,
                "payment": payment,
                "opts": self.model._meta,
            },
            status=400 if request.method == "POST" else 200,
        )

    @admin.action(description=_("Mark received (manual payments)"))
    def confirm_manual(self, request, queryset):
        done = 0
        for payment in queryset.order_by("pk"):
            try:
                services.confirm_manual_payment(payment=payment, actor=request.user)
            except (PaymentError, OrderError) as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext_lazy(
                    "%(count)d payment marked received.",
                    "%(count)d payments marked received.",
                    "count",
                )
                % {"count": done},
            )


@admin.register(PaymentEvent)
class PaymentEventAdmin(admin.ModelAdmin):
    """Every callback as received; nothing here can be changed."""

    list_display = [
        "received_at",
        "provider",
        "event_type",
        "event_id",
        "signature_valid",
        "processed",
        "duplicate",
        "flagged",
        "payment",
    ]
    list_filter = ["provider", "signature_valid", "processed", "duplicate", "flagged"]
    search_fields = ["=event_id", "=payment__order__number"]
    list_select_related = ["payment"]
    show_full_result_count = False
    readonly_fields = [
        "received_at",
        "provider",
        "event_type",
        "event_id",
        "payment",
        "signature",
        "signature_valid",
        "processed",
        "duplicate",
        "flagged",
        "error",
        "payload",
    ]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return request.method == "GET" and super().has_change_permission(request, obj)


class PaymentInline(OrderReadOnlyInline):
    model = Payment
    fields = [
        "provider",
        "amount",
        "state",
        "amount_refunded",
        "flagged",
        "flag_reason",
        "created_at",
        "refund",
    ]
    readonly_fields = fields
    show_change_link = True

    @admin.display(description=_("refund"))
    def refund(self, obj):
        return _refund_link(obj)


class OrderWithPaymentsAdmin(OrderAdmin):
    inlines = [*OrderAdmin.inlines, PaymentInline]
    actions = [*OrderAdmin.actions, "mark_paid"]

    @admin.action(description=_("Mark paid (manual payment received)"))
    def mark_paid(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda order: services.record_manual_payment(order=order, actor=request.user),
            ngettext_lazy("%(count)d order marked paid.", "%(count)d orders marked paid.", "count"),
        )


admin.site.unregister(Order)
admin.site.register(Order, OrderWithPaymentsAdmin)
