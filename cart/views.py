"""The cart page and its actions. Every action works as a plain form post (redirect back);
with JavaScript the page posts the same forms with fetch and swaps in the returned cart.
"""

from django.contrib import messages
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from cart import page_cache, selectors, services
from cart.forms import AddToCartForm, CouponForm, FlashBuyForm, posted_changes
from cart.models import Cart
from catalog import cache as catalog_cache
from catalog import services as catalog_services
from catalog.selectors import first_image
from promotions import flash
from promotions.errors import FlashRejected, flash_message
from promotions.pricing import format_money


def _wants_fragment(request) -> bool:
    """The cart page's script asks for the cart's HTML instead of a redirect."""
    # META, not request.headers: that one is built from every header on first use.
    return request.META.get("HTTP_X_REQUESTED_WITH") == "fetch"


def _wants_mini_cart(request) -> bool:
    """The product page's script (mini-cart.js) asks for JSON: the mini cart's HTML and the
    header's count, instead of a redirect."""
    return "application/json" in request.META.get("HTTP_ACCEPT", "")


def _cart(request) -> Cart | None:
    return selectors.cart_for(user=request.user, session=request.session)


def _add(request, *, variant, quantity: int) -> str:
    """Add to the visitor's cart, made on their first add; returns what they are told."""
    if request.user.is_authenticated:
        cart = services.cart_of(user=request.user)
    elif (cart := _cart(request)) is None:
        cart_id, notice = services.add_to_new_guest_cart(variant=variant, quantity=quantity)
        request.session[selectors.CART_SESSION_KEY] = cart_id
        return notice
    return services.add_line(cart=cart, variant=variant, quantity=quantity)


def _price(request, cart, lines):
    """The cart's lines priced for this shopper, with the free-shipping threshold."""
    return selectors.price_lines(
        cart=cart,
        lines=lines,
        user=request.user,
        free_shipping_from=selectors.free_shipping_threshold(),
    )


def _page_context(request, cart, *, errors=None, entered=None):
    lines = selectors.lines_for_page(cart=cart) if cart else []
    for notice in services.reconcile_lines(lines=lines):
        messages.warning(request, notice)
    price = _price(request, cart, lines) if cart else None
    priced = {line.key: line for line in price.lines} if price else {}
    errors = errors or {}
    for line in lines:
        line.thumbnail = first_image(line, "small")
        line.price = priced.get(line.pk)
        # Worked out once here rather than in the template's loop (each a URL reversed).
        line.options_label = line.variant.options_label
        line.url = line.variant.product.get_absolute_url()
        if line.variant.option_values.all():  # the option chosen, shown on its page
            line.url += f"?variant={line.variant_id}"
        line.remove_url = reverse("cart:remove", kwargs={"line_id": line.pk})
        line.error = errors.get(line.pk, "")
        line.entered = (entered or {}).get(f"quantity-{line.pk}", line.quantity)
    count = sum(line.quantity for line in lines)
    # The header's count on this page comes from the lines just read, not another query.
    request.cart_item_count = count
    blocked = [line for line in lines if line.is_selected and line.problem]
    return {
        "cart": cart,
        "lines": lines,
        "price": price,
        "count": count,
        "selected_count": sum(1 for line in lines if line.is_selected and not line.problem),
        "blocked": blocked,
        "coupon_form": CouponForm(initial={"code": cart.coupon_code if cart else ""}),
    }


def _body(
    request, cart, *, errors=None, entered=None, states=None
) -> tuple[page_cache.Body, page_cache.Key | None]:
    """The cart's body for this visitor, its CSRF tokens still catalog.cache's placeholder:
    kept per state of the cart (cart.page_cache), or rendered when the cart needs telling
    something, has errors to show or is not kept; and its key, when it is kept. `states`:
    the cart's lines' states, when read with the cart."""
    key = None
    if cart is not None and not errors and not entered:
        key = page_cache.key_for(request, cart=cart, states=states)
        if key is not None and key.body is not None:
            request.cart_item_count = key.body.count  # the header's count, without a query
            return key.body, key
    context = _page_context(request, cart, errors=errors, entered=entered)
    lines = context["lines"]
    body = page_cache.Body(
        html=render_to_string(
            "cart/_cart_body.html",
            {**context, "csrf_token": catalog_cache.CSRF_PLACEHOLDER},
            request=request,
        ).encode(),
        count=context["count"],
        product_ids=tuple(sorted({line.variant.product_id for line in lines})),
    )
    if key is not None:
        page_cache.keep(key, body, lines=lines)
    return body, key


def _respond(request, cart, *, status=200, errors=None, entered=None, states=None):
    body, key = _body(request, cart, errors=errors, entered=entered, states=states)
    if _wants_fragment(request):
        html = render_to_string("shop/_messages.html", request=request) + body.html.decode()
        html = html.replace(catalog_cache.CSRF_PLACEHOLDER, get_token(request))
        return JsonResponse({"html": html, "count": body.count}, status=status)
    return HttpResponse(page_cache.page(request, body=body, key=key), status=status)


def safe_next(request) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


def _back(request):
    if _wants_fragment(request):
        return _respond(request, _cart(request))
    # Not redirect(): given a path, it first tries it as a URL's name (a failed reverse()
    # and its exception, a twentieth of an add).
    return HttpResponseRedirect(safe_next(request) or reverse("cart:detail"))


@require_POST
def buy_flash(request, sale_id: int):
    """Buy now (立即抢购) in a running flash sale: one Lua call holds the unit for the
    signed-in shopper, then the item alone goes to checkout. Sold out, over the limit, not
    started or ended: answered at once with 409 and a page that says so (no pricing, no
    database write, no session write: a sold-out answer costs the session read and one Lua
    call). A guest is sent to sign in and back; bad input is a 400 page."""
    sale = flash.sale_by_pk(sale_id)
    if sale is None:  # unknown, switched off, or over (the schedule keeps sales not over)
        raise Http404
    back = safe_next(request) or reverse("promotions:flash")
    # "Sold out" is everyone's answer once every unit is taken (but a holder's, who may press
    # again): asked before the shopper is looked up, with the session's user id alone, so the
    # crowd of a sale's first second costs one Redis call each and no query. Served by
    # shop.wsgi, most of that crowd is answered before Django (cart/flash_gate.py): this
    # asks for what the gate left to Django (a session only in the database, say).
    if flash.sold_out_to(sale=sale, user_id=request.session.get(SESSION_KEY, "")):
        message = flash_message(FlashRejected.SOLD_OUT, sale=sale)
        return _flash_refused(request, sale, message=message, back=back, status=409)
    if not request.user.is_authenticated:
        return redirect_to_login(back)
    form = FlashBuyForm(request.POST)
    if not form.is_valid():
        message = next(iter(form.errors.values()))[0]
        return _flash_refused(request, sale, message=message, back=back, status=400)
    try:
        held = flash.hold(sale=sale, user=request.user, quantity=form.cleaned_data["quantity"])
    except FlashRejected as rejected:
        return _flash_refused(request, sale, message=rejected.message, back=back, status=409)
    try:
        services.put_flash_line(
            user=request.user,
            variant=selectors.variant_to_buy(pk=sale.variant_id),
            quantity=held.quantity,
        )
    except services.CartError as error:  # the variant is no longer sold, or out of stock
        flash.give_up_hold(sale=sale, user=request.user)
        return _flash_refused(request, sale, message=error.message, back=back, status=409)
    if held.until is not None:
        messages.success(
            request,
            _("“%(name)s” is yours at %(price)s until %(time)s: place your order before then.")
            % {
                "name": sale.name,
                "price": format_money(sale.price),
                "time": formats.time_format(timezone.localtime(held.until), "TIME_FORMAT"),
            },
        )
    return redirect("orders:checkout")


def _flash_refused(request, sale, *, message: str, back: str, status: int):
    return render(
        request,
        "promotions/flash_refused.html",
        {"sale": sale, "message": message, "back": back},
        status=status,
    )


@require_GET
def detail(request):
    cart, states = page_cache.cart_with_states(user=request.user, session=request.session)
    return _respond(request, cart, states=states)


@require_POST
def add(request):
    form = AddToCartForm(request.POST)
    variant, notice, errors = None, "", []
    if not form.is_valid():
        errors = [field_errors[0] for field_errors in form.errors.values()]
    else:
        variant = form.cleaned_data["variant"]
        try:
            notice = _add(request, variant=variant, quantity=form.cleaned_data["quantity"])
        except services.CartError as error:
            errors = [error.message]
        else:
            if request.user.is_authenticated and request.POST.get("from_wishlist"):
                catalog_services.remove_from_wishlist(
                    user=request.user, product_id=variant.product_id
                )
    if _wants_mini_cart(request):
        return _mini_cart(request, variant=variant, notice=notice, errors=errors)
    for error in errors:
        messages.error(request, error)
    if notice:
        messages.success(request, notice)
    return _back(request)


def _mini_cart(request, *, variant, notice: str, errors: list[str]) -> JsonResponse:
    """The mini cart after an add: what was added (or why nothing was), the subtotal and the
    way on. 400 when nothing was added; the page keeps the shopper's choice either way."""
    cart = _cart(request)
    lines = selectors.lines_for_page(cart=cart) if cart else []
    price = _price(request, cart, lines) if lines else None
    added = next((line for line in lines if variant and line.variant_id == variant.pk), None)
    if added is not None:
        added.thumbnail = first_image(added, "small")
    count = sum(line.quantity for line in lines)
    html = render_to_string(
        "cart/_mini_cart.html",
        {"added": added, "price": price, "notice": notice, "errors": errors, "count": count},
        request=request,
    )
    return JsonResponse(
        {"html": html, "count": count, "added": not errors}, status=400 if errors else 200
    )


@require_POST
def update(request):
    cart = _cart(request)
    if cart is None:
        return _back(request)
    try:
        services.update_lines(cart=cart, changes=posted_changes(request.POST))
    except services.InvalidQuantities as error:
        messages.error(request, error.message)
        return _respond(request, cart, status=400, errors=error.errors, entered=request.POST)
    messages.success(request, _("Your cart is up to date."))
    return _back(request)


@require_POST
def remove(request, line_id):
    cart = _cart(request)
    if cart and services.remove_line(cart=cart, line_id=line_id):
        messages.success(request, _("The item was removed from your cart."))
    return _back(request)


@require_POST
def empty(request):
    cart = _cart(request)
    if cart:
        services.empty_cart(cart=cart)
        messages.success(request, _("Your cart is empty now."))
    return _back(request)


@require_POST
def coupon(request):
    cart = _cart(request)
    form = CouponForm(request.POST)
    if cart is None:
        messages.error(request, _("Add something to your cart before entering a coupon."))
    elif not form.is_valid():
        messages.error(request, form.errors["code"][0])
    else:
        services.set_coupon_code(cart=cart, code=form.cleaned_data["code"])
    return _back(request)


@require_POST
def remove_coupon(request):
    cart = _cart(request)
    if cart:
        services.set_coupon_code(cart=cart, code="")
        messages.success(request, _("The coupon was removed."))
    return _back(request)
