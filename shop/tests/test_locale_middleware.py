"""shop.middleware.LocaleMiddleware answers with the headers Django's own would send."""

import pytest
from django.http import HttpResponse, HttpResponseNotFound
from django.middleware import locale
from django.test import RequestFactory

from shop.middleware import LocaleMiddleware


@pytest.mark.parametrize(
    ("path", "accept_language", "answer"),
    [
        ("/", "", HttpResponse),  # English, unprefixed
        ("/p/some-product/", "zh-hans", HttpResponse),  # unprefixed: English still
        ("/zh-hans/", "", HttpResponse),
        ("/zh-hans/c/shirts/", "en", HttpResponse),
        ("/admin/login/", "zh-hans", HttpResponse),  # the admin: the browser decides
        ("/no-such-page/", "", HttpResponseNotFound),
        ("/zh-hans/no-such-page/", "", HttpResponseNotFound),
    ],
)
def test_language_headers_are_djangos(path, accept_language, answer):
    request = RequestFactory().get(path, headers={"accept-language": accept_language})
    ours = LocaleMiddleware(lambda request: answer())
    ours.process_request(request)
    djangos = locale.LocaleMiddleware(lambda request: answer()).process_response(request, answer())
    mine = ours.process_response(request, answer())
    assert mine.status_code == djangos.status_code
    assert mine.get("Vary") == djangos.get("Vary")
    assert mine["Content-Language"] == djangos["Content-Language"]
