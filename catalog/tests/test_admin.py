"""The merchant's catalog admin: fast lists, product editing that keeps summaries right,
bulk actions through services, the low-stock list and the category tree."""

import csv
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from catalog.models import LOW_STOCK, Category, Product, ProductImage, Variant
from catalog.tests.factories import (
    BrandFactory,
    CategoryFactory,
    OptionValueFactory,
    ProductFactory,
    ProductImageFactory,
    TagFactory,
    VariantFactory,
    png_bytes,
)

pytestmark = pytest.mark.django_db

PRODUCTS = reverse("admin:catalog_product_changelist")
ADD_PRODUCT = reverse("admin:catalog_product_add")
VARIANTS = reverse("admin:catalog_variant_changelist")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _listed(response) -> list:
    return list(response.context["cl"].result_list)


def _inline(prefix: str, rows: list[dict], initial: int = 0) -> dict:
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{key}": value for key, value in row.items()})
    return data


def _variant_row(sku: str, price: str, stock: str, **extra) -> dict:
    row = {
        "sku": sku,
        "price": price,
        "compare_at_price": "",
        "stock": stock,
        "weight_grams": "0",
        "is_active": "on",
        "position": "0",
    }
    row.update(extra)
    return {key: value for key, value in row.items() if value is not None}


def _product_form(category, variants: list[dict], images: list[dict] = (), **extra) -> dict:
    data = {
        "name": "Linen Shirt",
        "slug": "linen-shirt",
        "category": str(category.pk),
        "brand": "",
        "description": "Cool in summer.",
        "is_published": "on",
        **_inline("variants", variants),
        **_inline("images", list(images)),
        **_inline("specifications", [{"name": "Material", "value": "Linen", "position": "0"}]),
    }
    data.update(extra)
    return data


# --- Product list ---------------------------------------------------------------------------

#: The signed-in user, the page of products (category and brand joined), the paginator's
#: count of the filtered rows, the brand filter's brands and the category filter's top level:
#: 5, plus one for the session row when the cache does not hold it. The same for 5 as for 50.
CHANGELIST_BUDGET = 6


@pytest.mark.parametrize("count", [5, 50])
def test_product_changelist_query_budget_is_the_same_for_5_and_50_products(
    admin_client, django_assert_max_num_queries, count
):
    brand = BrandFactory()
    category = CategoryFactory()
    for _ in range(count):
        ProductFactory(brand=brand, category=category)
    with django_assert_max_num_queries(CHANGELIST_BUDGET):
        response = admin_client.get(PRODUCTS)
    assert response.status_code == 200
    assert len(_listed(response)) == count


def test_product_search_by_sku_lists_a_product_once(admin_client):
    product = ProductFactory(name="Rain Jacket", variants=False)
    for size in ("S", "M", "L"):
        VariantFactory(product=product, sku=f"JACKET-{size}")
    ProductFactory(name="Umbrella")
    response = admin_client.get(PRODUCTS, {"q": "jacket-"})
    assert _listed(response) == [product]
    response = admin_client.get(PRODUCTS, {"q": "umbrella"})
    assert [p.name for p in _listed(response)] == ["Umbrella"]


def test_product_stock_filter_splits_in_stock_low_stock_and_sold_out(admin_client):
    plenty = ProductFactory(name="Plenty", variants__stock=LOW_STOCK + 1)
    low = ProductFactory(name="Low", variants__stock=LOW_STOCK)
    sold_out = ProductFactory(name="Sold out", variants__stock=0)
    assert _listed(admin_client.get(PRODUCTS, {"stock": "in"})) == [plenty]
    assert _listed(admin_client.get(PRODUCTS, {"stock": "low"})) == [low]
    assert _listed(admin_client.get(PRODUCTS, {"stock": "out"})) == [sold_out]


def test_category_filter_shows_products_of_the_whole_subtree(admin_client):
    clothing = CategoryFactory(name="Clothing")
    shirts = CategoryFactory(name="Shirts", parent=clothing)
    shirt = ProductFactory(category=shirts)
    ProductFactory(category=CategoryFactory(name="Books"))
    response = admin_client.get(PRODUCTS, {"category": str(clothing.pk)})
    assert _listed(response) == [shirt]
    assert "Shirts" in response.text  # the chosen node's children are offered next


def test_category_filter_with_an_unknown_category_lists_nothing(admin_client):
    ProductFactory()
    response = admin_client.get(PRODUCTS, {"category": "999999"})
    assert response.status_code == 200 and _listed(response) == []


# --- Product editing ------------------------------------------------------------------------


def test_adding_a_product_with_inlines_sets_its_price_and_stock_summary(admin_client):
    category = CategoryFactory()
    red, blue = OptionValueFactory(value="Red"), OptionValueFactory(value="Blue")
    image = SimpleUploadedFile("shirt.png", png_bytes(), content_type="image/png")
    data = _product_form(
        category,
        [
            _variant_row("SHIRT-RED", "30.00", "4", option_values=[str(red.pk)]),
            _variant_row("SHIRT-BLUE", "25.00", "6", option_values=[str(blue.pk)]),
        ],
        images=[{"image": image, "alt_text": "A linen shirt", "position": "0"}],
        tags=[str(TagFactory().pk)],
    )
    response = admin_client.post(ADD_PRODUCT, data)
    assert response.status_code == 302, response.context["errors"]
    product = Product.objects.get(slug="linen-shirt")
    assert product.price == Decimal("25.00")
    assert product.stock == 10
    assert product.tags.count() == 1
    assert product.specifications.get().value == "Linen"
    [picture] = ProductImage.objects.filter(product=product)
    assert set(picture.thumbnails) == {"small", "card", "large"}


def test_editing_a_variant_price_in_the_admin_updates_the_product_price(admin_client):
    product = ProductFactory(variants__price=Decimal("10.00"))
    variant = product.variants.get()
    data = _product_form(
        product.category,
        [_variant_row(variant.sku, "7.50", "3", id=str(variant.pk), product=str(product.pk))],
        name=product.name,
        slug=product.slug,
    )
    data["variants-INITIAL_FORMS"] = "1"
    data["specifications-TOTAL_FORMS"] = "0"
    response = admin_client.post(reverse("admin:catalog_product_change", args=[product.pk]), data)
    assert response.status_code == 302, response.context["errors"]
    product.refresh_from_db()
    assert (product.price, product.stock) == (Decimal("7.50"), 3)


def test_product_without_options_must_have_exactly_one_active_variant(admin_client):
    data = _product_form(
        CategoryFactory(),
        [_variant_row("ONE", "10.00", "1"), _variant_row("TWO", "12.00", "1")],
    )
    response = admin_client.post(ADD_PRODUCT, data)
    assert response.status_code == 200
    assert "exactly one active variant" in response.text
    assert not Product.objects.exists()


def test_product_must_have_at_least_one_variant(admin_client):
    response = admin_client.post(ADD_PRODUCT, _product_form(CategoryFactory(), []))
    assert response.status_code == 200
    assert "at least one variant" in response.text
    assert not Product.objects.exists()


def test_product_change_page_shows_the_image_thumbnail_preview(admin_client):
    picture = ProductImageFactory()
    response = admin_client.get(reverse("admin:catalog_product_change", args=[picture.product_id]))
    assert response.status_code == 200
    assert picture.thumbnails["small"]["name"] in response.text


def test_replacing_an_image_file_in_the_admin_makes_new_thumbnails(admin_client):
    picture = ProductImageFactory()
    product = picture.product
    variant = product.variants.get()
    old_small = picture.thumbnails["small"]["name"]
    data = _product_form(
        product.category,
        [_variant_row(variant.sku, "10.00", "10", id=str(variant.pk), product=str(product.pk))],
        images=[
            {
                "id": str(picture.pk),
                "product": str(product.pk),
                "image": SimpleUploadedFile("new.png", png_bytes(colour=(0, 0, 200))),
                "alt_text": "New",
                "position": "0",
            }
        ],
        name=product.name,
        slug=product.slug,
    )
    data.update({"variants-INITIAL_FORMS": "1", "images-INITIAL_FORMS": "1"})
    response = admin_client.post(reverse("admin:catalog_product_change", args=[product.pk]), data)
    assert response.status_code == 302, response.context["errors"]
    picture.refresh_from_db()
    assert picture.thumbnails["small"]["name"] != old_small


# --- Bulk actions ---------------------------------------------------------------------------


def _act(client, action: str, products) -> object:
    return client.post(
        PRODUCTS, {"action": action, "_selected_action": [str(p.pk) for p in products]}
    )


def test_bulk_publish_and_unpublish_change_only_the_selected_products(admin_client):
    chosen = [ProductFactory(is_published=False) for _ in range(3)]
    other = ProductFactory(is_published=False)
    assert _act(admin_client, "publish", chosen).status_code == 302
    assert Product.objects.filter(is_published=True).count() == 3
    assert not Product.objects.get(pk=other.pk).is_published
    _act(admin_client, "unpublish", chosen[:2])
    assert list(Product.objects.filter(is_published=True)) == [chosen[2]]


def test_bulk_feature_and_unfeature(admin_client):
    products = [ProductFactory() for _ in range(2)]
    _act(admin_client, "feature", products)
    assert Product.objects.filter(is_featured=True).count() == 2
    _act(admin_client, "unfeature", products[:1])
    assert list(Product.objects.filter(is_featured=True)) == [products[1]]


def test_export_selected_as_csv_streams_one_row_per_variant(admin_client):
    product = ProductFactory(slug="tee", variants=False)
    VariantFactory(product=product, sku="TEE-S")
    VariantFactory(product=product, sku="TEE-M")
    ProductFactory(slug="not-chosen")
    response = _act(admin_client, "export_csv", [product])
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [(r["product_slug"], r["sku"]) for r in rows] == [("tee", "TEE-S"), ("tee", "TEE-M")]


# --- Low-stock list -------------------------------------------------------------------------


def test_low_stock_list_shows_only_active_variants_at_or_below_the_threshold(admin_client):
    low = VariantFactory(stock=LOW_STOCK)
    VariantFactory(stock=LOW_STOCK + 1)
    VariantFactory(stock=0, is_active=False)
    sold_out = VariantFactory(stock=0)
    response = admin_client.get(VARIANTS)
    assert response.status_code == 200
    assert _listed(response) == [sold_out, low]
    assert len(_listed(admin_client.get(VARIANTS, {"level": "all"}))) == 4


def test_low_stock_list_query_budget_does_not_grow_with_rows(
    admin_client, django_assert_max_num_queries
):
    for _ in range(30):
        VariantFactory(stock=1)
    # User, count, the page (products joined), the option values of the page (one query).
    with django_assert_max_num_queries(6):
        response = admin_client.get(VARIANTS)
    assert len(_listed(response)) == 30


def test_editing_stock_in_the_low_stock_list_refreshes_the_product(admin_client):
    product = ProductFactory(variants__stock=2)
    variant = product.variants.get()
    response = admin_client.post(
        VARIANTS,
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-MIN_NUM_FORMS": "0",
            "form-MAX_NUM_FORMS": "1000",
            "form-0-id": str(variant.pk),
            "form-0-stock": "40",
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    variant.refresh_from_db()
    product.refresh_from_db()
    assert variant.stock == 40
    assert product.stock == 40


def test_negative_stock_in_the_low_stock_list_is_a_form_error(admin_client):
    variant = VariantFactory(stock=2)
    response = admin_client.post(
        VARIANTS,
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-MIN_NUM_FORMS": "0",
            "form-MAX_NUM_FORMS": "1000",
            "form-0-id": str(variant.pk),
            "form-0-stock": "-3",
            "_save": "Save",
        },
    )
    assert response.status_code == 200
    variant.refresh_from_db()
    assert variant.stock == 2


# --- Categories -----------------------------------------------------------------------------


def test_placing_a_category_under_its_own_child_is_a_form_error(admin_client):
    parent = CategoryFactory(name="Clothing", slug="clothing")
    child = CategoryFactory(name="Shirts", slug="shirts", parent=parent)
    response = admin_client.post(
        reverse("admin:catalog_category_change", args=[parent.pk]),
        {
            "name": "Clothing",
            "slug": "clothing",
            "parent": str(child.pk),
            "description": "",
            "position": "0",
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "inside itself" in str(response.context["adminform"].form.errors["parent"])
    parent.refresh_from_db()
    assert parent.parent_id is None and parent.path == "/"


def test_moving_a_category_in_the_admin_updates_the_paths_below_it(admin_client):
    clothing = CategoryFactory(name="Clothing", slug="clothing")
    men = CategoryFactory(name="Men", slug="men")
    shirts = CategoryFactory(name="Shirts", slug="shirts", parent=men)
    response = admin_client.post(
        reverse("admin:catalog_category_change", args=[men.pk]),
        {
            "name": "Men",
            "slug": "men",
            "parent": str(clothing.pk),
            "description": "",
            "position": "0",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    shirts.refresh_from_db()
    assert shirts.path == f"/{clothing.pk}/{men.pk}/"


def test_category_list_is_indented_as_a_tree(admin_client, django_assert_max_num_queries):
    root = CategoryFactory(name="Clothing")
    CategoryFactory(name="Shirts", parent=root)
    CategoryFactory(name="Books")
    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse("admin:catalog_category_changelist"))
    names = [c.name for c in _listed(response)]
    assert names.index("Shirts") == names.index("Clothing") + 1
    assert "padding-left: 1.5em" in response.text


@pytest.mark.parametrize(
    "model", ["brand", "tag", "optiontype", "optionvalue", "category", "product", "variant"]
)
def test_every_catalog_admin_list_and_add_page_opens(admin_client, model):
    ProductFactory(brand=BrandFactory(), variants__stock=1)
    assert admin_client.get(reverse(f"admin:catalog_{model}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"admin:catalog_{model}_add")).status_code == 200


def test_option_values_are_offered_by_autocomplete_on_variants(admin_client):
    red = OptionValueFactory(value="Red")
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "catalog",
            "model_name": "variant",
            "field_name": "option_values",
            "term": "re",
        },
    )
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [str(red.pk)]


def test_deleting_a_product_in_the_admin_removes_its_variants(admin_client):
    product = ProductFactory()
    response = admin_client.post(
        reverse("admin:catalog_product_delete", args=[product.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Product.objects.exists() and not Variant.objects.exists()
    assert Category.objects.exists()
