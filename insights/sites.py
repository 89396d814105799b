"""The shop's admin site: Django's own, with the merchant's dashboard as its index (the app
list stays below it). Registered as the default site by insights.apps.ShopAdminConfig, so
every app's `admin.site.register` lands here unchanged."""

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from insights import charts, selectors
from insights.forms import TopSellersForm
from insights.periods import today
from orders.models import TRANSFER_DUE_SOON


@dataclass(frozen=True)
class ToDo:
    label: str
    count: int
    url: str
    #: The permission the list needs ("orders.view_order").
    permission: str


def _changelist(model: str, **query) -> tuple[str, str]:
    app, name = model.split("_", 1)
    url = f"{reverse(f'admin:{model}_changelist')}?{urlencode(query)}"
    return url, f"{app}.view_{name}"


def to_do_list(counts: selectors.ToDoCounts, *, user) -> list[ToDo]:
    """Each count with the admin list that shows exactly its rows, for the lists `user`
    may open (a change permission includes viewing, as in the admin)."""
    items = [
        (_("Orders to ship"), counts.orders_to_ship, _changelist("orders_order", todo="ship")),
        (
            _("Returns to handle"),
            counts.returns_to_handle,
            _changelist("orders_returnrequest", todo="handle"),
        ),
        (
            _("Refunds due"),
            counts.refunds_due,
            _changelist("payments_refund", status__exact="due"),
        ),
        (
            _("Payments flagged for review"),
            counts.payments_flagged,
            _changelist("payments_payment", flagged__exact="1"),
        ),
        (
            _("Reviews awaiting moderation"),
            counts.reviews_pending,
            _changelist("reviews_review", status__exact="pending"),
        ),
        (
            _("Variants low on stock"),
            counts.variants_low,
            _changelist("catalog_variant", level="low"),
        ),
        (
            _("Bank transfers due within 2 days"),
            counts.transfers_due,
            _changelist("orders_order", todo="transfer_due"),
        ),
        (
            _("Orders with a delivery problem"),
            counts.delivery_problems,
            _changelist("orders_order", todo="tracking"),
        ),
    ]
    return [
        ToDo(label, count, url, permission)
        for label, count, (url, permission) in items
        if may_view(user, permission)
    ]


class ShopAdminSite(admin.AdminSite):
    index_template = "insights/dashboard.html"

    def index(self, request, extra_context=None):
        now = timezone.now()
        context = {
            "to_do": to_do_list(
                selectors.to_do_counts(transfers_due_before=now + TRANSFER_DUE_SOON),
                user=request.user,
            ),
            "time_zone": settings.TIME_ZONE,
        }
        # The shop's revenue is for those who may see its orders, not for every member of
        # staff (a review moderator, a stock clerk).
        if may_view(request.user, "orders.view_order"):
            context |= _sales(request, day=today(now))
        return super().index(request, extra_context=context | (extra_context or {}))


def may_view(user, permission: str) -> bool:
    """A change permission includes viewing, as in the admin."""
    return user.has_perm(permission) or user.has_perm(permission.replace(".view_", ".change_"))


def _sales(request, *, day: date) -> dict:
    form = TopSellersForm(request.GET or None, today=day)
    overview = selectors.sales_overview(today=day)
    period = form.period()
    return {
        "overview": overview,
        "revenue_chart": charts.chart([(day, figures.revenue) for day, figures in overview.chart]),
        "orders_chart": charts.chart(
            [(day, figures.orders) for day, figures in overview.chart], whole=True
        ),
        "top_form": form,
        "top_period": period,
        "top": selectors.top_sellers(period),
    }
