"""Lines and a fixed clock for promotion tests."""

from datetime import UTC, datetime
from decimal import Decimal

from promotions.pricing import LineInput

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def line(key=1, price="10.00", quantity=1, product_id=None, category_path="/1/", variant_id=None):
    return LineInput(
        key=key,
        variant_id=variant_id or key,
        product_id=product_id or key,
        category_path=category_path,
        unit_price=Decimal(price),
        quantity=quantity,
    )


def line_of(variant, key=None, quantity=1) -> LineInput:
    """A LineInput for a catalog variant, as the cart builds it."""
    product = variant.product
    category = product.category
    return LineInput(
        key=key or variant.pk,
        variant_id=variant.pk,
        product_id=product.pk,
        category_path=f"{category.path}{category.pk}/",
        unit_price=variant.price,
        quantity=quantity,
    )
