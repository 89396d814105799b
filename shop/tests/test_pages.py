import pytest


@pytest.mark.django_db
def test_home_page_has_the_shop_frame(client, django_assert_max_num_queries, settings):
    with django_assert_max_num_queries(3):
        response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"<title>{settings.SHOP_NAME}" in html
    assert '<meta name="description"' in html
    assert 'class="skip-link" href="#main"' in html
    assert 'role="search"' in html
    assert html.count("<main") == 1
    assert "/static/css/shop.css" in html


@pytest.mark.django_db
def test_unknown_page_gets_the_shops_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "We could not find that page" in html
    assert 'class="site-header"' in html


@pytest.mark.django_db
@pytest.mark.urls("shop.tests.error_urls")
def test_a_failing_view_gets_the_shops_500_page(client):
    client.raise_request_exception = False
    response = client.get("/broken/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html
    assert 'class="site-header"' in html


@pytest.mark.django_db
def test_chinese_is_served_under_its_prefix_and_english_unprefixed(client):
    """The URL decides the language, not the browser: a page keeps one language for
    every visitor (and crawler); the Chinese browser gets a link to the Chinese page."""
    chinese = client.get("/zh-hans/", headers={"accept-language": "en"})
    assert chinese.status_code == 200
    assert '<html lang="zh-Hans">' in chinese.content.decode()
    english = client.get("/", headers={"accept-language": "zh-CN,zh;q=0.9"})
    html = english.content.decode()
    assert '<html lang="en">' in html
    assert '<a href="/zh-hans/" hreflang="zh-Hans" lang="zh-Hans">简体中文</a>' in html


def test_robots_txt_opens_sign_in_and_registration_but_not_the_rest_of_accounts(client):
    """Longest match wins (RFC 9309): exactly /accounts/login/ and /accounts/register/ are
    crawlable; reset links, activation links and the shopper's pages are not."""
    response = client.get("/robots.txt")
    lines = response.content.decode().splitlines()
    assert response.status_code == 200
    assert "Allow: /accounts/login/$" in lines
    assert "Allow: /accounts/register/$" in lines
    assert "Allow: /zh-hans/accounts/login/$" in lines
    assert "Disallow: /accounts/" in lines and "Disallow: /account/" in lines
    assert not any(line.startswith("Allow:") and "password" in line for line in lines)


@pytest.mark.django_db
def test_the_language_links_follow_the_language_each_page_is_read_in(client):
    """The links are worked out once per path and kept: a path read in one language never
    hands its link to the same path read in another."""
    for _round in range(2):
        english = client.get("/cart/").content.decode()
        chinese = client.get("/zh-hans/cart/").content.decode()
        assert '<a href="/zh-hans/cart/" hreflang="zh-Hans"' in english
        assert '<a href="/cart/" hreflang="en"' in chinese
