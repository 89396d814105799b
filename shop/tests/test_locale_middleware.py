"""shop.middleware.LocaleMiddleware answers with the headers Django's own would send."""

import pytest
from django.http import HttpResponse, HttpResponseNotFound
from django.middleware import locale
from django.test import RequestFactory
from django.utils import translation
from django.utils.cache import patch_vary_headers

from shop.middleware import LocaleMiddleware, vary_on


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


@pytest.mark.parametrize(("path", "language"), [("/cart/", "en"), ("/zh-hans/cart/", "zh-hans")])
def test_a_shopper_pages_language_is_not_read_back_from_the_thread(path, language, monkeypatch):
    """request.LANGUAGE_CODE and Content-Language are the path's language, as get_language()
    would answer, without asking it (the thread's translation read back: about 15,000
    instructions a call)."""
    request = RequestFactory().get(path)
    ours = LocaleMiddleware(lambda request: HttpResponse())
    monkeypatch.setattr(translation, "get_language", lambda: 1 / 0)
    ours.process_request(request)
    response = ours.process_response(request, HttpResponse())
    monkeypatch.undo()
    assert request.LANGUAGE_CODE == translation.get_language() == language
    assert response["Content-Language"] == request.LANGUAGE_CODE


@pytest.mark.parametrize("header", ["Cookie", "Accept-Language", "cookie", "*"])
@pytest.mark.parametrize(
    "vary",
    [
        None,
        "Cookie",
        "cookie",
        "Cookie, Accept-Language",
        "Accept-Language,Cookie",
        "Cookie ,  Accept-Language",
        " Cookie",
        "Cookie, *",
        "*",
        "Origin",
        "Origin, Accept-Encoding",
        "origin, COOKIE",
        "",
        "Origin, ",
    ],
)
def test_vary_on_writes_the_vary_djangos_patch_writes(vary, header):
    ours, djangos = HttpResponse(), HttpResponse()
    if vary is not None:
        ours.headers["Vary"] = djangos.headers["Vary"] = vary
    vary_on(ours, header)
    patch_vary_headers(djangos, (header,))
    assert ours.get("Vary") == djangos.get("Vary")


@pytest.mark.parametrize("vary", ["Cookie", "Origin, Accept-Encoding", "accept-language, Cookie"])
def test_vary_on_adds_a_name_to_a_plain_vary_without_djangos_patch(vary, monkeypatch):
    """A page whose view or CSRF cookie wrote `Vary: Cookie` gets its Accept-Language added
    by the LocaleMiddleware without Django's split (31,000 instructions)."""
    monkeypatch.setattr("shop.middleware.patch_vary_headers", None)
    response = HttpResponse()
    response.headers["Vary"] = vary
    vary_on(response, "Accept-Language")
    djangos = HttpResponse()
    djangos.headers["Vary"] = vary
    patch_vary_headers(djangos, ("Accept-Language",))
    assert response["Vary"] == djangos["Vary"]
