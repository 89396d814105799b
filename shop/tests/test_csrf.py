import re

import pytest
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.http import HttpResponse
from django.middleware import csrf as django_csrf
from django.test import Client, RequestFactory
from django.urls import reverse

from catalog.tests.factories import ProductFactory
from shop import csrf

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def test_a_token_is_djangos_kind_and_unmasks_to_the_visitors_secret():
    request = RequestFactory().get("/")
    first, second = csrf.get_token(request), csrf.get_token(request)
    secret = request.META["CSRF_COOKIE"]
    assert len(first) == django_csrf.CSRF_TOKEN_LENGTH and first != second  # a fresh mask
    assert set(first + secret) <= set(django_csrf.CSRF_ALLOWED_CHARS)
    assert django_csrf._unmask_cipher_token(first) == secret
    assert django_csrf._unmask_cipher_token(second) == secret
    assert request.META["CSRF_COOKIE_NEEDS_UPDATE"] is True


def test_a_visitor_with_a_secret_keeps_it():
    request = RequestFactory().get("/")
    request.META["CSRF_COOKIE"] = "a" * django_csrf.CSRF_SECRET_LENGTH
    assert django_csrf._unmask_cipher_token(csrf.get_token(request)) == "a" * 32


def test_every_pair_of_secret_and_mask_characters_unmasks_as_djangos(monkeypatch):
    chars = django_csrf.CSRF_ALLOWED_CHARS
    for key in chars:  # each mask character against every secret character
        monkeypatch.setattr(csrf, "random_string", lambda length, key=key: key * length)
        for secret in (chars[:32], chars[32:] + chars[:2]):
            request = RequestFactory().get("/")
            request.META["CSRF_COOKIE"] = secret
            token = csrf.get_token(request)
            assert token.startswith(key * 32)
            assert django_csrf._unmask_cipher_token(token) == secret


def test_a_new_visitors_secret_and_mask_are_drawn_apart():
    request = RequestFactory().get("/")
    token = csrf.get_token(request)
    assert token[:32] != request.META["CSRF_COOKIE"] != token[32:]
    assert django_csrf._unmask_cipher_token(token) == request.META["CSRF_COOKIE"]


def test_random_strings_draw_every_character_and_only_those():
    drawn = "".join(csrf.random_string(32) for _ in range(400))
    assert set(drawn) == set(django_csrf.CSRF_ALLOWED_CHARS)


def test_random_strings_of_other_characters_a_sessions_key():
    drawn = [csrf.random_string(32, VALID_KEY_CHARS) for _ in range(400)]
    assert {len(key) for key in drawn} == {32} and len(set(drawn)) == 400
    assert set("".join(drawn)) == set(VALID_KEY_CHARS)


@pytest.mark.django_db
def test_the_token_of_a_cached_page_passes_djangos_check_and_nobody_elses_does(
    django_user_model,
):
    product = ProductFactory()
    shopper = django_user_model.objects.create_user(email="ann@example.com", password="pw-ann-123")
    ann, bob = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    ann.force_login(shopper)
    ann.get(product.get_absolute_url())  # rendered and cached
    anns = TOKEN.search(ann.get(product.get_absolute_url()).content.decode()).group(1)
    bob.force_login(shopper)
    bobs = TOKEN.search(bob.get(product.get_absolute_url()).content.decode()).group(1)
    url = reverse("catalog:wishlist-add", kwargs={"product_id": product.pk})
    assert bob.post(url, {"csrfmiddlewaretoken": anns}).status_code == 403
    assert ann.post(url, {"csrfmiddlewaretoken": anns}).status_code == 302
    assert bob.post(url, {"csrfmiddlewaretoken": bobs}).status_code == 302


SECRET, OTHER = "s" * 16 + "E" * 16, "o" * 32


def _masked(secret: str, mask: str = "m" * 16 + "K" * 16) -> str:
    """`secret` masked as Django's _mask_cipher_secret() masks it, with `mask`."""
    chars = django_csrf.CSRF_ALLOWED_CHARS
    return mask + "".join(
        chars[(chars.index(char) + chars.index(key)) % len(chars)]
        for char, key in zip(secret, mask, strict=True)
    )


@pytest.mark.parametrize(
    ("cookie", "posted", "header"),
    [
        (SECRET, _masked(SECRET), None),  # a form's token: passes
        (SECRET, _masked(OTHER), None),  # another visitor's
        (SECRET, SECRET, None),  # unmasked: Django's check takes it
        (SECRET, OTHER, None),
        (SECRET, _masked(SECRET)[:-1] + "!", None),  # a character tokens never hold
        (SECRET, _masked(SECRET)[:-1] + "é", None),
        (SECRET, _masked(SECRET)[:40], None),  # a length tokens never have
        (SECRET, None, _masked(SECRET)),  # from the header, as scripts send it
        (SECRET, None, _masked(OTHER)),
        (SECRET, None, None),  # no token
        (_masked(SECRET), _masked(SECRET), None),  # a masked cookie, as Django once set
        ("x" * 31 + "!", _masked(SECRET), None),  # a malformed cookie
        (None, _masked(SECRET), None),  # no cookie
    ],
)
def test_posted_tokens_of_every_kind_are_answered_as_djangos_middleware_answers(
    cookie, posted, header, caplog
):
    def answer(middleware_class):
        request = RequestFactory().post(
            "/cart/add/",
            {} if posted is None else {"csrfmiddlewaretoken": posted},
            headers={} if header is None else {"x-csrftoken": header},
        )
        if cookie is not None:
            request.COOKIES["csrftoken"] = cookie
        middleware = middleware_class(lambda request: None)
        middleware.process_request(request)
        caplog.clear()
        response = middleware.process_view(request, lambda request: None, (), {})
        return response and response.status_code, [record.getMessage() for record in caplog.records]

    assert answer(csrf.CsrfViewMiddleware) == answer(django_csrf.CsrfViewMiddleware)


def test_a_forms_token_is_unmasked_without_djangos_python_loop(monkeypatch):
    monkeypatch.setattr(django_csrf, "_unmask_cipher_token", lambda token: 1 / 0)
    request = RequestFactory().post("/cart/add/", {"csrfmiddlewaretoken": _masked(SECRET)})
    request.COOKIES["csrftoken"] = SECRET
    middleware = csrf.CsrfViewMiddleware(lambda request: None)
    middleware.process_request(request)
    assert middleware.process_view(request, lambda request: None, (), {}) is None


@pytest.mark.parametrize(
    ("middleware", "secure", "found"),
    [
        (["shop.csrf.CsrfViewMiddleware"], True, []),
        (["shop.csrf.CsrfViewMiddleware"], False, ["security.W016"]),
        (["django.middleware.csrf.CsrfViewMiddleware"], True, []),
        (["django.middleware.csrf.CsrfViewMiddleware"], False, []),  # Django's own says it
        ([], True, ["security.W003"]),
    ],
)
def test_the_deploy_checks_for_a_csrf_middleware_know_ours(middleware, secure, found, settings):
    settings.MIDDLEWARE, settings.CSRF_COOKIE_SECURE = middleware, secure
    assert [check.id for check in csrf.check_csrf_middleware(None)] == found


@pytest.mark.parametrize("vary", [None, "Cookie", "Origin", "accept-language, cookie"])
@pytest.mark.parametrize(
    "cookie_settings",
    [
        {},
        {"CSRF_COOKIE_SECURE": True, "CSRF_COOKIE_HTTPONLY": True, "CSRF_COOKIE_SAMESITE": None},
        {"CSRF_COOKIE_DOMAIN": ".example.com", "CSRF_COOKIE_PATH": "/shop/"},
        {"CSRF_COOKIE_AGE": None},
        {"CSRF_USE_SESSIONS": True},
    ],
)
def test_a_new_visitors_csrf_cookie_and_vary_are_djangos(vary, cookie_settings, settings):
    """The cookie, its attributes, the Vary and the session, as Django's middleware answers
    for a page that asked for a token (the Vary written without Django's split)."""
    for name, value in cookie_settings.items():
        setattr(settings, name, value)

    def answer(middleware_class):
        request = RequestFactory().get("/p/x/")
        request.session = {}
        response = HttpResponse()
        if vary is not None:
            response.headers["Vary"] = vary
        middleware = middleware_class(lambda request: response)
        middleware.process_request(request)
        django_csrf.get_token(request)
        response = middleware.process_response(request, response)
        return response.get("Vary"), response.cookies.output(), request.session

    ours = answer(csrf.CsrfViewMiddleware)
    djangos = answer(django_csrf.CsrfViewMiddleware)
    assert ours[0] == djangos[0]
    assert ours[1].count("Set-Cookie") == djangos[1].count("Set-Cookie")
    masked = [
        re.sub(r"expires=[^;]+;", "expires=DATE;", re.sub(r"csrftoken=\w+;", "csrftoken=X;", line))
        for line in (ours[1], djangos[1])
    ]
    assert masked[0] == masked[1]
    assert ours[2].keys() == djangos[2].keys()


def test_a_csrf_cookies_vary_is_written_without_djangos_patch(monkeypatch):
    monkeypatch.setattr(django_csrf, "patch_vary_headers", None)
    request = RequestFactory().get("/p/x/")
    response = HttpResponse()
    response.headers["Vary"] = "Cookie"
    middleware = csrf.CsrfViewMiddleware(lambda request: response)
    middleware.process_request(request)
    django_csrf.get_token(request)
    assert middleware.process_response(request, response)["Vary"] == "Cookie"
    assert "csrftoken" in response.cookies
