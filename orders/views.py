"""Checkout (details -> review -> place) and the shopper's order pages. Thin: forms parse,
services decide, selectors read."""

import contextlib
from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.forms import AddressForm, PasswordOnlyRegistrationForm
from accounts.models import LABEL_FIELDS, label_lines
from accounts.selectors import addresses_for_user
from cart import selectors as cart_selectors
from cart import services as cart_services
from catalog import cache as catalog_cache
from catalog.selectors import first_image
from orders import delivery, documents, page_cache, selectors, services
from orders.errors import (
    CheckoutChanged,
    EmptyCheckout,
    FlashUnavailable,
    OrderError,
    StockChanged,
)
from orders.forms import NEW_ADDRESS, CheckoutForm, PlaceOrderForm, ReturnRequestForm
from orders.models import FapiaoRequest
from orders.tracking import TrackingError, kuaidi100
from promotions import selectors as points_selectors

#: Where the checkout keeps what the shopper entered between its steps (server side).
SESSION_KEY = "checkout"
ADDRESS_FIELDS = ("full_name", "phone", "line1", "line2", "city", "region", "postcode", "country")


def _nothing_to_buy(request):
    messages.info(request, _("Your cart has nothing ticked to buy."))
    return redirect("cart:detail")


def _has_ticked_lines(cart, lines) -> bool:
    """Whether the cart has a line ticked to buy: read from `lines` when the page has read
    them (its summary), else with the cart (cart_selectors.cart_to_buy_from)."""
    if cart is None:
        return False
    if lines is None:
        return cart.ticked_line_id is not None
    return any(line.is_selected for line in lines)


def _destination(saved: dict | None):
    """Where the checkout's tax is judged: the address entered (with the buyer's VAT
    number) once there is one, else None (estimated for the seller's country)."""
    if not saved or not saved.get("address"):
        return None
    return services.destination_of(
        country=saved["address"]["country"],
        region=saved["address"].get("region", ""),
        vat_number=(saved.get("buyer") or {}).get("vat_number", ""),
    )


def _summary(request, cart, saved=None, lines=None):
    if lines is None:
        lines = cart_selectors.lines_for_page(cart=cart)
    cart_services.reconcile_lines(lines=lines)
    price = cart_selectors.price_lines(
        cart=cart,
        lines=lines,
        user=request.user,
        destination=_destination(saved),
        points=(saved or {}).get("points", 0),
    )
    priced = {line.key: line for line in price.lines}
    for line in lines:
        line.price = priced.get(line.pk)
        line.thumbnail = first_image(line, "small")
    return [line for line in lines if line.price], price


@require_http_methods(["GET", "POST"])
def checkout(request):
    # A GET reads the lines for its summary: whether one is ticked is read from them; a POST
    # reads it with the cart.
    if request.method == "GET":
        cart = cart_selectors.cart_for(user=request.user, session=request.session)
        lines = cart_selectors.lines_for_page(cart=cart) if cart else None
    else:
        cart = cart_selectors.cart_to_buy_from(user=request.user, session=request.session)
        lines = None
    if not _has_ticked_lines(cart, lines):
        return _nothing_to_buy(request)
    user = request.user
    saved = request.session.get(SESSION_KEY) or {}
    form, form_html, status = None, "", 200
    if request.method == "GET" and page_cache.sees_first_form(user=user, saved=saved, cart=cart):
        form_html = page_cache.first_form(
            request, build=partial(_unbound_form, saved, [], cart, user, balance=0)
        )
    else:
        addresses = list(addresses_for_user(user=user)) if user.is_authenticated else []
        balance = points_selectors.points_balance(user=user)
        if request.method == "POST" and AddressForm.UPDATE_COUNTRY in request.POST:
            form = CheckoutForm.for_new_country(
                request.POST, user=user, addresses=addresses, points_balance=balance
            )
        elif request.method == "POST":
            form = CheckoutForm(
                request.POST, user=user, addresses=addresses, points_balance=balance
            )
            if form.is_valid():
                return _save_details(request, cart, form)
            messages.error(request, _("Please correct the fields marked below."))
            status = 400
        else:
            form = _unbound_form(saved, addresses, cart, user, balance=balance)
    lines, price = _summary(request, cart, saved, lines)
    # The bodies of the checkout's steps are rendered with what they read, without the
    # context processors (the layout around them, kept, is what reads those): running them
    # cost each step's body more than its summary's line.
    body = render_to_string(
        "orders/_checkout_body.html",
        {
            "request": request,
            "user": user,
            "form": form,
            "form_html": form_html,
            "address_form": form.address_form if form else None,
            "lines": lines,
            "price": price,
            "cart": cart,
            "csrf_token": catalog_cache.CSRF_PLACEHOLDER,  # the page's one token (page_cache)
        },
    )
    return _checkout_page(request, "orders/checkout.html", "checkout-body", body, status=status)


def _checkout_page(request, template: str, hole: str, body: str, *, status: int = 200):
    """A checkout step's page: `body` in `template`'s kept layout (orders.page_cache)."""
    html = page_cache.page(request, template=template, hole=hole, body=body)
    return HttpResponse(html, status=status)


def _unbound_form(saved: dict, addresses, cart, user, *, balance: int) -> CheckoutForm:
    """The form as the shopper left it in this checkout (`saved`), or as it starts."""
    initial = _initial(saved, addresses, cart, user)
    typed = initial.get("address", NEW_ADDRESS) == NEW_ADDRESS
    return CheckoutForm(
        user=user,
        addresses=addresses,
        points_balance=balance,
        initial=initial,
        address_initial=dict(saved.get("address") or {}) if typed else None,
    )


def _initial(saved: dict, addresses, cart, user) -> dict:
    initial = {
        "shipping_method": saved.get("shipping_method_id"),
        "payment_method": saved.get("payment_method") or selectors.payment_methods()[0][0],
        "email": saved.get("email", ""),
        "coupon_code": cart.coupon_code,
        "points": saved.get("points") or None,
        **(saved.get("buyer") or {}),
        **{f"fapiao_{name}": value for name, value in (saved.get("fapiao") or {}).items()},
    }
    if addresses:
        initial["address"] = str(_preselected_address(saved, addresses, user))
    methods = selectors.active_shipping_methods()
    if len(methods) == 1:
        initial.setdefault("shipping_method", methods[0].pk)
    return initial


def _preselected_address(saved: dict, addresses, user):
    """The address checkout starts on: the book's default (first in `addresses`), unless
    this shopper already chose another or typed a new one in this checkout. Details typed
    as a guest before signing in never stand in for the book's default."""
    if saved.get("user_id") != user.pk:
        return addresses[0].pk
    if saved.get("address_id") in {address.pk for address in addresses}:
        return saved["address_id"]
    return NEW_ADDRESS if saved.get("address") else addresses[0].pk


def _save_details(request, cart, form):
    data = form.cleaned_data
    user = request.user
    address = form.chosen_address()
    if address is None:
        fields = {name: form.address_form.cleaned_data[name] for name in ADDRESS_FIELDS}
        if user.is_authenticated and data.get("save_address"):
            address = account_services.create_address(user=user, fields=fields)
    else:
        fields = {name: getattr(address, name) for name in ADDRESS_FIELDS}
    fields["country"] = str(fields["country"])
    code = data.get("coupon_code", "").strip()
    if code != cart.coupon_code:
        cart_services.set_coupon_code(cart=cart, code=code)
    request.session[SESSION_KEY] = {
        "user_id": user.pk,
        "email": data.get("email") or user.email,
        "address": fields,
        "address_id": address.pk if address else None,
        "shipping_method_id": data["shipping_method"].pk,
        "points": data.get("points") or 0,
        "payment_method": data["payment_method"],
        "buyer": {"company": data.get("company", ""), "vat_number": data.get("vat_number", "")},
        "fapiao": {
            "kind": data["fapiao_kind"],
            "title": data["fapiao_title"],
            "taxpayer_number": data["fapiao_taxpayer_number"],
        }
        if data.get("fapiao_kind")
        else None,
    }
    return redirect("orders:review")


def _details(request):
    saved = request.session.get(SESSION_KEY)
    if not saved or not saved.get("address") or not saved.get("shipping_method_id"):
        return None
    return saved


@require_GET
def review(request):
    cart = cart_selectors.cart_for(user=request.user, session=request.session)
    if cart is None:
        return _nothing_to_buy(request)
    saved = _details(request)
    if saved is None:
        return redirect("orders:checkout")
    method = selectors.active_shipping_method(pk=saved["shipping_method_id"])
    if method is None:
        messages.error(request, _("That shipping method is not available: choose another."))
        return redirect("orders:checkout")
    try:
        quote = services.quote_checkout(
            cart=cart,
            user=request.user,
            email=saved["email"],
            country=saved["address"]["country"],
            region=saved["address"].get("region", ""),
            vat_number=(saved.get("buyer") or {}).get("vat_number", ""),
            shipping_method=method,
            points=saved.get("points", 0),
        )
    except EmptyCheckout:  # nothing ticked (quote_checkout read the lines)
        return _nothing_to_buy(request)
    except (StockChanged, FlashUnavailable) as error:
        messages.error(request, error.message)
        return redirect("cart:detail")
    except OrderError as error:
        messages.error(request, error.message)
        return redirect("orders:checkout")
    if saved.get("points", 0) > quote.price.points_used:
        messages.info(
            request,
            _("This order takes %(points)s of your points: that is as much as it can take.")
            % {"points": quote.price.points_used},
        )
    address = services.ShippingAddress(**saved["address"])
    priced = {line.key: line for line in quote.price.lines}
    for line in quote.lines:
        line.price = priced[line.pk]
    body = render_to_string(
        "orders/_review_body.html",
        {
            "quote": quote,
            "price": quote.price,
            "lines": quote.lines,
            "address": address,
            "address_lines": _address_lines(address),
            "email": saved["email"],
            "payment_label": dict(selectors.payment_methods()).get(saved["payment_method"], ""),
            # PlaceOrderForm's two hidden fields, written in the template (rendering them
            # through the widgets' templates was a sixth of the review body's work).
            "idempotency_key": services.new_idempotency_key(),
            "coupon_code": cart.coupon_code,
            "buyer": saved.get("buyer") or {},
            "fapiao": saved.get("fapiao"),
            "fapiao_kinds": dict(FapiaoRequest.Kind.choices),
            "csrf_token": catalog_cache.CSRF_PLACEHOLDER,
        },  # without the context processors, as the checkout's body
    )
    return _checkout_page(request, "orders/review.html", "review-body", body)


def _address_lines(address) -> list[str]:
    """The address as printed on a label, in the shape of the address book's."""
    return label_lines(**{name: getattr(address, name) for name in LABEL_FIELDS})


@require_POST
def place(request):
    form = PlaceOrderForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Your order could not be placed: please review it again."))
        return redirect("orders:review")
    cart = cart_selectors.cart_for(user=request.user, session=request.session)
    saved = _details(request)
    if cart is None or saved is None:
        return redirect("cart:detail")
    try:
        order = services.place_order(
            cart=cart,
            user=request.user,
            email=saved["email"],
            address=services.ShippingAddress(**saved["address"]),
            shipping_method_id=saved["shipping_method_id"],
            payment_method=saved["payment_method"],
            idempotency_key=form.cleaned_data["idempotency_key"],
            fingerprint=form.cleaned_data["fingerprint"],
            buyer=services.Buyer(**(saved.get("buyer") or {})),
            fapiao=services.FapiaoChoice(**saved["fapiao"]) if saved.get("fapiao") else None,
            points=saved.get("points", 0),
        )
    except (EmptyCheckout, FlashUnavailable) as error:
        messages.error(request, error.message)
        return redirect("cart:detail")
    except CheckoutChanged as error:
        messages.warning(request, error.message)
        return redirect("orders:review")
    except OrderError as error:
        messages.error(request, error.message)
        return redirect("orders:checkout")
    return redirect(_after_placing(request, order))


#: The orders this browser placed lately: their page opens as the confirmation ("Thank
#: you...") rather than as a plain order page. The last few only: a session stays small.
PLACED_KEY = "orders.placed"
PLACED_KEPT = 5
#: The order whose guest asked for an account: its page says "check your inbox".
ACCOUNT_ASKED_KEY = "orders.account-asked"


def _after_placing(request, order) -> str:
    request.session[PLACED_KEY] = [
        *request.session.get(PLACED_KEY, [])[-(PLACED_KEPT - 1) :],
        order.number,
    ]
    try:
        # A guest carries the order's signed key on to the payment pages.
        return _order_url(request, order, "payments:start")
    except NoReverseMatch:  # without payments: the order page thanks the shopper itself
        return _order_url(request, order)


def _order_url(request, order, name: str = "orders:detail") -> str:
    url = reverse(name, kwargs={"number": order.number})
    if request.user.is_authenticated and order.user_id == request.user.pk:
        return url
    return f"{url}?{urlencode({'key': selectors.guest_key(number=order.number)})}"


# --- Order pages -----------------------------------------------------------------------


@login_required
@require_GET
def order_list(request):
    page = Paginator(selectors.orders_for_user(user=request.user), 20).get_page(
        request.GET.get("page")
    )
    links = [(reverse("orders:list"), _("Your orders"))]
    with contextlib.suppress(NoReverseMatch):
        links.append((reverse("catalog:wishlist"), _("Your wishlist")))
    return render(
        request,
        "orders/list.html",
        {"page": page, "orders": page.object_list, "account_links": links},
    )


def _key(request) -> str:
    return request.GET.get("key") or request.POST.get("key") or ""


@require_GET
def detail(request, number):
    """The order page; right after checkout, the confirmation (thank you, what was bought,
    where it goes, when it arrives, where the mail went, and an account for a guest)."""
    order = selectors.order_for_page(number=number, user=request.user, key=_key(request))
    return _render_detail(request, order, account_form=_account_form(request, order))


def _render_detail(request, order, *, account_form=None, status: int = 200):
    signed_in = request.user.is_authenticated and order.user_id == request.user.pk
    awaiting_payment = order.is_open and order.payment_status in ("unpaid", "partially_paid")
    to_ship = order.is_open and order.fulfilment_status in (
        order.FulfilmentStatus.UNFULFILLED,
        order.FulfilmentStatus.PARTIALLY_SHIPPED,
    )
    return render(
        request,
        "orders/detail.html",
        {
            "order": order,
            "key": _key(request),
            "just_placed": order.number in request.session.get(PLACED_KEY, ()),
            "estimate": delivery.estimate_for_order(order) if to_ship else None,
            "delivery_days": delivery.working_days(order.shipping_method),
            "to_ship": to_ship,
            "account_form": account_form,
            "account_asked": request.session.get(ACCOUNT_ASKED_KEY) == order.number,
            "account_url": _keep_key(request, order, "orders:create-account"),
            "login_url": reverse("accounts:login")
            + "?"
            + urlencode({"next": _order_url(request, order)}),
            "can_cancel": services.shopper_may_cancel(order, signed_in=signed_in),
            # On its way, or delivered as the carrier says and not confirmed yet.
            "can_confirm": order.status != order.Status.CANCELLED
            and any(
                shipment.delivered_at is None or shipment.confirm_by
                for shipment in order.shipment_list
            ),
            "can_return": order.status != order.Status.CANCELLED
            and any(line.quantity_returnable for line in order.line_list),
            # A bank transfer is paid from the shopper's bank: the page says how.
            "can_pay": awaiting_payment and order.payment_method != "manual" and _pay_url(order),
            "awaiting_payment": awaiting_payment,
            "pay_url": _pay_url(order),
            "cancel_url": _keep_key(request, order, "payments:cancel-order"),
            "invoice_url": _keep_key(request, order, "orders:invoice"),
            "return_url": _keep_key(request, order, "orders:request-return"),
            "invoice": documents.invoice_of(order),
            "pdf_url": _keep_key(request, order, "orders:invoice-pdf"),
            "credit_notes": [
                (
                    credit_note,
                    _credit_note_url(request, order, credit_note.number),
                    _credit_note_url(request, order, credit_note.number, pdf=True),
                )
                for credit_note in documents.credit_notes_of(order)
            ],
            # A missing one-to-one raises a subclass of AttributeError: None here.
            "fapiao": getattr(order, "fapiao", None),
        },
        status=status,
    )


def _account_form(request, order, data=None):
    """The "create an account" form a guest's order offers (None when there is nothing to
    offer: a signed-in visitor, an order of an account, or one anonymised)."""
    if request.user.is_authenticated or order.user_id or not order.email:
        return None
    return PasswordOnlyRegistrationForm(data, email=order.email, full_name=order.ship_name)


@require_POST
def create_account(request, number):
    """A guest's account from their order: the order's address and a password. The account
    follows the shop's registration (activated by the link mailed to that address); once it
    is, this order and the address's other guest orders join it (accounts.signals)."""
    order = selectors.order_for_page(number=number, user=request.user, key=_key(request))
    form = _account_form(request, order, request.POST)
    if form is None:
        return redirect(_keep_key(request, order, "orders:detail"))
    if account_selectors.email_has_account(order.email):
        messages.info(
            request,
            _(
                "There is already an account for %(email)s. Sign in with it: this order then "
                "appears in your order history."
            )
            % {"email": order.email},
        )
        return redirect(_keep_key(request, order, "orders:detail"))
    if not form.is_valid():
        return _render_detail(request, order, account_form=form, status=400)
    account_services.register_user(
        email=order.email,
        password=form.cleaned_data["password1"],
        full_name=order.ship_name,
        site_url=request.build_absolute_uri("/"),
    )
    request.session[ACCOUNT_ASKED_KEY] = order.number
    return redirect(_keep_key(request, order, "orders:detail"))


def _keep_key(request, order, name: str) -> str:
    """The URL of another page of the order, carrying the guest's key when there is one."""
    url = reverse(name, kwargs={"number": order.number})
    return f"{url}?{urlencode({'key': _key(request)})}" if _key(request) else url


def _credit_note_url(request, order, number: str, *, pdf: bool = False) -> str:
    name = "orders:credit-note-pdf" if pdf else "orders:credit-note"
    url = reverse(name, kwargs={"number": order.number, "credit_note": number})
    return f"{url}?{urlencode({'key': _key(request)})}" if _key(request) else url


def _pay_url(order) -> str:
    try:
        return reverse("payments:start", kwargs={"number": order.number})
    except NoReverseMatch:
        return ""


@require_GET
def invoice(request, number):
    """The printable invoice (a pro forma one until the order is paid)."""
    order = selectors.order_for_page(number=number, user=request.user, key=_key(request))
    context = documents.invoice_context(order)
    if context["invoice"]:
        context["pdf_url"] = _keep_key(request, order, "orders:invoice-pdf")
    context["order_url"] = _keep_key(request, order, "orders:detail")
    return render(request, "orders/invoice.html", context)


@require_GET
def invoice_pdf(request, number):
    """The invoice as a PDF download, once issued (404 before: there is no invoice yet)."""
    order = selectors.order_for_page(number=number, user=request.user, key=_key(request))
    if documents.invoice_of(order) is None:
        raise Http404
    response = HttpResponse(documents.invoice_pdf(order), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{documents.pdf_filename(order)}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def credit_note(request, number, credit_note):
    """The printable credit note of one refund (the order's shopper or its signed link)."""
    order = selectors.get_order_for_user(number=number, user=request.user, key=_key(request))
    document = documents.credit_note_of(order, number=credit_note)
    context = documents.credit_note_context(document)
    context["pdf_url"] = _credit_note_url(request, order, document.number, pdf=True)
    context["order_url"] = _keep_key(request, order, "orders:detail")
    return render(request, "orders/credit_note.html", context)


@require_GET
def credit_note_pdf(request, number, credit_note):
    order = selectors.get_order_for_user(number=number, user=request.user, key=_key(request))
    document = documents.credit_note_of(order, number=credit_note)
    response = HttpResponse(documents.credit_note_pdf(document), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{document.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


def _action(request, number, act, done: str):
    order = selectors.get_order_for_user(number=number, user=request.user, key=_key(request))
    try:
        act(order)
    except OrderError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect(_keep_key(request, order, "orders:detail"))


@require_POST
def confirm_receipt(request, number):
    return _action(
        request,
        number,
        lambda order: services.confirm_receipt(order=order, actor=request.user),
        _("Thank you for confirming that your order arrived."),
    )


@require_http_methods(["GET", "POST"])
def request_return(request, number):
    """Choose the items to send back, how many, and why."""
    order = selectors.get_order_for_user(number=number, user=request.user, key=_key(request))
    lines = selectors.returnable_lines(order=order)
    form = ReturnRequestForm(request.POST if request.method == "POST" else None, lines=lines)
    if request.method == "POST" and form.is_valid():
        try:
            services.request_return(
                order=order,
                quantities=form.quantities(),
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
                actor=request.user,
            )
        except OrderError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                _("Your return request is sent: we will tell you how to send the items back."),
            )
            return redirect(_keep_key(request, order, "orders:detail"))
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "orders/return.html",
        {
            "order": order,
            "form": form,
            "lines": lines,
            "key": _key(request),
            "order_url": _keep_key(request, order, "orders:detail"),
        },
        status=status,
    )


@csrf_exempt
@require_POST
def kuaidi100_push(request):
    """Kuaidi100's subscription push: verified with our salt before anything is read,
    answered {"result": true, "returnCode": "200"} only after the scans are committed; any
    other answer makes Kuaidi100 push again later."""
    param, sign = request.POST.get("param", ""), request.POST.get("sign", "")
    if not kuaidi100.push_is_genuine(param=param, sign=sign):
        return _kuaidi100_answer(ok=False, message="sign", status=400)
    try:
        services.record_kuaidi100_push(param=param)
    except TrackingError:
        return _kuaidi100_answer(ok=False, message="param", status=400)
    return _kuaidi100_answer(ok=True, message="success")


def _kuaidi100_answer(*, ok: bool, message: str, status: int = 200) -> JsonResponse:
    return JsonResponse(
        {"result": ok, "returnCode": "200" if ok else "500", "message": message}, status=status
    )
