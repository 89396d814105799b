"""Headers every page carries, and those only pages about one shopper carry."""

import re

import pytest
from django.conf import settings
from django.contrib import admin
from django.urls import reverse

from accounts.tests.factories import UserFactory
from catalog.tests.factories import ProductFactory, ProductImageFactory
from shop.tests.utils import read_settings

pytestmark = pytest.mark.django_db


def _no_store(response) -> bool:
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    return {"private", "no-store"} <= directives


@pytest.mark.parametrize(
    "name", ["accounts:profile", "accounts:address_list", "orders:list", "catalog:wishlist"]
)
def test_account_pages_are_stored_by_no_cache(client, name):
    client.force_login(UserFactory())
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert _no_store(response)


@pytest.mark.parametrize("name", ["cart:detail", "accounts:login", "accounts:register"])
def test_pages_about_one_visitor_are_stored_by_no_cache(client, name):
    assert _no_store(client.get(reverse(name)))


def test_catalog_pages_stay_cacheable(client):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


def test_every_page_switches_off_browser_features_it_does_not_use(client):
    policy = client.get(reverse("home"))["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()"):
        assert feature in policy


def test_the_language_cookie_is_samesite_and_httponly(client):
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    cookie = response.cookies["django_language"]
    assert cookie["samesite"] == "Lax" and cookie["httponly"]


# --- Absolute links come from SHOP_URL, never from the request's Host header ---------------


def test_robots_txt_points_at_the_configured_shop(client, settings):
    settings.SHOP_URL = "https://shop.example.com"
    settings.ALLOWED_HOSTS = ["*"]
    body = client.get("/robots.txt", HTTP_HOST="evil.example").content.decode()
    assert "Sitemap: https://shop.example.com/sitemap.xml" in body
    assert "evil.example" not in body


def test_account_mails_link_to_the_configured_shop(
    client, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.SHOP_URL = "https://shop.example.com"
    settings.ALLOWED_HOSTS = ["*"]
    UserFactory(email="owner@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("accounts:password_reset"),
            {"email": "owner@example.com"},
            HTTP_HOST="evil.example",
        )
        client.post(
            reverse("accounts:register"),
            {"email": "new@example.com", "password": "a-long-secret-77", "full_name": "New"},
            HTTP_HOST="evil.example",
        )
    bodies = [m.body for m in mailoutbox]
    assert len(bodies) == 2
    assert all(
        "https://shop.example.com/" in body and "evil.example" not in body for body in bodies
    )


def test_a_forged_host_never_reaches_a_cached_page(client, settings):
    """The finding: one request with `Host: evil.example` made the cached product page's
    canonical link, og:url, og:image and JSON-LD point there for every later visitor."""
    settings.SHOP_URL = "https://shop.example.com"
    settings.ALLOWED_HOSTS = ["*"]
    product = ProductFactory(name="Lamp")
    ProductImageFactory(product=product)
    url = product.get_absolute_url()
    for host in ("evil.example", "shop.example.com"):
        html = client.get(url, HTTP_HOST=host).content.decode()
        assert "evil.example" not in html
        assert f'href="https://shop.example.com{url}"' in html  # canonical
        assert '"url": "https://shop.example.com' in html  # JSON-LD


# --- Content-Security-Policy ----------------------------------------------------------------


def _policy(response) -> dict[str, list[str]]:
    directives = (d.split() for d in response["Content-Security-Policy"].split(";"))
    return {name: values for name, *values in directives}


@pytest.mark.parametrize("url", ["/", "/products/", "/cart/", "/accounts/login/", "/admin/login/"])
def test_every_page_enforces_a_policy_without_inline_script_or_style(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert "Content-Security-Policy-Report-Only" not in response  # enforced, not reported
    policy = _policy(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]  # the manual and sandbox providers post to us
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]


def test_the_product_page_is_cached_whole_without_a_nonce(client, django_assert_max_num_queries):
    """Cached pages are served to everyone: a per-request nonce in one would be stale (and
    the header's nonce would no longer match), so the policy has none."""
    product = ProductImageFactory().product
    client.get(product.get_absolute_url())
    with django_assert_max_num_queries(6):
        response = client.get(product.get_absolute_url())
    assert "nonce" not in response["Content-Security-Policy"]
    assert b"nonce=" not in response.content
    assert b" style=" not in response.content


def test_checkout_may_be_redirected_to_stripe_only_when_stripe_is_on():
    def form_action(**env):
        found = read_settings(["CONTENT_SECURITY_POLICY"], DEBUG="true", **env)
        return found["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["form-action"]

    assert form_action(PAYMENT_PROVIDERS="manual,stripe") == [
        "'self'",
        "https://checkout.stripe.com",
    ]
    assert form_action(PAYMENT_PROVIDERS="manual,sandbox") == ["'self'"]


#: Templates the policy does not apply to: mails (mail clients need inline styles) and the PDFs
#: WeasyPrint draws on the server.
NOT_PAGES = ("/email/", "_pdf.html")
#: A <style> block, a style or on... attribute, a <script> that is neither a file nor JSON data.
INLINE = re.compile(
    r"<style|\sstyle=|\son[a-z]+=|<script(?![^>]*\ssrc=)(?![^>]*type=\"application/)"
)


def test_no_page_template_carries_inline_script_or_style():
    templates = [p for p in (settings.BASE_DIR / "templates").rglob("*.html")]
    assert len(templates) > 100
    found = [
        f"{path.relative_to(settings.BASE_DIR)}: {match.group()}"
        for path in templates
        if not any(part in str(path) for part in NOT_PAGES)
        for match in INLINE.finditer(path.read_text())
    ]
    assert found == []


def test_no_admin_list_or_add_page_carries_inline_script_or_style(admin_client):
    """Django's own admin templates carry none; our admin classes' widgets and columns must
    not bring any either (the browser test walks a product's change page with its inlines)."""
    ProductImageFactory()
    found = []
    for model in admin.site._registry:
        info = model._meta.app_label, model._meta.model_name
        for page in ("changelist", "add"):
            url = reverse("admin:{}_{}_{}".format(*info, page))
            response = admin_client.get(url)
            assert response.status_code in (200, 403), url  # 403: a model nobody adds by hand
            found += [f"{url}: {match.group()}" for match in INLINE.finditer(response.text)]
    assert found == []


def test_the_policy_built_once_is_the_one_django_csp_builds(client, settings):
    from csp.utils import build_policy

    def directives(header):
        return {part.strip() for part in header.split(";")}

    built = client.get("/livez")["Content-Security-Policy"]
    assert directives(built) == directives(build_policy())
    assert client.get("/livez")["Content-Security-Policy"] == built
    policy = {**settings.CONTENT_SECURITY_POLICY}
    policy["DIRECTIVES"] = {**policy["DIRECTIVES"], "img-src": ["'self'", "https://img.example"]}
    settings.CONTENT_SECURITY_POLICY = policy  # a changed setting is read again
    assert "img-src 'self' https://img.example" in client.get("/livez")["Content-Security-Policy"]
