"""The shopper's points page and the flash sales page. Thin: selectors read,
promotions.points and promotions.flash do the arithmetic."""

import contextlib

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from catalog.selectors import first_image
from promotions import flash, points, selectors

#: Entries per page of the history: a year of weekly orders fits on one.
HISTORY_PAGE = 50


def _account_links() -> list[tuple[str, str]]:
    """The account menu's links to apps above this one (orders, wishlist), by URL name."""
    links = []
    for name, label in (
        ("orders:list", _("Your orders")),
        ("catalog:wishlist", _("Your wishlist")),
    ):
        with contextlib.suppress(NoReverseMatch):
            links.append((reverse(name), label))
    return links


@login_required
@require_GET
def account_points(request):
    """Balance, what it is worth, what expires when, and the history (4 queries)."""
    lots = points.open_lots(selectors.points_movements(user=request.user))
    balance = sum(lot.remaining for lot in lots)
    page = Paginator(selectors.points_history(user=request.user), HISTORY_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "promotions/points.html",
        {
            "balance": balance,
            "worth": points.worth(balance, value_per_point=settings.POINTS_VALUE),
            "expiring": [lot for lot in lots if lot.expires_at],
            "page": page,
            "entries": page.object_list,
            "max_share": settings.POINTS_MAX_SHARE,
            "per_unit": settings.POINTS_PER_UNIT,
            "redeemable": settings.POINTS_VALUE > 0,
            "account_links": _account_links(),
        },
    )


@require_GET
def flash_sales(request):
    """Flash sales running and to come (1 query; not cached: what is left moves by the
    second). Times are rendered by the server; static/js/flash.js counts down."""
    now = timezone.now()
    cards = [
        flash.card(
            flash.sale_of(row),
            left=row.remaining,
            now=now,
            product_name=row.variant.product.name,
            product_url=f"{row.variant.product.get_absolute_url()}?variant={row.variant_id}",
            image=first_image(row, "card"),
        )
        for row in selectors.flash_sales_for_page(now=now)
    ]
    return render(
        request,
        "promotions/flash_list.html",
        {
            "now": now,
            "running": [c for c in cards if c.state != flash.UPCOMING],
            "upcoming": [c for c in cards if c.state == flash.UPCOMING],
        },
    )
