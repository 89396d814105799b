"""The merchant's payment tools: payments with their state changes, refunds and callbacks
(payloads read-only), a refund form, "mark paid" for manual payments; and the order admin
extended with its payments. Every change goes through payments.services.

The order admin is extended here (a subclass registered in its place) rather than in
orders/admin.py, so that orders never imports payments.
"""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from orders import services as order_services
from orders.admin import OrderAdmin, ReturnRequestAdmin
from orders.admin import ReadOnlyInline as OrderReadOnlyInline
from orders.errors import OrderError
from orders.models import Order, ReturnRequest
from payments import desk, services
from payments.errors import PaymentError
from payments.forms import CancelOrderForm, RecordTransferForm, RefundLinesForm
from payments.models import Payment, PaymentEvent, PaymentStateChange, Refund
from shop.money import format_money


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    template = "orders/admin/readonly_tabular.html"

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
    fields = ["created_at", "amount_back", "status", "reason", "actor", "reference", "settled_at"]
    readonly_fields = fields

    @admin.display(description=_("amount"))
    def amount_back(self, obj):
        return format_money(obj.amount, obj.payment.currency)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor", "payment")


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


class ProviderFilter(admin.SimpleListFilter):
    """By payment method, named as checkout names them (never by provider codes)."""

    title = _("method")
    parameter_name = "provider"

    def lookups(self, request, model_admin):
        return [(code, desk.method_label(code)) for code in settings.PAYMENT_PROVIDER_LABELS]

    def queryset(self, request, queryset):
        return queryset.filter(provider=self.value()) if self.value() else queryset


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "order",
        "method",
        "amount_paid",
        "state",
        "refunded",
        "flagged",
        "created_at",
    ]
    list_filter = ["state", ProviderFilter, "flagged", "created_at"]
    search_fields = ["=order__number", "=reference"]
    list_select_related = ["order"]
    show_full_result_count = False
    inlines = [PaymentStateChangeInline, RefundInline, PaymentEventInline]
    actions = ["confirm_manual", "clear_flag"]
    readonly_fields = [
        "order_link",
        "method",
        "amount_paid",
        "state",
        "reference",
        "refunded",
        "flagged",
        "flag_reason",
        "failure_reason",
        "surplus",
        "expires_at",
        "created_at",
        "captured_at",
    ]
    fields = readonly_fields

    @admin.display(description=_("method"), ordering="provider")
    def method(self, obj):
        return desk.method_label(obj.provider)

    @admin.display(description=_("amount"), ordering="amount")
    def amount_paid(self, obj):
        return format_money(obj.amount, obj.currency)

    @admin.display(description=_("refunded"), ordering="amount_refunded")
    def refunded(self, obj):
        return format_money(obj.amount_refunded, obj.currency)

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

    def has_confirm_permission(self, request):
        # has_change_permission() is False on POST (nothing here is edited by hand), so the
        # action asks for the permission itself.
        return request.user.has_perm("payments.change_payment")

    @admin.action(description=_("Mark received (manual payments)"), permissions=["confirm"])
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

    @admin.action(description=_("Clear the flag (dealt with)"), permissions=["confirm"])
    def clear_flag(self, request, queryset):
        cleared = sum(
            services.clear_flag(payment=payment, actor=request.user)
            for payment in queryset.order_by("pk")
        )
        self.message_user(
            request,
            ngettext_lazy(
                "%(count)d flag cleared; its reason stays in the payment's history.",
                "%(count)d flags cleared; their reasons stay in the payments' history.",
                "count",
            )
            % {"count": cleared}
            if cleared
            else _("None of the chosen payments was flagged."),
            messages.SUCCESS if cleared else messages.WARNING,
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
    fields = ["method", "amount_paid", "state", "refunded", "flagged", "flag_reason", "created_at"]
    readonly_fields = fields
    show_change_link = True

    @admin.display(description=_("method"))
    def method(self, obj):
        return desk.method_label(obj.provider)

    @admin.display(description=_("amount"))
    def amount_paid(self, obj):
        return format_money(obj.amount, obj.currency)

    @admin.display(description=_("refunded"))
    def refunded(self, obj):
        return format_money(obj.amount_refunded, obj.currency)


class OrderWithPaymentsAdmin(OrderAdmin):
    """The order page with its payments and the tools that move money: refund lines, cancel
    and record a bank transfer (each with a confirmation page stating the amount first)."""

    inlines = [*OrderAdmin.inlines, PaymentInline]
    actions = [*OrderAdmin.actions, "mark_paid"]

    def desk_tools(self, order):
        return super().desk_tools(order) + desk.money_tools(order)

    def desk_entries(self, order):
        return super().desk_entries(order) + desk.money_entries(order)

    @admin.action(description=_("Mark paid (manual payment received)"), permissions=["change"])
    def mark_paid(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda order: services.record_manual_payment(order=order, actor=request.user),
            ngettext_lazy("%(count)d order marked paid.", "%(count)d orders marked paid.", "count"),
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="orders_order_refund",
            ),
            path(
                "<int:pk>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name="orders_order_cancel",
            ),
            path(
                "<int:pk>/record-transfer/",
                self.admin_site.admin_view(self.record_transfer_view),
                name="orders_order_record_transfer",
            ),
            *super().get_urls(),
        ]

    def _order(self, request, pk) -> Order:
        if not request.user.has_perm("orders.change_order"):
            raise PermissionDenied
        return get_object_or_404(Order, pk=pk)

    def refund_view(self, request, pk):
        """Choose lines, quantities, restock and shipping; then a confirmation page states
        the amount; only its confirmation refunds."""
        order = self._order(request, pk)
        lines = [line for line in order.lines.order_by("pk") if line.quantity_refundable]
        form = RefundLinesForm(
            request.POST if request.method == "POST" else None, order=order, lines=lines
        )
        return self._refund_page(
            request,
            order=order,
            form=form,
            plan_of=lambda: order_services.plan_refund(
                order=order,
                quantities=form.quantities(),
                restock=form.restock(),
                shipping=order.shipping_refundable if form.cleaned_data.get("shipping") else 0,
                reason=form.cleaned_data["reason"],
            ),
            title=_("Refund items of order %(number)s") % {"number": order.number},
            done=redirect("admin:orders_order_change", order.pk),
        )

    def _refund_page(self, request, *, order, form, plan_of, title, done, return_request=None):
        """Shared by the order's and the return's refund (self is either admin): the
        breadcrumbs and the way back lead to the order or to the return."""
        plan, status = None, 200
        if request.method == "POST":
            status = 400
            if form.is_valid():
                try:
                    plan = plan_of()
                    if form.cleaned_data["confirm"]:
                        services.refund_order(
                            plan=plan,
                            actor=request.user,
                            confirmed=form.cleaned_data["sent_by_hand"],
                        )
                        self.message_user(request, _("Refund recorded."), messages.SUCCESS)
                        return done
                    status = 200
                except (PaymentError, OrderError) as error:
                    form.add_error(None, error.message)
                    plan = None
        return TemplateResponse(
            request,
            "payments/admin/refund.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "form": form,
                "order": order,
                "object": return_request or order,
                "return_request": return_request,
                "back_url": done.url,
                "plan": plan,
                "paid_by_hand": order.payments.filter(provider="manual").exists(),
                "opts": self.model._meta,
            },
            status=status,
        )

    def record_transfer_view(self, request, pk):
        """A bank transfer arrived: the amount and reference, then a confirmation; only the
        confirmation records it (payments.services.record_manual_payment)."""
        order = self._order(request, pk)
        form = RecordTransferForm(request.POST if request.method == "POST" else None, order=order)
        confirming, status = False, 200
        if request.method == "POST":
            status = 400
            if form.is_valid():
                amount = form.cleaned_data["amount"]
                try:
                    if form.cleaned_data["confirm"]:
                        services.record_manual_payment(
                            order=order,
                            actor=request.user,
                            amount=amount,
                            reference=form.cleaned_data["reference"],
                        )
                        self.message_user(
                            request,
                            _("Bank transfer recorded: the order is paid."),
                            messages.SUCCESS,
                        )
                        return redirect("admin:orders_order_change", order.pk)
                    services.check_transfer(order=order, amount=amount)
                    confirming, status = True, 200
                except (PaymentError, OrderError) as error:
                    form.add_error(None, error.message)
        return TemplateResponse(
            request,
            "payments/admin/record_transfer.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Record a bank transfer for order %(number)s")
                % {"number": order.number},
                "form": form,
                "order": order,
                "object": order,
                "confirming": confirming,
                "transfer_reference": Payment.objects.filter(order=order, provider="manual")
                .exclude(reference="")
                .values_list("reference", flat=True)
                .last(),
                "opts": self.model._meta,
            },
            status=status,
        )

    def cancel_view(self, request, pk):
        """Cancel before shipping: states what goes back, then cancels and refunds."""
        order = self._order(request, pk)
        form = CancelOrderForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                services.cancel_order(
                    order=order,
                    actor=request.user,
                    by_shopper=False,
                    confirmed=form.cleaned_data["sent_by_hand"],
                )
            except (PaymentError, OrderError) as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, _("Order cancelled."), messages.SUCCESS)
                return redirect("admin:orders_order_change", order.pk)
        return TemplateResponse(
            request,
            "payments/admin/cancel.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Cancel order %(number)s") % {"number": order.number},
                "form": form,
                "order": order,
                "object": order,
                "to_refund": order.total_paid - order_services.committed_refunds(order),
                "paid_by_hand": order.payments.filter(provider="manual").exists(),
                "opts": Order._meta,
            },
            status=400 if request.method == "POST" else 200,
        )


admin.site.unregister(Order)
admin.site.register(Order, OrderWithPaymentsAdmin)


class ReturnWithRefundAdmin(ReturnRequestAdmin):
    """The return page with its refund: the received units, optionally the shipping."""

    change_form_template = "payments/admin/return_change_form.html"

    def get_urls(self):
        return [
            path(
                "<int:pk>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="orders_returnrequest_refund",
            ),
            *super().get_urls(),
        ]

    def refund_view(self, request, pk):
        return_request = self._return(request, pk)
        order = return_request.order
        form = RefundLinesForm(
            request.POST if request.method == "POST" else None,
            order=order,
            lines=[],
            ask_reason=False,
        )
        return OrderWithPaymentsAdmin._refund_page(
            self,
            request,
            order=order,
            form=form,
            plan_of=lambda: order_services.plan_return_refund(
                return_request=return_request,
                shipping=order.shipping_refundable if form.cleaned_data.get("shipping") else 0,
            ),
            title=_("Refund return %(id)s") % {"id": return_request.pk},
            done=redirect("admin:orders_returnrequest_change", return_request.pk),
            return_request=return_request,
        )


admin.site.unregister(ReturnRequest)
admin.site.register(ReturnRequest, ReturnWithRefundAdmin)


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    """Refunds, due ones first: money to send back by hand, or failed at the provider."""

    list_display = ["created_at", "order", "amount_back", "status", "reason", "reference"]
    list_filter = ["status", "created_at"]
    search_fields = ["=payment__order__number", "=reference"]
    list_select_related = ["payment__order"]
    show_full_result_count = False
    readonly_fields = [
        "payment",
        "order_refund",
        "amount_back",
        "status",
        "reason",
        "actor",
        "reference",
        "created_at",
        "settled_at",
    ]
    fields = readonly_fields
    actions = ["record_sent"]

    @admin.display(description=_("order"), ordering="payment__order__number")
    def order(self, obj):
        url = reverse("admin:orders_order_change", args=[obj.payment.order_id])
        return format_html('<a href="{}">{}</a>', url, obj.payment.order.number)

    @admin.display(description=_("amount"), ordering="amount")
    def amount_back(self, obj):
        return format_money(obj.amount, obj.payment.currency)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_ordering(self, request):
        return ["status", "-created_at"]

    @admin.action(
        description=_("Record as sent (the money went back to the shopper)"),
        permissions=["change"],
    )
    def record_sent(self, request, queryset):
        done = 0
        for refund in queryset.order_by("pk"):
            try:
                services.record_refund_sent(refund=refund, actor=request.user)
            except (PaymentError, OrderError) as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext_lazy(
                    "%(count)d refund recorded as sent.",
                    "%(count)d refunds recorded as sent.",
                    "count",
                )
                % {"count": done},
                messages.SUCCESS,
            )
