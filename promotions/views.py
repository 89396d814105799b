"""The shopper's points page. Thin: selectors read, promotions.points does the arithmetic."""

import contextlib

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from promotions import points, selectors

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
