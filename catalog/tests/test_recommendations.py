"""Similar products fill each product's recommendations after those bought with it; pages
read them in a fixed number of queries and never show what is unpublished or sold out."""

import re
from decimal import Decimal

import pytest
from django.core.signing import get_cookie_signer

from catalog import recently_viewed, selectors, services
from catalog.models import ProductRecommendation, RecommendationKind
from catalog.recommendations import KEPT
from catalog.tests.factories import (
    BrandFactory,
    CategoryFactory,
    ProductFactory,
    TagFactory,
)

#: Product page on a cold cache with recommendations: its id, the product, variants,
#: option values, images, specifications, tags, the tree, the recommended products and
#: their images, the standard shipping method (the delivery estimate), the running group
#: offer (groupbuys) and the flash sales' schedule (promotions.flash).
PRODUCT_BUDGET = 13
#: A warm product page: the page's id and versions come from the cache, the recently viewed
#: hole reads its products and their images.
WARM_PRODUCT_BUDGET = 2


def product(name, *, category, price="100.00", brand=None, tags=(), stock=10, **extra):
    made = ProductFactory(
        name=name, category=category, brand=brand, variants__price=Decimal(price), **extra
    )
    made.variants.update(stock=stock)
    services.refresh_products(product_ids=[made.pk])
    made.tags.set(tags)
    made.refresh_from_db()
    return made


@pytest.fixture
def shop():
    """X and its candidates: points are category 4, each shared tag 2, brand 2, price 1."""
    bags, shoes = CategoryFactory(name="Bags"), CategoryFactory(name="Shoes")
    brand = BrandFactory(name="Fjell")
    leather, travel = TagFactory(name="leather"), TagFactory(name="travel")
    x = product("X", category=bags, brand=brand, tags=[leather, travel])
    return {
        "x": x,
        # 4 + 2 * 2 + 2 + 1 = 11
        "twin": product("Twin", category=bags, brand=brand, tags=[leather, travel], price="110"),
        # 4 + 2 + 1 = 7
        "cousin": product("Cousin", category=bags, tags=[leather], price="100"),
        # 2 + 2 + 1 = 5, in another category
        "branded": product("Branded", category=shoes, brand=brand, tags=[travel], price="90"),
        # 4: the same category only, far dearer
        "dear": product("Dear", category=bags, price="500"),
        # nothing in common but the price: never a candidate
        "stranger": product("Stranger", category=shoes, price="100"),
        "hidden": product("Hidden", category=bags, tags=[leather], is_published=False),
    }


def names(products):
    return [p.name for p in products]


def ranked(product):
    rows = ProductRecommendation.objects.filter(product=product).order_by("rank")
    return [(row.recommended.name, row.kind) for row in rows.select_related("recommended")]


@pytest.mark.django_db
def test_similar_products_rank_by_category_tags_brand_and_price(shop):
    services.replace_recommendations(bought_together=[])
    similar = RecommendationKind.SIMILAR
    assert ranked(shop["x"]) == [
        ("Twin", similar),
        ("Cousin", similar),
        ("Branded", similar),
        ("Dear", similar),
    ]


@pytest.mark.django_db
def test_bought_together_come_first_and_similar_fill_without_repeating_them(shop):
    x, dear, cousin = shop["x"], shop["dear"], shop["cousin"]
    services.replace_recommendations(
        bought_together=[(x.pk, dear.pk, 3.0), (x.pk, cousin.pk, 1.0), (dear.pk, x.pk, 3.0)]
    )
    bought, similar = RecommendationKind.BOUGHT_TOGETHER, RecommendationKind.SIMILAR
    assert ranked(x) == [
        ("Dear", bought),
        ("Cousin", bought),
        ("Twin", similar),
        ("Branded", similar),
    ]
    assert ranked(dear)[0] == ("X", bought)


@pytest.mark.django_db
def test_a_rebuild_replaces_every_row_and_keeps_at_most_kept(shop):
    x = shop["x"]
    others = [product(f"P{n}", category=x.category) for n in range(KEPT + 4)]
    services.replace_recommendations(bought_together=[(x.pk, p.pk, 1.0) for p in others])
    assert ProductRecommendation.objects.filter(product=x).count() == KEPT
    services.replace_recommendations(bought_together=[])
    assert not ProductRecommendation.objects.filter(
        product=x, kind=RecommendationKind.BOUGHT_TOGETHER
    ).exists()


@pytest.mark.django_db
def test_pages_leave_out_sold_out_and_unpublished_products(shop):
    x = shop["x"]
    services.replace_recommendations(bought_together=[(x.pk, shop["dear"].pk, 2.0)])
    services.adjust_stock(variant_id=shop["twin"].variants.get().pk, delta=-10, reason="correction")
    services.set_published(product_ids=[shop["cousin"].pk], published=False)
    recommendations = selectors.recommendations_for(product=x)
    assert names(recommendations.bought_together) == ["Dear"]
    assert names(recommendations.similar) == ["Branded"]


@pytest.mark.django_db
def test_a_product_without_rows_gets_best_sellers_of_its_category(shop):
    recommendations = selectors.recommendations_for(product=shop["x"], limit=8)
    assert recommendations.bought_together == []
    assert set(names(recommendations.similar)) == {"Twin", "Cousin", "Dear"}


@pytest.mark.django_db
def test_cart_recommendations_add_up_over_the_cart_and_leave_the_cart_out(shop):
    x, twin, dear, branded = shop["x"], shop["twin"], shop["dear"], shop["branded"]
    services.replace_recommendations(
        bought_together=[
            (x.pk, dear.pk, 1.0),
            (x.pk, branded.pk, 2.0),
            (twin.pk, dear.pk, 2.0),
            (twin.pk, x.pk, 5.0),
        ]
    )
    found = selectors.recommended_with(product_ids=[x.pk, twin.pk])
    # Dear: 1 + 2 orders over the two, Branded: 2; then similar products by their best rank.
    assert names(found)[:3] == ["Dear", "Branded", "Cousin"]
    assert not {"X", "Twin"} & set(names(found))
    assert selectors.recommended_with(product_ids=[]) == []


@pytest.mark.django_db
def test_recently_viewed_keeps_order_and_skips_unpublished(shop):
    ids = [shop["dear"].pk, shop["hidden"].pk, shop["x"].pk, shop["twin"].pk]
    found = selectors.recently_viewed(product_ids=ids, exclude=[shop["x"].pk])
    assert names(found) == ["Dear", "Twin"]


def test_a_forged_or_garbled_cookie_reads_as_no_history(rf):
    request = rf.get("/")
    request.COOKIES[recently_viewed.COOKIE] = "1.2.3:forged"
    assert recently_viewed.viewed_product_ids(request) == []
    signer = get_cookie_signer(salt=recently_viewed.COOKIE + recently_viewed.SALT)
    request.COOKIES[recently_viewed.COOKIE] = signer.sign("7.x.7.." + ".8" * 30)
    assert recently_viewed.viewed_product_ids(request) == [7, 8]


# --- Pages ----------------------------------------------------------------------------------


def section(html: str, title_id: str) -> str:
    """The HTML of the section headed by the h2 with this id ('' when there is none)."""
    start = html.find(f'<h2 id="{title_id}"')
    return html[start : html.find("</section>", start)] if start >= 0 else ""


@pytest.mark.django_db
def test_product_page_shows_bought_together_then_similar_in_a_fixed_budget(
    client, shop, django_assert_max_num_queries
):
    x = shop["x"]
    services.replace_recommendations(bought_together=[(x.pk, shop["dear"].pk, 2.0)])
    with django_assert_max_num_queries(PRODUCT_BUDGET):
        html = client.get(x.get_absolute_url()).content.decode()
    assert names_in(section(html, "bought-together-title")) == ["Dear"]
    assert names_in(section(html, "similar-title")) == ["Twin", "Cousin", "Branded"]
    assert "Recently viewed" not in html


def names_in(html: str) -> list[str]:
    return re.findall(r'class="product-card__name">([^<]+)</h3>', html)


@pytest.mark.django_db
def test_a_rebuild_and_a_sell_out_reach_the_cached_product_page(
    client, shop, django_capture_on_commit_callbacks
):
    x = shop["x"]
    client.get(x.get_absolute_url())  # cached without bought-together rows
    with django_capture_on_commit_callbacks(execute=True):
        services.replace_recommendations(bought_together=[(x.pk, shop["dear"].pk, 2.0)])
    html = client.get(x.get_absolute_url()).content.decode()
    assert names_in(section(html, "bought-together-title")) == ["Dear"]
    with django_capture_on_commit_callbacks(execute=True):
        services.adjust_stock(
            variant_id=shop["dear"].variants.get().pk, delta=-10, reason="correction"
        )
    html = client.get(x.get_absolute_url()).content.decode()
    assert section(html, "bought-together-title") == ""


@pytest.mark.django_db
def test_recently_viewed_follows_the_visitor_without_a_session(
    client, shop, django_assert_max_num_queries
):
    x, twin, dear, hidden = shop["x"], shop["twin"], shop["dear"], shop["hidden"]
    client.get(twin.get_absolute_url())
    client.get(dear.get_absolute_url())
    client.cookies[recently_viewed.COOKIE] = get_cookie_signer(
        salt=recently_viewed.COOKIE + recently_viewed.SALT
    ).sign(f"{dear.pk}.{hidden.pk}.{twin.pk}")
    client.get(x.get_absolute_url())  # cached once: the next view is a warm page
    with django_assert_max_num_queries(WARM_PRODUCT_BUDGET):
        html = client.get(x.get_absolute_url()).content.decode()
    assert names_in(section(html, "recently-viewed-title")) == ["Dear", "Twin"]
    html = client.get(dear.get_absolute_url()).content.decode()
    assert names_in(section(html, "recently-viewed-title")) == ["X", "Twin"]
    assert "sessionid" not in client.cookies


@pytest.mark.django_db
def test_recently_viewed_is_never_served_to_another_visitor(client, shop):
    client.get(shop["twin"].get_absolute_url())
    client.get(shop["x"].get_absolute_url())
    stranger = type(client)()
    html = stranger.get(shop["x"].get_absolute_url()).content.decode()
    assert "Recently viewed" not in html


def test_signing_out_forgets_the_products_viewed(settings):
    # accounts' sign-out clears the cookies this setting names (accounts imports no catalog).
    assert recently_viewed.COOKIE in settings.SIGN_OUT_CLEARS_COOKIES
