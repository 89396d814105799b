"""The shopper's payment pages (start, choose a method, return), the sandbox gateway's hosted
page, and the providers' webhooks. Thin: selectors read, services decide."""

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
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


def is_mobile(request) -> bool:
    """A phone's browser, by MDN's advice: "Mobi" anywhere in the user agent (tablets get
    the computer's page, which works on them). Providers with a page for phones (Alipay's
    wap pay) send such shoppers there."""
    return "Mobi" in request.headers.get("User-Agent", "")


def _key(request) -> str:
    return request.GET.get("key") or request.POST.get("key") or ""


def _order(request, number):
    return selectors.order_for_payment(number=number, user=request.user, key=_key(request))


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
            mobile=is_mobile(request),
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
        get_provider(provider)
    except UnknownProvider as error:
        raise Http404 from error
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return JsonResponse({"error": "bad content length"}, status=400)
    if length > MAX_BODY:
        return JsonResponse({"error": "body too large"}, status=413)
    if request.content_type != "application/json":
        return JsonResponse({"error": "expected application/json"}, status=400)
    body = request.body
    if not body:
        return JsonResponse({"error": "empty body"}, status=400)
    if len(body) > MAX_BODY:
        return JsonResponse({"error": "body too large"}, status=413)
    try:
        result = services.receive_callback(
            provider_code=provider,
            body=body,
            headers=request.headers,
            keep_forgery=lambda: _forgery_under_cap(request),
        )
    except InvalidSignature:
        return JsonResponse({"error": "invalid signature"}, status=400)
    except InvalidPayload:
        return JsonResponse({"error": "unreadable payload"}, status=400)
    return JsonResponse({"received": len(result.deliveries)})


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


@csrf_exempt
@require_POST
@transaction.non_atomic_requests
def alipay_notify(request):
    """Alipay's asynchronous notification (a form POST). Answered "success" only once the
    event is stored and acted on and the transaction has committed; anything else
    (unsigned, forged, another app's, an amount that is not the payment's, unknown trade) is
    answered "failure" and changes nothing, and Alipay retries it for a while."""
    try:
        get_provider("alipay")
    except UnknownProvider as error:
        raise Http404 from error
    failure = HttpResponse("failure", content_type="text/plain")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return failure
    if length > MAX_BODY or request.content_type != "application/x-www-form-urlencoded":
        return failure
    try:
        result = services.receive_callback(
            provider_code="alipay",
            body=request.body,
            headers=request.headers,
            keep_forgery=lambda: _forgery_under_cap(request),
        )
    except (InvalidSignature, InvalidPayload):
        return failure
    # receive_callback commits each event's processing before it returns.
    if not services.callback_accepted(result):
        return failure
    return HttpResponse("success", content_type="text/plain")
