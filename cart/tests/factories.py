import factory

from cart.models import Cart, CartLine
from catalog.tests.factories import VariantFactory


class CartFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cart


class CartLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CartLine

    cart = factory.SubFactory(CartFactory)
    variant = factory.SubFactory(VariantFactory)
    quantity = 1
    seen_price = factory.LazyAttribute(lambda line: line.variant.price)
