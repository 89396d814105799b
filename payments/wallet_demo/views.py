"""The demo wallets' pages and APIs (development only: 404 unless PAYMENT_WALLETS_DEMO and
DEBUG are both on). Thin: payments.wallet_demo.gateways plays the wallets."""

import json
import urllib.parse
from decimal import Decimal
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from payments.wallet_demo import WECHATPAY_API_PATH, gateways
from shop import money


def demo_only(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not (settings.PAYMENT_WALLETS_DEMO and settings.DEBUG):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


def _language_of(url: str) -> str:
    """The shop's language of a URL of ours (its /zh-hans/ prefix), else the default."""
    return translation.get_language_from_path(urllib.parse.urlsplit(url).path) or (
        settings.LANGUAGE_CODE
    )


def _safe(url: str, request) -> bool:
    shop_host = urllib.parse.urlsplit(settings.SHOP_URL).netloc
    return bool(url) and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host(), shop_host}
    )


# --- Alipay ---------------------------------------------------------------------------------


@csrf_exempt
@demo_only
@require_GET
def alipay_gateway(request):
    """Alipay's gateway.do: the shopper's page or wap pay opens the cashier; the SDK's
    server calls (query, refund, close) are answered as Alipay answers them."""
    params = request.GET.dict()
    if params.get("method") not in ("alipay.trade.page.pay", "alipay.trade.wap.pay"):
        return HttpResponse(gateways.alipay_api(params), content_type="application/json")
    if not gateways.alipay_request_valid(params):
        return _cashier(request, "alipay", error=_("The request's signature is not valid."))
    trade = gateways.alipay_open(params)
    with translation.override(_language_of(trade["return_url"])):
        return _cashier(
            request,
            "alipay",
            trade=trade,
            amount=Decimal(trade["total_amount"]),
            action=reverse("payments:demo-alipay-pay"),
            request_query=request.META.get("QUERY_STRING", ""),
            back_url=trade["quit_url"],
            returns_to=trade["return_url"],
        )


@demo_only
@require_POST
def alipay_pay(request):
    """The cashier's Pay: Alipay's notification to the shop, then the signed return."""
    params = dict(urllib.parse.parse_qsl(request.POST.get("request", ""), keep_blank_values=True))
    if not params.get("biz_content") or not gateways.alipay_request_valid(params):
        return _cashier(request, "alipay", error=_("The request's signature is not valid."))
    trade = gateways.alipay_open(params)
    try:
        return redirect(gateways.alipay_pay(trade))
    except gateways.NotDelivered as error:
        messages.error(request, _not_delivered(error))
        return redirect(reverse("payments:demo-alipay-gateway") + "?" + request.POST["request"])


# --- WeChat Pay -----------------------------------------------------------------------------


def _wechat_cashier_url(token: str, *, h5: bool) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        path = reverse("payments:demo-wechatpay-cashier", kwargs={"token": token})
    return settings.SHOP_URL.rstrip("/") + path + ("?h5=1" if h5 else "")


@csrf_exempt
@demo_only
@require_http_methods(["GET", "POST"])
def wechatpay_api(request, rest):
    """WeChat Pay's API v3 (api.mch.weixin.qq.com) for the SDK's signed calls."""
    path = request.get_full_path().removeprefix(WECHATPAY_API_PATH)
    status, data = gateways.wechat_api(
        method=request.method,
        path=path,
        body=request.body.decode("utf-8", "replace"),
        authorization=request.headers.get("Authorization", ""),
        cashier_url=_wechat_cashier_url,
    )
    body = json.dumps(data, ensure_ascii=False) if data is not None else ""
    response = HttpResponse(body, status=status, content_type="application/json")
    for name, value in gateways.wechat_signature_headers(body).items():
        response[name] = value
    return response


@demo_only
@require_http_methods(["GET", "POST"])
def wechatpay_cashier(request, token):
    """What WeChat shows once the code is scanned (Native) or the H5 page opens: Pay. Then
    the notification goes to the shop, and the shopper back (H5's redirect_url, or the page
    they came from), or a "paid" page as WeChat shows."""
    trade = gateways.wechat_trade_for_token(token)
    if trade is None:
        raise Http404
    back = request.GET.get("redirect_url") or request.GET.get("return") or ""
    back = back if _safe(back, request) else ""
    context = {
        "trade": trade,
        "amount": money.from_minor(trade["amount"]["total"], "CNY"),
        "action": request.get_full_path(),
        "paid": trade["trade_state"] == "SUCCESS",
        "back_url": back,
    }
    if request.method == "POST" and not context["paid"]:
        try:
            gateways.wechat_pay(trade)
        except gateways.NotDelivered as error:
            messages.error(request, _not_delivered(error))
            return redirect(request.get_full_path())
        return redirect(back or request.get_full_path())
    with translation.override(_language_of(back) if back else translation.get_language()):
        return _cashier(request, "wechatpay", returns_to=back, **context)


def _not_delivered(error) -> str:
    return _(
        "The demo wallet could not deliver its notification to the shop at SHOP_URL "
        "(%(url)s): %(error)s"
    ) % {"url": settings.SHOP_URL, "error": error}


def _cashier(
    request, wallet: str, *, error: str = "", returns_to: str = "", **context
) -> HttpResponse:
    response = render(
        request,
        "payments/wallet_demo_cashier.html",
        {"wallet": wallet, "error": error, **context},
        status=400 if error else 200,
    )
    origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(returns_to))
    if returns_to.startswith(("http://", "https://")):
        # Pay redirects the shopper back to the shop's address they came from, which may not
        # be SHOP_URL's (127.0.0.1 and localhost): the policy's form-action must let it.
        response._csp_update = {"form-action": [origin]}
    return response
