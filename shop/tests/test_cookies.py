"""Cached pages' cookies (shop.cookies.CookieResponse): the very Morsel and Set-Cookie line
Django's set_cookie() makes, written once per process for each cookie's attributes."""

import itertools
import pickle
from http.cookies import Morsel
from types import SimpleNamespace

import pytest
from django.http import HttpResponse
from django.http import response as django_response
from django.test import Client

from catalog.tests.factories import ProductFactory
from shop import cookies
from shop.cookies import CookieResponse

#: A moment in seconds since the epoch, with a fraction (Django's date drops it).
NOW = 1_796_000_000.75


@pytest.fixture
def clock(monkeypatch):
    now = SimpleNamespace(time=lambda: NOW)
    monkeypatch.setattr(cookies, "time", now.time)
    monkeypatch.setattr(django_response, "time", now)


VALUES = ["k3JdT0aQzPpX2mYw9bLfE1uVcR7sNn4G", "7.12.3:1vQx2a:abc-_xyz", 'a b,"c;d', ""]
ATTRIBUTES = [
    dict(zip(("path", "domain", "secure", "httponly", "samesite"), combination, strict=True))
    for combination in itertools.product(
        ["/", "/shop/"],
        [None, "shop.example.com"],
        [False, True],
        [False, True],
        ["Lax", "Strict", "None", None],
    )
]


@pytest.mark.parametrize("attributes", ATTRIBUTES)
def test_a_cookie_is_the_one_django_sets(clock, attributes):
    for value, max_age in itertools.product(VALUES, [31449600, 2592000, 0, None]):
        ours, djangos = CookieResponse(), HttpResponse()
        for response in (ours, djangos):
            response.set_cookie("csrftoken", value, max_age=max_age, **attributes)
        mine, theirs = ours.cookies["csrftoken"], djangos.cookies["csrftoken"]
        assert mine == theirs
        assert (mine.key, mine.value, mine.coded_value) == (
            theirs.key,
            theirs.value,
            theirs.coded_value,
        )
        assert mine.output(header="") == theirs.output(header="")
        assert ours.cookies.output() == djangos.cookies.output()


def test_other_cookies_and_changed_ones_are_written_as_django_writes_them(clock):
    ours, djangos = CookieResponse(), HttpResponse()
    for response in (ours, djangos):
        response.set_cookie("a", "1", expires="Thu, 01 Jan 2037 00:00:00 GMT")
        response.set_cookie("b", "2")
        response.set_cookie("c", "3", max_age=60)
        response.cookies["c"]["secure"] = True
        response.delete_cookie("d")
    assert ours.cookies.output() == djangos.cookies.output()
    assert ours.cookies["c"].copy().output() == djangos.cookies["c"].output()


@pytest.mark.django_db
def test_a_new_visitors_cached_page_writes_no_set_cookie_line(monkeypatch):
    """The CSRF and recently viewed cookies' lines come from the process's templates: the
    standard library's Morsel writes none (its sorting and walking of every attribute was
    a tenth of a bare view, a cookie)."""
    product = ProductFactory()
    Client().get(product.get_absolute_url())  # kept, and the cookies' lines made
    written = []
    output_string = Morsel.OutputString
    monkeypatch.setattr(
        Morsel,
        "OutputString",
        lambda self, attrs=None: written.append(self.key) or output_string(self, attrs),
    )
    response = Client().get(product.get_absolute_url())
    assert {"csrftoken", "recently_viewed"} <= set(response.cookies)
    assert written == []


def test_a_pickled_cookie_writes_its_own_line_as_djangos_does(clock):
    """A response can be pickled (a cache keeping it): the held line is not pickled (the
    standard library's Morsel pickles its key, value and coded value and its attributes
    one by one), so the unpickled Morsel writes Django's line itself."""
    ours, djangos = CookieResponse(), HttpResponse()
    for response in (ours, djangos):
        response.set_cookie("csrftoken", 'a b,"c', max_age=60, secure=True, samesite="Lax")
    again = pickle.loads(pickle.dumps(ours.cookies))  # noqa: S301 (our own bytes)
    assert again["csrftoken"].line is None
    assert again.output() == djangos.cookies.output()
    unpickled = pickle.loads(pickle.dumps(ours))  # noqa: S301 (our own bytes)
    assert unpickled.cookies.output() == djangos.cookies.output()
