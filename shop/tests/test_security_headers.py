"""Headers every page carries, and those only pages about one shopper carry."""

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from catalog.tests.factories import ProductFactory, ProductImageFactory

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
