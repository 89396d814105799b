"""The group page (shared by link) and the two buttons: start a group, join a group. Both
buttons put the item in the cart at the group price and go on to the usual checkout."""

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from groupbuys import selectors, services
from groupbuys.errors import GroupBuyError
from groupbuys.forms import ChooseVariantForm
from groupbuys.models import GroupOffer, GroupState, MemberState


def _group_or_404(code: str):
    group = selectors.group_for_page(code=code)
    if group is None:
        raise Http404(_("No such group: check the link."))
    return group


@require_GET
def group_detail(request, code):
    group = _group_or_404(code)
    now = timezone.now()
    offer = group.offer
    members = [m for m in group.memberships.all() if m.state in (MemberState.PAID,)] + [
        m
        for m in group.memberships.all()
        if m.state == MemberState.RESERVED and m.reserved_until > now
    ]
    paid = sum(1 for m in members if m.state == MemberState.PAID)
    is_open = group.state == GroupState.OPEN and group.deadline > now
    mine = next(
        (m for m in group.memberships.all() if m.user_id == request.user.pk),
        None,
    )
    variants = list(offer.variants.all()) or list(offer.product.variants.filter(is_active=True))
    seconds_left = max(int((group.deadline - now).total_seconds()), 0) if is_open else 0
    return render(
        request,
        "groupbuys/group.html",
        {
            "group": group,
            "offer": offer,
            "product": offer.product,
            "members": [
                {"name": selectors.mask_name(m.user), "paid": m.state == MemberState.PAID}
                for m in members
            ],
            "paid": paid,
            "seats_left": max(offer.group_size - len(members), 0),
            "is_open": is_open,
            "mine": mine,
            "seat_held": mine is not None and mine.reserved_until > now,
            "variants": variants,
            "seconds_left": seconds_left,
            "hours_left": seconds_left // 3600,
            "minutes_left": seconds_left % 3600 // 60,
            "share_url": request.build_absolute_uri(group.get_absolute_url()),
        },
    )


def _sign_in_first(request, next_url):
    messages.info(request, _("Sign in to buy together with others."))
    return redirect_to_login(next_url)


@require_POST
def start_group(request, offer_id):
    offer = GroupOffer.objects.filter(pk=offer_id).select_related("product").first()
    if offer is None:
        raise Http404(_("No such group offer."))
    back = offer.product.get_absolute_url()
    if not request.user.is_authenticated:
        return _sign_in_first(request, back)
    form = ChooseVariantForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["variant"][0])
        return redirect(back)
    try:
        member = services.start_group(
            offer=offer, variant=form.cleaned_data["variant"], user=request.user
        )
    except GroupBuyError as error:
        messages.error(request, error.message)
        return redirect(back)
    link = request.build_absolute_uri(member.group.get_absolute_url())
    messages.success(
        request,
        _("Your group is started: pay now to hold your seat, then share its link: %(link)s")
        % {"link": link},
    )
    return redirect("orders:checkout")


@require_POST
def join_group(request, code):
    group = _group_or_404(code)
    if not request.user.is_authenticated:
        return _sign_in_first(request, group.get_absolute_url())
    form = ChooseVariantForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["variant"][0])
        return redirect(group.get_absolute_url())
    try:
        services.join_group(group=group, variant=form.cleaned_data["variant"], user=request.user)
    except GroupBuyError as error:
        messages.error(request, error.message)
        return redirect(group.get_absolute_url())
    messages.success(request, _("You joined the group: pay now to hold your seat."))
    return redirect("orders:checkout")
