from decimal import Decimal

import factory

from cart.tests.factories import CartFactory, CartLineFactory
from catalog.tests.factories import VariantFactory
from orders import services
from orders.models import ShippingMethod

ADDRESS = services.ShippingAddress(
    full_name="Ada Lovelace",
    phone="+442079460958",
    line1="12 Analytical Row",
    city="London",
    postcode="SW1A 1AA",
    country="GB",
)


class ShippingMethodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShippingMethod

    name = factory.Sequence(lambda n: f"Post {n}")
    price = Decimal("5.00")


def cart_with(*variants_and_quantities, user=None):
    cart = CartFactory(user=user)
    for variant, quantity in variants_and_quantities:
        CartLineFactory(cart=cart, variant=variant, quantity=quantity)
    return cart


def place(
    cart,
    *,
    method=None,
    user=None,
    email="ada@example.com",
    key=None,
    payment="manual",
    address=ADDRESS,
    points=0,
):
    """Quote then place, as the review page and its submit do."""
    method = method or ShippingMethodFactory()
    quote = services.quote_checkout(
        cart=cart,
        user=user,
        email=email,
        country=address.country,
        region=address.region,
        shipping_method=method,
        points=points,
    )
    return services.place_order(
        cart=cart,
        user=user,
        email=email,
        address=address,
        shipping_method_id=method.pk,
        payment_method=payment,
        idempotency_key=key or services.new_idempotency_key(),
        fingerprint=quote.fingerprint,
        points=points,
    )


def order_of(quantity=1, *, price=Decimal("10.00"), stock=10, **kwargs):
    variant = VariantFactory(price=price, stock=stock)
    return place(cart_with((variant, quantity)), **kwargs), variant
