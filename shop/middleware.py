"""Requests that no page of the shop can mean, turned away before any of them runs."""

from django.http import HttpResponseBadRequest
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
