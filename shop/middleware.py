"""Middleware of the shop: requests no page can mean, pages about one shopper, languages."""

from django.http import HttpResponseBadRequest
from django.middleware import locale
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _

NUL = "\x00"


class RefuseNulBytes:
    """A NUL byte is never part of a real path, query or cookie, and PostgreSQL refuses it in
    any text it is given, so one reaching a query was a 500. A path or query with one is a
    400 here; a cookie with one is dropped, as if the browser had not sent it (a forged
    session cookie then reads as no session), so the shopper still gets the page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if NUL in request.path_info or any(
            NUL in key or any(NUL in value for value in values)
            for key, values in request.GET.lists()
        ):
            return HttpResponseBadRequest(_("This address is not valid."))
        for name in [name for name, value in request.COOKIES.items() if NUL in name + value]:
            del request.COOKIES[name]
        return self.get_response(request)


#: URL namespaces whose pages are about one shopper: their account, cart, checkout, orders
#: and payments (the wishlist lives in catalog's namespace and is matched by name).
PRIVATE_NAMESPACES = {"accounts", "cart", "orders", "payments"}


class PrivatePages:
    """A page about one shopper is kept by no cache, the browser's included (a shared
    computer's back button, a proxy): `Cache-Control: private, no-store`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = request.resolver_match
        if match and (
            PRIVATE_NAMESPACES.intersection(match.namespaces)
            or (match.url_name or "").startswith("wishlist")
        ):
            patch_cache_control(response, private=True, no_store=True)
        return response


class LocaleMiddleware(locale.LocaleMiddleware):
    """Django's LocaleMiddleware, except in the merchant's admin.

    Shopper pages take their language from the URL (English unprefixed, /zh-hans/...), so
    Django reads every unprefixed path as English. The admin has one URL for both languages:
    there the merchant's language cookie or browser decides, as before the prefixes.
    """

    def process_request(self, request):
        super().process_request(request)
        if request.path_info.startswith(reverse("admin:index")):
            translation.activate(translation.get_language_from_request(request))
            request.LANGUAGE_CODE = translation.get_language()
