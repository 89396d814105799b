"""The merchant's catalog admin: fast lists, product editing that keeps summaries right,
bulk actions through services, the low-stock list and the category tree."""

import csv
import io
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from catalog import services
from catalog.models import LOW_STOCK, Category, Product, ProductImage, StockMovement, Variant
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


def _variant_row(
    sku: str,
    price: str,
    *,
    loaded: str = "0",
    adjust: str = "",
    reason: str = "received",
    counted: str = "",
    **extra,
) -> dict:
    """A variant's row as the product page posts it: its stock only as the figure the page
    loaded and an adjustment or a count."""
    row = {
        "sku": sku,
        "price": price,
        "compare_at_price": "",
        "stock_loaded": loaded,
        "stock_adjust": adjust,
        "stock_reason": reason,
        "stock_counted": counted,
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
        **_inline(
            "specifications",
            [
                {
                    "name_en": "Material",
                    "value_en": "Linen",
                    "name_zh_hans": "材质",
                    "value_zh_hans": "亚麻",
                    "position": "0",
                }
            ],
        ),
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
            _variant_row("SHIRT-RED", "30.00", counted="4", option_values=[str(red.pk)]),
            _variant_row("SHIRT-BLUE", "25.00", adjust="6", option_values=[str(blue.pk)]),
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
    specification = product.specifications.get()
    assert (specification.value_en, specification.value_zh_hans) == ("Linen", "亚麻")
    [picture] = ProductImage.objects.filter(product=product)
    assert set(picture.thumbnails) == {"small", "card", "large"}
    opening = StockMovement.objects.filter(variant__product=product)
    assert sorted(opening.values_list("reason", "quantity")) == [("opening", 4), ("opening", 6)]


def test_editing_a_variant_price_and_count_in_the_admin_updates_the_product(admin_client):
    product = ProductFactory(variants__price=Decimal("10.00"), variants__stock=10)
    variant = product.variants.get()
    row = _variant_row(
        variant.sku, "7.50", loaded="10", counted="3", id=str(variant.pk), product=str(product.pk)
    )
    data = _product_form(
        product.category,
        [row],
        name=product.name,
        slug=product.slug,
    )
    data["variants-INITIAL_FORMS"] = "1"
    data["specifications-TOTAL_FORMS"] = "0"
    response = admin_client.post(reverse("admin:catalog_product_change", args=[product.pk]), data)
    assert response.status_code == 302, response.context["errors"]
    product.refresh_from_db()
    assert (product.price, product.stock) == (Decimal("7.50"), 3)
    count = StockMovement.objects.filter(variant=variant).first()
    assert (count.reason, count.quantity, count.stock_after) == ("count", -7, 3)
    assert count.actor.is_superuser


def test_product_without_options_must_have_exactly_one_active_variant(admin_client):
    data = _product_form(
        CategoryFactory(),
        [_variant_row("ONE", "10.00", counted="1"), _variant_row("TWO", "12.00", counted="1")],
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
        [
            _variant_row(
                variant.sku, "10.00", loaded="10", id=str(variant.pk), product=str(product.pk)
            )
        ],
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


def _list_post(variant, **stock) -> dict:
    return {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "form-0-id": str(variant.pk),
        **{f"form-0-stock_{key}": value for key, value in stock.items()},
        "_save": "Save",
    }


def test_receiving_stock_in_the_low_stock_list_records_a_movement(admin_client):
    product = ProductFactory(variants__stock=2)
    variant = product.variants.get()
    response = admin_client.post(
        VARIANTS, _list_post(variant, loaded="2", adjust="38", reason="received")
    )
    assert response.status_code == 302
    variant.refresh_from_db()
    product.refresh_from_db()
    assert (variant.stock, product.stock) == (40, 40)
    received = variant.stock_movements.first()
    assert (received.reason, received.quantity, received.stock_after) == ("received", 38, 40)


def test_counting_stock_in_the_low_stock_list_sets_what_was_counted(admin_client):
    variant = VariantFactory(stock=2)
    response = admin_client.post(VARIANTS, _list_post(variant, loaded="2", counted="0"))
    assert response.status_code == 302
    variant.refresh_from_db()
    assert variant.stock == 0
    assert variant.stock_movements.first().reason == "count"


def test_a_row_left_alone_in_the_low_stock_list_moves_nothing(admin_client):
    variant = VariantFactory(stock=2)
    admin_client.post(VARIANTS, _list_post(variant, loaded="2", adjust="", counted=""))
    assert variant.stock_movements.count() == 1  # its opening balance only


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"counted": "-3"}, "greater than or equal to 0"),
        ({"adjust": "-5", "reason": "correction"}, "below zero"),
        ({"adjust": "-1", "reason": "received"}, "positive number"),
        ({"adjust": "2", "counted": "4"}, "not both"),
        ({"adjust": "many"}, "whole number"),
    ],
)
def test_a_bad_stock_entry_in_the_low_stock_list_is_a_form_error(admin_client, entry, message):
    variant = VariantFactory(stock=2)
    response = admin_client.post(VARIANTS, _list_post(variant, loaded="2", **entry))
    assert response.status_code == 200
    assert message in response.text
    variant.refresh_from_db()
    assert variant.stock == 2 and variant.stock_movements.count() == 1


def test_a_count_entered_after_a_sale_is_refused_then_applies_when_saved_again(admin_client):
    variant = VariantFactory(stock=5)
    services.take_stock(quantities={variant.pk: 2})  # sold while the merchant counted
    response = admin_client.post(VARIANTS, _list_post(variant, loaded="5", counted="9"))
    assert response.status_code == 200
    assert "changed from 5 to 3 since this page was loaded" in response.text
    variant.refresh_from_db()
    assert variant.stock == 3
    # What the merchant typed is still there, with the stock now in the hidden field.
    form = response.context["cl"].formset.forms[0]
    assert form["stock"].value()[3] == "9"
    assert form.data["form-0-stock_loaded"] == "3"
    assert 'name="form-0-stock_loaded" value="3"' in response.text
    response = admin_client.post(VARIANTS, _list_post(variant, loaded="3", counted="9"))
    assert response.status_code == 302
    variant.refresh_from_db()
    assert variant.stock == 9


def test_an_adjustment_on_the_variant_page_after_a_sale_is_refused_and_kept(admin_client):
    variant = VariantFactory(stock=10, price=Decimal("10.00"))
    url = reverse("admin:catalog_variant_change", args=[variant.pk])
    data = _page_form(admin_client, url)
    services.take_stock(quantities={variant.pk: 1})
    data.update({"stock_adjust": ["5"], "price": ["11.00"]})
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "changed from 10 to 9 since this page was loaded" in response.text
    assert 'name="stock_adjust" value="5"' in response.text
    variant.refresh_from_db()
    assert (variant.stock, variant.price) == (9, Decimal("10.00"))  # nothing saved


def test_a_sale_between_the_check_and_the_save_is_a_message_not_an_error_page(
    admin_client, monkeypatch
):
    variant = VariantFactory(stock=10)
    url = reverse("admin:catalog_variant_change", args=[variant.pk])
    data = _page_form(admin_client, url)
    data["stock_counted"] = ["4"]
    original = services.count_stock

    def sold_meanwhile(**kwargs):
        raise services.StockChangedSinceLoaded(
            changed={variant.pk: (10, 9)}, skus={variant.pk: variant.sku}
        )

    monkeypatch.setattr(services, "count_stock", sold_meanwhile)
    response = admin_client.post(url, data, follow=True)
    monkeypatch.setattr(services, "count_stock", original)
    assert response.status_code == 200
    assert "from 10 to 9" in response.text
    variant.refresh_from_db()
    assert variant.stock == 10


def test_variant_and_product_pages_show_the_newest_stock_movements(admin_client):
    variant = VariantFactory(stock=10, sku="TEE-M")
    services.take_stock(quantities={variant.pk: 3}, reference="ORDER-42")
    page = admin_client.get(reverse("admin:catalog_variant_change", args=[variant.pk])).text
    assert "ORDER-42" in page and "-3" in page and "Opening balance" in page
    assert f"?variant__id__exact={variant.pk}" in page
    page = admin_client.get(reverse("admin:catalog_product_change", args=[variant.product_id]))
    assert "ORDER-42" in page.text and "TEE-M" in page.text


MOVEMENTS = reverse("admin:catalog_stockmovement_changelist")


def test_stock_movement_list_is_read_only_and_filters_by_reason_sku_and_reference(admin_client):
    variant = VariantFactory(stock=10, sku="MUG-1")
    other = VariantFactory(stock=4, sku="MUG-2")
    services.take_stock(quantities={variant.pk: 2}, reference="ORDER-7")
    assert len(_listed(admin_client.get(MOVEMENTS))) == 3
    assert [m.reason for m in _listed(admin_client.get(MOVEMENTS, {"reason__exact": "sale"}))] == [
        "sale"
    ]
    assert {m.variant_id for m in _listed(admin_client.get(MOVEMENTS, {"q": "MUG-2"}))} == {
        other.pk
    }
    assert [m.reference for m in _listed(admin_client.get(MOVEMENTS, {"q": "ORDER-7"}))] == [
        "ORDER-7"
    ]
    by_variant = admin_client.get(MOVEMENTS, {"variant__id__exact": str(variant.pk)})
    assert {m.variant_id for m in _listed(by_variant)} == {variant.pk}
    movement = StockMovement.objects.first()
    assert admin_client.get(reverse("admin:catalog_stockmovement_add")).status_code == 403
    change = admin_client.get(reverse("admin:catalog_stockmovement_change", args=[movement.pk]))
    assert change.status_code == 200 and 'name="_save"' not in change.text
    delete = reverse("admin:catalog_stockmovement_delete", args=[movement.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403


def test_stock_movement_list_query_budget_does_not_grow_with_rows(
    admin_client, django_assert_max_num_queries
):
    for _ in range(30):
        VariantFactory(stock=3)
    # User, the page of movements (variant, product and user joined); one more for the
    # session row when the cache does not hold it.
    with django_assert_max_num_queries(4):
        response = admin_client.get(MOVEMENTS)
    assert len(_listed(response)) == 30


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
            "name_en": "Men",
            "name_zh_hans": "男装",
            "slug": "men",
            "parent": str(clothing.pk),
            "description_en": "",
            "description_zh_hans": "",
            "position": "0",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    shirts.refresh_from_db()
    assert shirts.path == f"/{clothing.pk}/{men.pk}/"
    men.refresh_from_db()
    assert (men.name_en, men.name_zh_hans) == ("Men", "男装")


def test_category_list_is_indented_as_a_tree(admin_client, django_assert_max_num_queries):
    root = CategoryFactory(name="Clothing")
    CategoryFactory(name="Shirts", parent=root)
    CategoryFactory(name="Books")
    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse("admin:catalog_category_changelist"))
    names = [c.name for c in _listed(response)]
    assert names.index("Shirts") == names.index("Clothing") + 1
    assert "\u2003\u2002└ Shirts" in response.text
    assert "style=" not in response.text  # the Content-Security-Policy allows no inline style


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


# --- Stock moves only as movements (issue 12, item 8) ----------------------------------------


class _BrowserForm(HTMLParser):
    """What a browser would post back from an admin page, unchanged: every named input,
    checked box, selected option and textarea as the page rendered them."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._select = None
        self._first_option = None
        self._multiple = False
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.data.setdefault(name, []).append(attrs.get("value") or "")
            if kind == "checkbox" and "value" not in attrs:
                self.data[name][-1] = "on"
        elif tag == "select" and name:
            self._select, self._first_option = name, None
            self._multiple = "multiple" in attrs
            self.data.setdefault(name, [])
        elif tag == "option" and self._select:
            value = attrs.get("value") or ""
            if self._first_option is None:
                self._first_option = value
            if "selected" in attrs:
                self.data[self._select].append(value)
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = [""]

    def handle_endtag(self, tag):
        if tag == "select" and self._select:
            if not self.data[self._select] and not self._multiple and self._first_option:
                self.data[self._select] = [self._first_option]
            self._select = None
        elif tag == "textarea" and self._textarea:
            # Django writes a newline before a textarea's text; browsers drop it.
            value = self.data[self._textarea][0]
            self.data[self._textarea] = [value.removeprefix("\n")]
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea][0] += data


def _page_form(client, url) -> dict[str, list[str]]:
    """Open an admin page and return what its form would post if saved unchanged."""
    response = client.get(url)
    assert response.status_code == 200
    parser = _BrowserForm()
    parser.feed(response.content.decode())
    return parser.data


def test_saving_a_variant_page_loaded_before_a_sale_keeps_the_sale(admin_client):
    product = ProductFactory(variants__price=Decimal("10.00"), variants__stock=10)
    variant = product.variants.get()
    url = reverse("admin:catalog_variant_change", args=[variant.pk])
    data = _page_form(admin_client, url)
    services.take_stock(quantities={variant.pk: 3})  # a shopper buys while the page is open
    data["price"] = ["12.00"]
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["errors"]
    variant.refresh_from_db()
    product.refresh_from_db()
    assert variant.price == Decimal("12.00")
    assert (variant.stock, product.stock) == (7, 7)


def test_saving_a_product_page_loaded_before_a_sale_keeps_the_sale(admin_client):
    product = ProductFactory(variants__price=Decimal("10.00"), variants__stock=10)
    variant = product.variants.get()
    url = reverse("admin:catalog_product_change", args=[product.pk])
    data = _page_form(admin_client, url)
    services.take_stock(quantities={variant.pk: 3})
    data["variants-0-price"] = ["12.00"]
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["errors"]
    variant.refresh_from_db()
    product.refresh_from_db()
    assert (variant.price, product.price) == (Decimal("12.00"), Decimal("12.00"))
    assert (variant.stock, product.stock) == (7, 7)


def test_saving_the_low_stock_list_loaded_before_a_sale_keeps_the_sale(admin_client):
    variant = VariantFactory(stock=4)
    other = VariantFactory(stock=2)
    data = _page_form(admin_client, VARIANTS)
    services.take_stock(quantities={variant.pk: 3})
    data["_save"] = ["Save"]
    response = admin_client.post(VARIANTS, data)
    assert response.status_code in (200, 302)
    variant.refresh_from_db()
    other.refresh_from_db()
    assert (variant.stock, other.stock) == (1, 2)


def test_a_count_on_the_product_page_after_a_sale_is_refused_with_everything_typed_kept(
    admin_client,
):
    product = ProductFactory(name="Linen Shirt", variants__stock=10)
    variant = product.variants.get()
    url = reverse("admin:catalog_product_change", args=[product.pk])
    data = _page_form(admin_client, url)
    services.take_stock(quantities={variant.pk: 2})
    data.update({"name": ["Linen Shirt, washed"], "variants-0-stock_counted": ["12"]})
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "changed from 10 to 8 since this page was loaded" in response.text
    assert 'value="Linen Shirt, washed"' in response.text
    assert 'name="variants-0-stock_counted" value="12"' in response.text
    product.refresh_from_db()
    variant.refresh_from_db()
    assert (product.name, variant.stock) == ("Linen Shirt", 8)


def test_adding_a_variant_on_its_page_opens_its_ledger(admin_client):
    product = ProductFactory(variants=False)
    response = admin_client.post(
        reverse("admin:catalog_variant_add"),
        {
            "product": str(product.pk),
            "sku": "NEW-1",
            "price": "9.00",
            "compare_at_price": "",
            "stock_loaded": "0",
            "stock_adjust": "",
            "stock_reason": "received",
            "stock_counted": "5",
            "weight_grams": "0",
            "is_active": "on",
            "position": "0",
        },
    )
    assert response.status_code == 302, response.context["errors"]
    variant = Variant.objects.get(sku="NEW-1")
    assert variant.stock == 5 and Product.objects.get(pk=product.pk).stock == 5
    assert list(variant.stock_movements.values_list("reason", "quantity")) == [("opening", 5)]
