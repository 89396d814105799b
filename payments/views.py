"""The shopper's payment pages (start, choose a method, return), the sandbox gateway's hosted
page, and the providers' webhooks. Thin: selectors read, services decide."""

from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import resolve, reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from django_ratelimit.core import is_ratelimited

from accounts.client_ip import client_ip
from orders.errors import OrderError
from orders.models import OrderStatus
from payments import gateway, selectors, services
from payments.errors import (
    InvalidPayload,
    InvalidSignature,
    NotPayable,
    PaymentError,
    ProviderUnavailable,
    UnknownProvider,
)
from payments.forms import ChooseMethodForm, SandboxForm
from payments.models import PaymentState
from payments.providers import get_provider
from payments.providers.base import Browser


def _key(request) -> str:
    return request.GET.get("key") or request.POST.get("key") or ""


def _order(request, number):
    return selectors.order_for_payment(number=number, user=request.user, key=_key(request))


def _browser(request) -> Browser:
    """The shopper's address and whether their browser is a phone's: Chromium says so in
    its client hint, and MDN's rule for the rest is "Mobi" anywhere in the User-Agent.
    WeChat's own browser is no phone browser here: it refuses H5 pay (WeChat wants JSAPI
    pay there), and a QR code can be long-pressed."""
    agent = request.headers.get("User-Agent", "")
    phone = request.headers.get("Sec-CH-UA-Mobile") == "?1" or "Mobi" in agent
    return Browser(ip=client_ip(request), phone=phone and "MicroMessenger" not in agent)


@require_http_methods(["GET", "POST"])
def start(request, number):
    """GET (the checkout's redirect, "try again"): pay with the order's method. POST (the
    method chooser): pay with the method posted."""
    order = _order(request, number)
    if not services.awaits_payment(order):
        return redirect(selectors.url_for("payments:return", order))
    if request.method == "POST":
        form = ChooseMethodForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose a payment method."))
            return redirect(selectors.url_for("payments:choose", order))
        code = form.cleaned_data["method"]
    else:
        code = order.payment_method
    return_url = request.build_absolute_uri(selectors.url_for("payments:return", order))
    cancel_url = request.build_absolute_uri(
        selectors.url_for("payments:return", order, abandoned=1)
    )
    try:
        _payment, result = services.start_payment(
            order=order,
            provider_code=code,
            return_url=return_url,
            cancel_url=cancel_url,
            browser=_browser(request),
        )
    except (UnknownProvider, ProviderUnavailable) as error:
        messages.error(request, error.message)
        return redirect(selectors.url_for("payments:choose", order))
    except NotPayable:
        return redirect(selectors.url_for("payments:return", order))
    if result.redirect_url:
        return redirect(result.redirect_url)
    # Paid by hand (bank transfer): the order's confirmation says how, with the order.
    return redirect(selectors.url_for("orders:detail", order))


@require_http_methods(["GET"])
def choose(request, number):
    order = _order(request, number)
    if not services.awaits_payment(order):
        return redirect(selectors.url_for("payments:return", order))
    form = ChooseMethodForm(initial={"method": order.payment_method})
    return render(
        request,
        "payments/choose.html",
        {"order": order, "form": form, "key": _key(request)},
    )


#: The pending page reloads every 2 s for up to 2 minutes (callbacks take seconds; a
#: late one is still shown by "Check again").
REFRESH_SECONDS = 2
MAX_REFRESHES = 60


def _outcome(order, payment, *, abandoned: bool) -> str:
    if order.status == OrderStatus.CANCELLED:
        return "cancelled"
    if not services.awaits_payment(order):
        return "paid"
    if payment is None:
        return "failed"
    if payment.state in (PaymentState.FAILED, PaymentState.CANCELLED):
        return "failed"
    if payment.state == PaymentState.PENDING and abandoned:
        return "failed"
    if payment.provider == "manual":
        return "manual"
    return "pending"


@require_http_methods(["GET"])
def return_page(request, number):
    """Where the gateway sends the shopper back: paid, failed (try again or choose another
    method) or pending (the page reloads every 2 s, no JavaScript, until the callback)."""
    order = _order(request, number)
    if request.GET.get("sign"):
        # A signed return (Alipay's): ask the provider now rather than wait for its callback.
        services.confirm_return(payment=selectors.latest_payment(order=order), params=request.GET)
        order.refresh_from_db()
    payment = selectors.latest_payment(order=order)
    outcome = _outcome(order, payment, abandoned=bool(request.GET.get("abandoned")))
    try:
        waited = max(0, int(request.GET.get("wait", "0")))
    except ValueError:
        waited = 0
    refresh_url = selectors.url_for("payments:return", order, wait=waited + 1)
    response = render(
        request,
        "payments/return.html",
        {
            "order": order,
            "payment": payment,
            "outcome": outcome,
            "still_waiting": waited >= MAX_REFRESHES,
            "refresh_url": refresh_url,
            "order_url": selectors.url_for("orders:detail", order),
            "retry_url": selectors.url_for("payments:start", order),
            "choose_url": selectors.url_for("payments:choose", order),
        },
    )
    if outcome == "pending" and waited < MAX_REFRESHES:
        # An HTTP Refresh header, not <meta http-equiv>: the same reload without JavaScript.
        # Capped, so a page left open does not reload for ever; then "Check again".
        response["Refresh"] = f"{REFRESH_SECONDS}; url={refresh_url}"
    return response


@require_http_methods(["GET"])
def status(request, number):
    """The payment's outcome as JSON, for pages that wait for it (the QR code page polls
    it): "pending" while the shopper may still pay, and where to go next."""
    order = _order(request, number)
    payment = selectors.latest_payment(order=order)
    outcome = _outcome(order, payment, abandoned=False)
    url = selectors.url_for("orders:detail" if outcome == "paid" else "payments:return", order)
    return JsonResponse({"outcome": outcome, "next": url})


#: How often the QR code page asks whether the order is paid, in milliseconds, and for how
#: long (a code_url lives as long as the order waits; then "I have paid — check" remains).
POLL_MS = 2000
POLL_FOR_MS = 30 * 60 * 1000


@require_http_methods(["GET"])
def wechatpay_page(request, number):
    """WeChat Pay's QR code (Native pay) with the amount and the order: the shopper scans
    it with WeChat on their phone. The page polls the status and moves on to the order once
    paid; without JavaScript "I have paid — check" reloads it, which does the same."""
    order = _order(request, number)
    payment = selectors.latest_payment(order=order)
    outcome = _outcome(order, payment, abandoned=False)
    if outcome == "paid":
        return redirect(selectors.url_for("orders:detail", order))
    if outcome != "pending" or payment.provider != "wechatpay" or not payment.qr_code:
        return redirect(selectors.url_for("payments:return", order))
    check_url = selectors.url_for("payments:wechatpay", order)
    return render(
        request,
        "payments/wechatpay.html",
        {
            "order": order,
            "payment": payment,
            "qr_svg": selectors.qr_svg(payment.qr_code, title=_("QR code to pay with WeChat")),
            "check_url": check_url,
            "status_url": selectors.url_for("payments:status", order),
            "choose_url": selectors.url_for("payments:choose", order),
            "order_url": selectors.url_for("orders:detail", order),
            "poll_ms": POLL_MS,
            "poll_for_ms": POLL_FOR_MS,
            "demo_cashier_url": _demo_cashier_url(payment, back=check_url),
        },
    )


def _demo_cashier_url(payment, *, back: str) -> str:
    """In the wallets' demo the QR code's target is the demo cashier: a link to it in the
    page's language, coming back here once paid (a click stands for a phone's scan)."""
    if not settings.PAYMENT_WALLETS_DEMO:
        return ""
    with translation.override(settings.LANGUAGE_CODE):  # the code_url's path is English
        cashier = resolve(urlsplit(payment.qr_code).path)
    path = reverse(cashier.view_name, kwargs=cashier.kwargs)
    return f"{path}?{urlencode({'return': back})}"


@require_http_methods(["GET", "POST"])
def sandbox_page(request, token):
    """The sandbox gateway's hosted page: pay, decline, or abandon."""
    payment = selectors.payment_for_sandbox(token=token)
    order = payment.order
    return_url = selectors.url_for("payments:return", order)
    is_open = payment.state == PaymentState.PENDING
    if request.method == "POST":
        form = SandboxForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose pay, decline or cancel."))
            return redirect("payments:sandbox", token=token)
        action = form.cleaned_data["action"]
        if action == "abandon":
            return redirect(selectors.url_for("payments:return", order, abandoned=1))
        if is_open:
            gateway.send_callback(
                payment=payment,
                outcome=action,
                times=2 if form.cleaned_data["twice"] else 1,
                late=form.cleaned_data["late"],
            )
        return redirect(return_url)
    return render(
        request,
        "payments/sandbox.html",
        {"payment": payment, "order": order, "is_open": is_open, "return_url": return_url},
    )


#: Larger bodies are refused before being read (services.MAX_CALLBACK_BYTES).
MAX_BODY = services.MAX_CALLBACK_BYTES


def _forgery_under_cap(request) -> bool:
    """Count an unsigned callback from this client; True while under the hourly cap, so it
    is kept for the merchant to see. A forger cannot fill the table, and with the cache down
    none is kept (signed callbacks are never counted: they always go through)."""
    return not is_ratelimited(
        request,
        group="payments:unsigned-callbacks",
        key=lambda group, request: client_ip(request),
        rate=f"{settings.PAYMENT_UNSIGNED_CALLBACKS_PER_HOUR}/h",
        increment=True,
    )


@csrf_exempt
@require_POST
def webhook(request, provider):
    """A provider's server-to-server callback. Answers 400 to anything unsigned, forged or
    unreadable (nothing changes), 413 to an oversized body, 200 once stored and processed
    (also for a duplicate, or a callback flagged for the merchant: the provider must not
    keep retrying those)."""
    try:
        receiver = get_provider(provider)
    except UnknownProvider as error:
        raise Http404 from error
    answer = receiver.callback_response
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return answer(status=400, error="bad content length")
    if length > MAX_BODY:
        return answer(status=413, error="body too large")
    if request.content_type != receiver.callback_content_type:
        return answer(status=400, error=f"expected {receiver.callback_content_type}")
    body = request.body
    if not body:
        return answer(status=400, error="empty body")
    if len(body) > MAX_BODY:
        return answer(status=413, error="body too large")
    try:
        result = services.receive_callback(
            provider_code=provider,
            body=body,
            headers=request.headers,
            keep_forgery=lambda: _forgery_under_cap(request),
        )
    except InvalidSignature:
        return answer(status=400, error="invalid signature")
    except InvalidPayload:
        return answer(status=400, error="unreadable payload")
    return answer(
        status=200, received=len(result.deliveries), accepted=services.callback_accepted(result)
    )


@require_POST
def cancel_order(request, number):
    """The shopper cancels their order before it ships; what they paid goes back."""
    order = _order(request, number)
    try:
        services.cancel_order(order=order, actor=request.user, by_shopper=True)
    except (PaymentError, OrderError) as error:
        messages.error(request, error.message)
    else:
        if order.total_paid:
            messages.success(
                request, _("Your order is cancelled. What you paid is on its way back to you.")
            )
        else:
            messages.success(request, _("Your order is cancelled."))
    return redirect(selectors.url_for("orders:detail", order))
