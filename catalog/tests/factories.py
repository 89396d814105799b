import io
from decimal import Decimal

import factory
from django.core.files.base import ContentFile
from django.utils.text import slugify
from PIL import Image

from catalog import services
from catalog.models import (
    Brand,
    Category,
    OptionType,
    OptionValue,
    Product,
    ProductImage,
    Tag,
    Variant,
)


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.name))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.save_category(category=model_class(*args, **kwargs))


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Brand {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.name))


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Tag {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.name))


class OptionTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OptionType
        django_get_or_create = ("slug",)

    name = "Colour"
    slug = factory.LazyAttribute(lambda o: slugify(o.name))


class OptionValueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OptionValue
        django_get_or_create = ("option_type", "slug")

    option_type = factory.SubFactory(OptionTypeFactory)
    value = "Red"
    slug = factory.LazyAttribute(lambda o: slugify(o.value))


class ProductFactory(factory.django.DjangoModelFactory):
    """A published product; `price`/`stock` make its one variant (pass variants=False for none)."""

    class Meta:
        model = Product
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.name))
    category = factory.SubFactory(CategoryFactory)
    is_published = True

    @factory.post_generation
    def variants(product, create, extracted, **kwargs):
        if not create or extracted is False:
            return
        VariantFactory(
            product=product,
            price=kwargs.get("price", Decimal("10.00")),
            stock=kwargs.get("stock", 10),
            compare_at_price=kwargs.get("compare_at_price"),
        )


class VariantFactory(factory.django.DjangoModelFactory):
    """A variant with its opening stock movement (so its ledger adds up to its stock), and
    its product's summary columns refreshed."""

    class Meta:
        model = Variant
        skip_postgeneration_save = True

    product = factory.SubFactory(ProductFactory, variants=False)
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    price = Decimal("10.00")
    stock = 10

    @factory.post_generation
    def option_values(variant, create, extracted, **kwargs):
        if create and extracted:
            variant.option_values.set(extracted)
        if create:
            services.record_opening_stock(variants=[variant])
            services.refresh_products(product_ids=[variant.product_id])


def png_bytes(size: int = 200, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A real PNG that passes validate_product_image (at least 100 px a side)."""
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


class ProductImageFactory(factory.django.DjangoModelFactory):
    """An image saved through services.save_product_image, so it has its thumbnails.

    Writes files: use it with a `settings.MEDIA_ROOT = tmp_path` fixture.
    """

    class Meta:
        model = ProductImage

    product = factory.SubFactory(ProductFactory)
    image = factory.LazyFunction(lambda: ContentFile(png_bytes(), name="picture.png"))
    alt_text = factory.Sequence(lambda n: f"Picture {n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.save_product_image(image=model_class(*args, **kwargs), new_file=True)


#: A jacket as the demo catalog makes them, in colours and sizes: (colour, size) -> units in
#: stock. Red L, navy M and sand M are sold out; there is no navy L.
JACKET_STOCK = {
    ("Red", "S"): 8,
    ("Red", "M"): 2,
    ("Red", "L"): 0,
    ("Navy", "S"): 5,
    ("Navy", "M"): 0,
    ("Sand", "M"): 0,
}
