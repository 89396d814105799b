"""The catalog in Simplified Chinese: the merchant's translations under /zh-hans/, English
where a translation is empty, a URL per language with its alternates."""

import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import translation

from catalog import csv_io
from catalog.models import Specification
from catalog.tests.factories import (
    CategoryFactory,
    OptionTypeFactory,
    OptionValueFactory,
    ProductFactory,
    TagFactory,
    VariantFactory,
)
from catalog.tests.test_views import LISTING_BUDGET, PRODUCT_BUDGET

pytestmark = pytest.mark.django_db

SHOP = settings.SHOP_URL.rstrip("/")


@pytest.fixture
def shirt():
    """A shirt whose category, colour, tag and specification the merchant translated, and a
    tag left in English only."""
    category = CategoryFactory(name="Shirts", name_zh_hans="衬衫", slug="shirts")
    colour = OptionTypeFactory(name="Colour", name_zh_hans="颜色")
    red = OptionValueFactory(option_type=colour, value="Red", value_zh_hans="红色")
    product = ProductFactory(name="Oxford", slug="oxford", category=category, variants=False)
    VariantFactory(product=product, price=Decimal("1234.50"), option_values=[red])
    product.tags.set(
        [TagFactory(name="New", name_zh_hans="新品"), TagFactory(name="Gift idea", slug="gift")]
    )
    Specification.objects.create(
        product=product, name="Material", name_zh_hans="材质", value="Linen", value_zh_hans="亚麻"
    )
    return product


def _text(response) -> str:
    """The page's visible words (tags stripped), to tell names from attributes."""
    return re.sub(r"<[^>]+>", " ", response.content.decode())


def test_the_listing_reads_in_chinese_under_zh_hans(client, shirt, django_assert_max_num_queries):
    with django_assert_max_num_queries(LISTING_BUDGET):
        response = client.get("/zh-hans/c/shirts/")
    text = _text(response)
    # The category, the option and its value, the tag: the merchant's Chinese.
    for chinese in ("衬衫", "颜色", "红色", "新品"):
        assert chinese in text
    assert "Red" not in text and "Colour" not in text
    # An untranslated tag falls back to its English name; prices as Chinese readers write them.
    assert "Gift idea" in text
    assert "US$1,234.50" in text


def test_english_pages_stay_english_after_a_chinese_visit(client, shirt):
    """The shared names (category tree, option types, brand and tag facets) are kept per
    language: a Chinese visit first must not leave Chinese names for English visitors."""
    client.get("/zh-hans/c/shirts/")
    client.get("/zh-hans/")
    text = _text(client.get("/c/shirts/"))
    for english in ("Shirts", "Colour", "Red", "New", "Gift idea", "$1,234.50"):
        assert english in text
    assert not re.search(r"[\u4e00-\u9fff]", text.replace("简体中文", ""))  # the language link


def test_a_page_cached_in_english_is_not_served_to_a_chinese_visitor(client, shirt):
    english = client.get("/c/shirts/")
    assert "Shirts" in _text(english)
    # Twice: the second Chinese answer comes from the cache, and is still Chinese.
    for _ in range(2):
        chinese = client.get("/zh-hans/c/shirts/")
        assert "衬衫" in _text(chinese) and "Shirts" not in _text(chinese)


def test_the_product_page_reads_in_chinese(client, shirt, django_assert_max_num_queries):
    with django_assert_max_num_queries(PRODUCT_BUDGET):
        response = client.get("/zh-hans/p/oxford/")
    text = _text(response)
    assert "材质" in text and "亚麻" in text and "新品" in text
    assert "US$1,234.50" in text
    english = _text(client.get("/p/oxford/"))
    assert "Material" in english and "Linen" in english and "$1,234.50" in english
    assert "亚麻" not in english


def test_an_empty_translation_shows_the_english(client):
    category = CategoryFactory(name="Lamps", slug="lamps")
    ProductFactory(name="Desk lamp", slug="desk-lamp", category=category)
    assert "Lamps" in _text(client.get("/zh-hans/c/lamps/"))


def _links(html: str) -> list[str]:
    return re.findall(r'<link rel="(?:canonical|alternate)"[^>]*>', html)


@pytest.mark.parametrize(
    ("url", "english", "chinese"),
    [
        ("/", "/", "/zh-hans/"),
        ("/zh-hans/", "/", "/zh-hans/"),
        ("/c/shirts/", "/c/shirts/", "/zh-hans/c/shirts/"),
        ("/zh-hans/p/oxford/", "/p/oxford/", "/zh-hans/p/oxford/"),
        ("/zh-hans/products/", "/products/", "/zh-hans/products/"),
    ],
)
def test_catalog_pages_name_their_canonical_url_and_each_language(
    client, shirt, url, english, chinese
):
    html = client.get(url).content.decode()
    own = chinese if url.startswith("/zh-hans/") else english
    assert _links(html) == [
        f'<link rel="canonical" href="{SHOP}{own}">',
        f'<link rel="alternate" hreflang="en" href="{SHOP}{english}">',
        f'<link rel="alternate" hreflang="zh-Hans" href="{SHOP}{chinese}">',
        f'<link rel="alternate" hreflang="x-default" href="{SHOP}{english}">',
    ]
    lang = "zh-Hans" if own == chinese else "en"
    assert f'<html lang="{lang}">' in html


def test_a_later_page_of_a_listing_keeps_its_page_in_every_language(client, shirt):
    ProductFactory.create_batch(3, category=shirt.category)
    html = client.get("/zh-hans/c/shirts/", {"page": 2, "per_page": 2}).content.decode()
    assert f'<link rel="canonical" href="{SHOP}/zh-hans/c/shirts/?page=2">' in html
    assert f'<link rel="alternate" hreflang="en" href="{SHOP}/c/shirts/?page=2">' in html


def test_the_sitemap_lists_every_page_in_both_languages(client, shirt):
    xml = client.get("/sitemap-products.xml").content.decode()
    assert "<loc>http://testserver/p/oxford/</loc>" in xml
    assert "<loc>http://testserver/zh-hans/p/oxford/</loc>" in xml
    assert 'hreflang="zh-hans" href="http://testserver/zh-hans/p/oxford/"' in xml
    assert 'hreflang="x-default" href="http://testserver/p/oxford/"' in xml
    categories = client.get("/sitemap-categories.xml").content.decode()
    assert "<loc>http://testserver/zh-hans/c/shirts/</loc>" in categories


def test_robots_keep_crawlers_out_of_carts_and_accounts_in_every_language(client):
    robots = client.get("/robots.txt").content.decode().splitlines()
    assert {"Disallow: /cart/", "Disallow: /zh-hans/cart/", "Disallow: /zh-hans/accounts/"} <= set(
        robots
    )
    assert "Disallow: /zh-hans/" not in robots  # the Chinese catalog is for crawlers too


@pytest.mark.parametrize(
    ("page", "language", "expected"),
    [
        ("/c/shirts/", "zh-hans", "/zh-hans/c/shirts/"),
        ("/zh-hans/c/shirts/", "en", "/c/shirts/"),
        ("/zh-hans/p/oxford/", "en", "/p/oxford/"),
        ("/p/oxford/", "zh-hans", "/zh-hans/p/oxford/"),
        ("/zh-hans/cart/", "en", "/cart/"),
    ],
)
def test_the_language_form_keeps_the_shopper_on_the_same_page(
    client, shirt, page, language, expected
):
    """The footer's form, as a browser without JavaScript posts it."""
    html = client.get(page).content.decode()
    form = html[html.index('class="language-form"') :]
    next_url = re.search(r'name="next" type="hidden" value="([^"]*)"', form).group(1)
    response = client.post("/i18n/setlang/", {"language": language, "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == expected


def test_the_header_links_to_the_same_page_in_the_other_language(client, shirt):
    english = client.get("/p/oxford/").content.decode()
    assert '<a href="/zh-hans/p/oxford/" hreflang="zh-Hans" lang="zh-Hans">简体中文</a>' in english
    chinese = client.get("/zh-hans/p/oxford/").content.decode()
    assert '<a href="/p/oxford/" hreflang="en" lang="en">English</a>' in chinese


def test_the_switch_keeps_the_filters_of_a_listing(client, shirt):
    html = client.get("/c/shirts/", {"colour": "red", "sort": "price"}).content.decode()
    assert '<a href="/zh-hans/c/shirts/?colour=red&amp;sort=price" hreflang="zh-Hans"' in html
    form = html[html.index('class="language-form"') :]
    assert 'name="next" type="hidden" value="/c/shirts/?colour=red&amp;sort=price"' in form
    response = client.post(
        "/i18n/setlang/", {"language": "zh-hans", "next": "/c/shirts/?colour=red&sort=price"}
    )
    assert response["Location"] == "/zh-hans/c/shirts/?colour=red&sort=price"


def test_a_bad_language_changes_nothing(client, shirt):
    response = client.post("/i18n/setlang/", {"language": "xx", "next": "/c/shirts/"})
    assert response.status_code == 302 and response["Location"] == "/c/shirts/"
    assert client.get("/zh-hans/nowhere/").status_code == 404


def test_the_admin_keeps_the_merchants_language(admin_client):
    """Unprefixed, the admin still follows the merchant's browser (or language cookie)."""
    html = admin_client.get("/admin/", headers={"accept-language": "zh-hans"}).content.decode()
    assert '<html lang="zh-hans"' in html


def test_csv_export_writes_english_whatever_the_admins_language(shirt):
    with translation.override("zh-hans"):
        text = "".join(csv_io.export_products())
    assert "Colour=Red" in text and "Gift idea;New" in text
    assert "红色" not in text


def test_search_finds_a_product_by_its_chinese_tag(client, shirt, postgres_only):
    from catalog import services

    services.refresh_products(product_ids=[shirt.pk])
    text = _text(client.get("/zh-hans/search/", {"q": "新品"}))
    assert "Oxford" in text


def test_the_merchant_translates_an_option_and_the_cached_listing_follows(
    admin_client, shirt, django_capture_on_commit_callbacks
):
    red = shirt.variants.get().option_values.get()
    colour = red.option_type
    client = admin_client
    assert "红色" in _text(client.get("/zh-hans/c/shirts/"))  # now cached
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/catalog/optiontype/{colour.pk}/change/",
            {
                "name_en": "Colour",
                "name_zh_hans": "色彩",
                "slug": colour.slug,
                "position": "0",
                "values-TOTAL_FORMS": "1",
                "values-INITIAL_FORMS": "1",
                "values-0-id": str(red.pk),
                "values-0-option_type": str(colour.pk),
                "values-0-value_en": "Red",
                "values-0-value_zh_hans": "大红",
                "values-0-slug": red.slug,
                "values-0-position": "0",
            },
        )
    assert response.status_code == 302, response.context["errors"]
    text = _text(client.get("/zh-hans/c/shirts/"))
    assert "色彩" in text and "大红" in text
    assert "Red" in _text(client.get("/c/shirts/"))


def test_a_product_pages_fragments_and_holes_follow_the_language_of_its_address(client, shirt):
    """Every part of a cached product page is kept per language (the page, its stock labels'
    fragment, the guest's wishlist link and header links), read from the language
    LocaleMiddleware took from the address: whichever language came first, held or not, the
    other never gets its parts."""
    for _ in range(2):  # rendered, then held
        english = client.get("/p/oxford/").content.decode()
        chinese = client.get("/zh-hans/p/oxford/").content.decode()
        for part in (
            "有货",
            "登录后可加入心愿单",
            'href="/zh-hans/accounts/login/?next=/zh-hans/p/oxford/"',
        ):
            assert part in chinese and part not in english
        for part in ("In stock", "Sign in to save this to your wishlist", 'href="/accounts/login/'):
            assert part in english and part not in chinese
