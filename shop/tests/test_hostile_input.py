"""Hostile values in every URL pattern, the query string and the cookies: a 4xx, never a 500."""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.views import static

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HOSTILE = [
    "%00",
    "abc%00def",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "'%20OR%201=1--",
    "%E2%98%83",
    "-1",
    "99999999999999999999999",
    "x" * 3000,
    "%C0%AF",
    "%FF%FE",
]


def _patterns(resolver=None, prefix=""):
    """Every URL pattern of the shop as a regex string, e.g. '^orders/(?P<number>[^/]+)/$'."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        regex = prefix + str(entry.pattern.regex.pattern).lstrip("^")
        if isinstance(entry, URLResolver):
            if regex.startswith("admin/"):
                continue  # Django's own admin: its tests are Django's
            yield from _patterns(entry, regex)
        elif isinstance(entry, URLPattern) and entry.callback is not static.serve:
            yield regex  # (media served by Django itself only while developing)


def _fill(regex: str, value: str) -> str | None:
    """The pattern with each group replaced by `value`; None for a pattern without groups."""
    if "(?P<" not in regex:
        return None
    path = re.sub(r"\(\?P<\w+>[^)]*\)", value, regex)
    path = path.replace("\\Z", "").replace("$", "").replace("\\.", ".").replace("\\", "")
    return "/" + path


def _paths():
    seen = set()
    for regex in _patterns():
        for value in HOSTILE:
            path = _fill(regex, value)
            if path and path not in seen:
                seen.add(path)
                yield path


def test_hostile_path_values_never_give_a_500():
    client = Client(raise_request_exception=False)
    paths = list(_paths())
    assert len(paths) > 100  # the sweep really covers the shop's patterns
    user = UserFactory(email="sweeper@example.com")
    failures = []
    for signed_in in (False, True):
        if signed_in:
            client.force_login(user)
        for path in paths:
            for method in ("get", "post"):
                response = getattr(client, method)(path)
                if response.status_code >= 500:
                    failures.append((signed_in, method, path[:80], response.status_code))
    assert failures == []


@pytest.mark.parametrize(
    "url", ["/?q=%00", "/search/?q=a%00b", "/cart/?x=%00", "/accounts/login/?next=%00"]
)
def test_a_nul_in_the_query_string_is_a_400(client, url):
    assert client.get(url).status_code == 400


def test_a_nul_in_the_session_cookie_is_refused_not_a_500(client):
    client.cookies["sessionid"] = "abc\x00def"
    assert client.get("/cart/").status_code < 500
    client.cookies["sessionid"] = "abc%00def"
    assert client.get("/account/").status_code < 500
