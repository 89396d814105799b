"""Requests that no page of the shop can mean, turned away before any of them runs."""

from django.http import HttpResponseBadRequest
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
