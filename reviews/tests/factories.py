from decimal import Decimal

import factory

from accounts.tests.factories import UserFactory
from catalog.tests.factories import ProductFactory
from orders.models import FulfilmentStatus, Order, OrderLine
from reviews.models import Review, ReviewStatus


def order_holding(product, *, user, fulfilment=FulfilmentStatus.DELIVERED) -> Order:
    """An order of `user` holding one line of `product`, at fulfilment status `fulfilment`,
    written directly: the eligibility rule reads only who ordered what and where it is."""
    variant = product.variants.first()
    number = f"T{Order.objects.count() + 1:06d}"
    order = Order.objects.create(
        number=number,
        user=user,
        email=user.email,
        fulfilment_status=fulfilment,
        payment_status="paid",
        payment_method="manual",
        idempotency_key=f"key-{number}",
        ship_name="Ada Lovelace",
        ship_line1="12 Analytical Row",
        ship_city="London",
        ship_country="GB",
        shipping_method_name="Post",
        currency="USD",
        subtotal=Decimal("10.00"),
        total=Decimal("10.00"),
    )
    OrderLine.objects.create(
        order=order,
        variant=variant,
        product=product,
        product_name=product.name,
        sku=variant.sku if variant else "SKU",
        unit_price=Decimal("10.00"),
        quantity=1,
        total=Decimal("10.00"),
    )
    return order


class ReviewFactory(factory.django.DjangoModelFactory):
    """A review written straight to the table; call reviews.services.refresh_ratings after
    making approved ones, as the services would."""

    class Meta:
        model = Review

    product = factory.SubFactory(ProductFactory)
    user = factory.SubFactory(UserFactory)
    rating = 4
    title = factory.Sequence(lambda n: f"Review {n}")
    body = "Does what it says."
    status = ReviewStatus.APPROVED
