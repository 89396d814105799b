"""Search's typo correction (catalog.search) and the search box's suggestions."""

import pytest

from catalog import search, services
from catalog.demo import create_demo_catalog
from catalog.models import SearchTerm
from catalog.tests.factories import BrandFactory, CategoryFactory, ProductFactory
from shop.tests.test_health import UNREACHABLE_REDIS


def swaps(word: str):
    """Every typo of `word` that swaps two neighbouring letters."""
    for i in range(len(word) - 1):
        typo = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        if typo != word:
            yield typo


@pytest.mark.django_db
def test_every_catalog_word_survives_a_swap_of_two_neighbouring_letters(client):
    """The README's promise ("iphnoe" finds iPhone) for every word of five letters or more
    of the demo catalog, at every place in the word."""
    create_demo_catalog(products=300)
    words = search.vocabulary()
    swept = [word for word in words.words if len(word) >= 5 and word.isalpha()]
    assert len(swept) > 60  # the demo's brands, adjectives, nouns and categories
    wrong = {}
    for word in swept:
        for typo in swaps(word):
            if typo in words.counts:
                continue  # another catalog word, not a typo
            corrected = search.corrected_query(typo)
            if corrected != word:
                wrong[typo] = corrected
    assert wrong == {}
    for word in swept:
        typo = next(typo for typo in swaps(word) if typo not in words.counts)
        response = client.get("/search/", {"q": typo})
        assert response.context["corrected"] == word, typo
        assert response.context["listing"].count > 0, f"{typo} -> {word} finds nothing"


@pytest.mark.django_db
def test_a_typo_is_corrected_to_the_word_meant_not_a_short_one(client):
    """The defect: "Paepr" answered "pan" (32 pans), a short word sharing trigrams."""
    books = CategoryFactory(name="Books")
    press = BrandFactory(name="Paper Crane Press")
    ProductFactory(name="Paper Crane Novel", brand=press, category=books)
    ProductFactory(name="Lantern Field Guide", category=books)
    ProductFactory(name="Coastal Wool Coat", category=CategoryFactory(name="Coats"))
    for n in range(5):
        ProductFactory(name=f"Frying Pan {n}", category=CategoryFactory(name=f"Pans {n}"))
    assert search.corrected_query("Paepr") == "paper"
    assert search.corrected_query("Lanetrn") == "lantern"
    assert search.corrected_query("Coatsal") == "coastal"
    html = client.get("/search/", {"q": "Paepr"}).content.decode()
    assert "Showing results for <strong>paper</strong>" in html
    assert "Paper Crane Novel" in html and "Frying Pan" not in html


@pytest.mark.django_db
def test_a_typo_in_a_hyphenated_word_is_corrected_in_place(client):
    ProductFactory(name="Northwind Crew T-shirt")
    assert search.corrected_query("T-sihrt") == "t-shirt"
    html = client.get("/search/", {"q": "T-sihrt"}).content.decode()
    assert "Showing results for <strong>t-shirt</strong>" in html
    assert "Northwind Crew" in html


@pytest.mark.django_db
def test_between_equally_close_words_the_commoner_wins():
    for n in range(3):
        ProductFactory(name=f"Desk Lamp {n}")
    ProductFactory(name="Lamb Stew Cookbook")
    services.recount_search_terms()  # daily: words added one product at a time count 1
    assert search.corrected_query("lamq") == "lamp"


@pytest.mark.django_db
def test_recounting_makes_word_counts_exact_and_drops_words_no_product_names():
    lamps = [ProductFactory(name=f"Desk Lamp {n}") for n in range(3)]
    gone = ProductFactory(name="Zeppelin Model")
    gone.delete()
    services.recount_search_terms()
    counts = dict(SearchTerm.objects.values_list("word", "product_count"))
    assert counts["lamp"] == len(lamps) and "zeppelin" not in counts


@pytest.mark.django_db
def test_words_too_far_from_any_catalog_word_are_left_alone():
    ProductFactory(name="Desk Lamp")
    assert search.corrected_query("zzzzqqq") is None
    assert search.corrected_query("lamp") is None  # known: nothing to correct
    assert search.corrected_query("12345") is None


#: Suggestions on a cold cache: the category tree and the matching products with their
#: first pictures; a query matching nothing also loads the catalog's words (to correct it)
#: and asks again with the corrected query.
SUGGEST_BUDGET = 2
MISSED_SUGGEST_BUDGET = 4


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 12])
def test_suggestions_list_products_and_categories_within_the_budget(
    client, count, django_assert_max_num_queries
):
    lamps = CategoryFactory(name="Lamps")
    for n in range(count):
        ProductFactory(name=f"Lantern {n}", category=lamps)
    ProductFactory(name="Lamb Stew Cookbook")
    with django_assert_max_num_queries(SUGGEST_BUDGET):
        data = client.get("/search/suggest", {"q": "lant"}).json()
    assert len(data["products"]) == min(count, 6)
    first = data["products"][0]
    assert first["name"].startswith("Lantern") and first["url"].startswith("/p/")
    assert first["price"].startswith("$") and "image" in first
    assert data["search_url"] == "/search/?q=lant"
    la = client.get("/search/suggest", {"q": "la"}).json()
    assert {c["name"] for c in la["categories"]} == {"Lamps"}


@pytest.mark.django_db
def test_suggestions_correct_a_typo(client, django_assert_max_num_queries):
    ProductFactory(name="Lantern Field Guide")
    with django_assert_max_num_queries(MISSED_SUGGEST_BUDGET):
        data = client.get("/search/suggest", {"q": "Lanetrn"}).json()
    assert data["corrected"] == "lantern"
    assert [p["name"] for p in data["products"]] == ["Lantern Field Guide"]


@pytest.mark.django_db
def test_suggestions_are_cached_until_the_catalog_changes(
    client, django_assert_num_queries, django_capture_on_commit_callbacks
):
    product = ProductFactory(name="Lantern")
    client.get("/search/suggest", {"q": "lant"})
    with django_assert_num_queries(0):
        cached = client.get("/search/suggest", {"q": "lant"}).json()
    assert [p["name"] for p in cached["products"]] == ["Lantern"]
    with django_capture_on_commit_callbacks(execute=True):
        product.name = "Lantern Deluxe"
        product.save()
        services.refresh_products(product_ids=[product.pk])
    fresh = client.get("/search/suggest", {"q": "lant"}).json()
    assert [p["name"] for p in fresh["products"]] == ["Lantern Deluxe"]


@pytest.mark.django_db
def test_suggestions_are_cached_per_language(client):
    ProductFactory(name="Lantern", variants__price="1234.50")
    english = client.get("/search/suggest", {"q": "lant"}).json()
    chinese = client.get("/zh-hans/search/suggest", {"q": "lant"}).json()
    assert english["products"][0]["price"] == "$1,234.50"
    assert chinese["products"][0]["price"] == "US$1,234.50"  # not English's, from the cache


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["", " ", "l", "x" * 1000, "'; --", "&|!:*()"])
def test_any_suggestion_query_gives_json(client, query, django_assert_max_num_queries):
    ProductFactory(name="Lantern")
    with django_assert_max_num_queries(MISSED_SUGGEST_BUDGET):
        response = client.get("/search/suggest", {"q": query})
    assert response.status_code == 200
    data = response.json()
    assert data["products"] == [] and data["categories"] == []


@pytest.mark.django_db
def test_suggestions_work_without_the_cache(client, settings):
    ProductFactory(name="Lantern")
    settings.CACHES = UNREACHABLE_REDIS
    data = client.get("/search/suggest", {"q": "lant"}).json()
    assert [p["name"] for p in data["products"]] == ["Lantern"]
