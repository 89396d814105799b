"""shop.resolvers: the shopper pages' resolver answers as Django's own, from what it kept."""

import re
from unittest import mock

import pytest
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern
from django.utils import translation

from shop.resolvers import KEPT_PATHS, KeptMatchesResolver


def shop_resolvers() -> tuple[URLResolver, URLResolver]:
    """The URLconf's root and Django's own root over the same patterns, the kept resolver
    swapped for a plain URLResolver (what i18n_patterns() made before it was kept)."""
    root = get_resolver()
    plain = [
        URLResolver(p.pattern, p.urlconf_name, p.default_kwargs, p.app_name, p.namespace)
        if isinstance(p, KeptMatchesResolver)
        else p
        for p in root.url_patterns
    ]
    return root, URLResolver(RegexPattern(r"^/"), plain)


def kept_resolver() -> KeptMatchesResolver:
    (kept,) = [p for p in get_resolver().url_patterns if isinstance(p, KeptMatchesResolver)]
    return kept


def routes(patterns, prefix=""):
    """A path for every shopper page's pattern: converters filled with a sample value."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLPattern):
            yield re.sub(r"<int:\w+>", "7", re.sub(r"<(?:slug:|str:)?(\w+)>", r"\1-x", route))
        else:
            yield from routes(pattern.url_patterns, route)


def every_path() -> list[str]:
    with translation.override("en"):
        paths = ["/" + route for route in routes(kept_resolver().url_patterns)]
    made_up = ["/account/wishlist/add/not-a-number/", "/no-such-page/", "/p/", "/admin/"]
    return [
        *paths,
        *made_up,
        *("/zh-hans" + path for path in paths + made_up),
        "/livez",
        "/robots.txt",
    ]


def answer(resolver, path):
    try:
        match = resolver.resolve(path)
    except Resolver404 as error:
        return "404", plain(error.args[0].get("tried"))
    return {name: plain(value) for name, value in vars(match).items()}


def plain(value) -> str:
    """repr(value), the kept resolver's class named as the plain one's."""
    return repr(value).replace(KeptMatchesResolver.__name__, URLResolver.__name__)


def test_every_route_is_asked():
    assert len(every_path()) > 100  # the catalog's, cart's, orders', ... in both languages


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_paths_match_is_djangos_whether_resolved_or_kept(language):
    """Every attribute of every match (tried lists included), the first time (resolved and
    kept) and the second (kept), in either active language: a path under the other
    language's prefix is Django's 404 there, not what it was kept as in its own."""
    root, djangos = shop_resolvers()
    kept_resolver()._kept.cache_clear()
    for path in every_path() + every_path():
        with translation.override(language):
            assert answer(root, path) == answer(djangos, path), path


def test_a_kept_path_is_not_resolved_again():
    """The second time, only the patterns in front of the shopper pages (the health checks)
    are tried: the catalog's are not walked again (main walks them for every product page)."""
    kept_resolver()._kept.cache_clear()
    in_front = [p for p in get_resolver().url_patterns if isinstance(p, URLPattern)][:2]
    with (
        translation.override("en"),
        mock.patch.object(
            URLPattern, "resolve", autospec=True, side_effect=URLPattern.resolve
        ) as tried,
    ):
        assert resolve("/p/some-product/").view_name == "catalog:product"
        assert tried.call_count > len(in_front)
        tried.reset_mock()
        assert resolve("/p/some-product/").view_name == "catalog:product"
    assert [call.args[0] for call in tried.call_args_list] == in_front


def test_each_request_gets_a_match_of_its_own():
    """What one request (a view, a middleware) does to its match never reaches the next."""
    kept_resolver()._kept.cache_clear()
    with translation.override("en"):
        first = resolve("/p/some-product/")
        first.kwargs["slug"] = "another"
        first.captured_kwargs["slug"] = "another"
        first.extra_kwargs["x"] = 1
        first.app_names.append("x")
        first.namespaces.append("x")
        first.tried.append("x")
        second = resolve("/p/some-product/")
    assert second.kwargs == second.captured_kwargs == {"slug": "some-product"}
    assert second.extra_kwargs == {}
    assert second.app_names == second.namespaces == ["catalog"]
    assert "x" not in second.tried


def test_paths_that_lead_nowhere_are_not_kept_and_the_rest_are_bounded():
    kept = kept_resolver()
    kept._kept.cache_clear()
    with translation.override("en"):
        for n in range(20):
            with pytest.raises(Resolver404):
                resolve(f"/no-such-page-{n}/")
        assert kept._kept.cache_info().currsize == 0
        for n in range(KEPT_PATHS + 10):
            resolve(f"/p/made-up-{n}/")
    assert kept._kept.cache_info().currsize == KEPT_PATHS
    kept._kept.cache_clear()


def test_languages_still_come_from_the_path():
    """LocaleMiddleware and the language switch find i18n_patterns' prefix pattern."""
    assert is_language_prefix_patterns_used("shop.urls") == (True, False)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "view_name"), [("/p/x/", "catalog:product"), ("/zh-hans/cart/", "cart:detail")]
)
def test_a_served_page_gets_its_match(client, path, view_name):
    kept_resolver()._kept.cache_clear()
    for _ in range(2):
        response = client.get(path)
        assert response.resolver_match.view_name == view_name
