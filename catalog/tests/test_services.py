import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection
from PIL import Image

from catalog import cache, services
from catalog.images import validate_product_image
from catalog.models import Category, Product, ProductImage, SearchTerm, Variant
from catalog.tests.factories import CategoryFactory, ProductFactory, VariantFactory


def png(width=400, height=300, fmt="PNG") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format=fmt)
    return SimpleUploadedFile(f"picture.{fmt.lower()}", buffer.getvalue())


@pytest.mark.django_db
def test_category_paths_describe_the_tree():
    root = CategoryFactory(name="Clothing")
    men = CategoryFactory(name="Men", parent=root)
    shirts = CategoryFactory(name="Shirts", parent=men)
    assert (root.path, men.path, shirts.path) == ("/", f"/{root.pk}/", f"/{root.pk}/{men.pk}/")
    below_root = Category.objects.filter(root.subtree_filter())
    assert set(below_root) == {root, men, shirts}
    assert shirts.ancestor_ids == [root.pk, men.pk]


@pytest.mark.django_db
def test_moving_a_category_moves_its_whole_subtree():
    clothing, sale = CategoryFactory(name="Clothing"), CategoryFactory(name="Sale")
    men = CategoryFactory(name="Men", parent=clothing)
    shirts = CategoryFactory(name="Shirts", parent=men)
    men.parent = sale
    services.save_category(category=men)
    shirts.refresh_from_db()
    assert shirts.path == f"/{sale.pk}/{men.pk}/"


@pytest.mark.django_db
def test_a_category_cannot_be_placed_below_itself():
    clothing = CategoryFactory(name="Clothing")
    men = CategoryFactory(name="Men", parent=clothing)
    clothing.parent = men
    with pytest.raises(services.CategoryCycle):
        services.save_category(category=clothing)
    clothing.refresh_from_db()
    assert clothing.parent is None and clothing.path == "/"


@pytest.mark.django_db
def test_product_summary_takes_the_cheapest_active_variant_and_total_stock():
    product = ProductFactory(variants=False)
    VariantFactory(product=product, price=Decimal("30.00"), stock=2)
    VariantFactory(
        product=product, price=Decimal("20.00"), compare_at_price=Decimal("25.00"), stock=3
    )
    VariantFactory(product=product, price=Decimal("5.00"), stock=50, is_active=False)
    product.refresh_from_db()
    assert product.price == Decimal("20.00")
    assert product.compare_at_price == Decimal("25.00")
    assert product.on_sale
    assert product.stock == 5


@pytest.mark.django_db
def test_stock_can_never_go_below_zero_in_the_database():
    variant = VariantFactory(stock=1)
    with pytest.raises(IntegrityError):
        Variant.objects.filter(pk=variant.pk).update(stock=-1)


@pytest.mark.django_db
def test_a_product_change_bumps_the_versions_of_its_page_its_categories_and_the_catalog(
    django_capture_on_commit_callbacks,
):
    parent = CategoryFactory(name="Parent")
    child = CategoryFactory(name="Child", parent=parent)
    other = CategoryFactory(name="Other")
    product = ProductFactory(category=child)
    scopes = [
        cache.product_scope(product.pk),
        cache.category_scope(child.pk),
        cache.category_scope(parent.pk),
        cache.CATALOG,
        cache.category_scope(other.pk),
    ]
    before = cache.versions(scopes)
    with django_capture_on_commit_callbacks(execute=True):  # versions move on commit
        services.refresh_products(product_ids=[product.pk])
    after = cache.versions(scopes)
    changed = {scope for scope in scopes if before[scope] != after[scope]}
    assert changed == set(scopes[:4])


@pytest.mark.django_db
def test_search_terms_collect_the_words_of_names_brands_and_categories():
    ProductFactory(name="Linen Shirt", category=CategoryFactory(name="Shirts"))
    assert {"linen", "shirt", "shirts"} <= set(SearchTerm.objects.values_list("word", flat=True))


@pytest.mark.django_db
def test_search_document_weights_the_name_above_the_description(postgres_only):
    named = ProductFactory(name="Kettle", description="boils water")
    described = ProductFactory(name="Teapot", description="a kettle companion")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT product_id, ts_rank(document, to_tsquery('english', 'kettle')) "
            "FROM catalog_searchdocument WHERE product_id IN (%s, %s)",
            [named.pk, described.pk],
        )
        ranks = dict(cursor.fetchall())
    assert ranks[named.pk] > ranks[described.pk] > 0


def test_a_real_image_passes_validation():
    validate_product_image(png())


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("notes.png", b"not an image at all"), "not an image"),
        (png(50, 50), "too small"),
        (png(fmt="BMP"), "JPEG, PNG, WebP or GIF"),
    ],
)
def test_bad_uploads_are_refused_with_a_clear_message(upload, message):
    with pytest.raises(ValidationError, match=message):
        validate_product_image(upload)


def test_a_decompression_bomb_is_refused_before_it_is_decoded():
    # A 12 kB PNG that claims 10,000 x 10,000 pixels (100 megapixels).
    buffer = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buffer, format="PNG")
    bomb = SimpleUploadedFile("bomb.png", buffer.getvalue())
    assert bomb.size < 100_000
    with pytest.raises(ValidationError, match=r"megapixels|not an image"):
        validate_product_image(bomb)


@pytest.mark.django_db
def test_thumbnails_are_made_once_when_the_image_is_saved(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    product = ProductFactory()
    image = services.save_product_image(
        image=ProductImage(product=product, image=png(1600, 1200), alt_text="Front"),
        new_file=True,
    )
    assert set(image.thumbnails) == {"small", "card", "large"}
    assert (image.card.width, image.card.height) == (480, 360)
    assert (tmp_path / image.thumbnails["large"]["name"]).exists()
    image.alt_text = "Front view"
    services.save_product_image(image=image, new_file=False)
    assert ProductImage.objects.get(pk=image.pk).thumbnails == image.thumbnails


@pytest.mark.django_db
def test_wishlist_holds_a_product_once(django_user_model):
    user = django_user_model.objects.create_user(email="w@example.com", password="x-secret-1")
    product = ProductFactory()
    services.add_to_wishlist(user=user, product=product)
    services.add_to_wishlist(user=user, product=product)
    assert user.wishlist_items.count() == 1
    assert services.remove_from_wishlist(user=user, product_id=product.pk)
    assert not services.remove_from_wishlist(user=user, product_id=product.pk)


@pytest.mark.django_db
def test_rebuild_search_index_covers_every_product():
    ProductFactory.create_batch(3)
    SearchTerm.objects.all().delete()
    assert services.rebuild_search_index() == Product.objects.count()
    assert SearchTerm.objects.exists()


@pytest.mark.django_db
def test_rebuild_facets_command_rebuilds_every_row():
    from io import StringIO

    from django.core.management import call_command

    from catalog.models import ProductOption
    from catalog.tests.factories import OptionValueFactory, ProductFactory, VariantFactory

    product = ProductFactory(variants=False)
    VariantFactory(product=product, option_values=[OptionValueFactory(value="Red")])
    ProductOption.objects.all().delete()
    out = StringIO()
    call_command("rebuild_facets", stdout=out)
    assert "Facet rows: 1 " in out.getvalue()
    assert ProductOption.objects.filter(product=product, option_value__slug="red").exists()
