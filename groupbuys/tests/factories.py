from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from accounts.tests.factories import UserFactory
from cart import services as cart_services
from catalog.tests.factories import VariantFactory
from groupbuys.models import GroupOffer
from orders.tests.factories import ShippingMethodFactory, place
from payments.tests.factories import deliver, start


class GroupOfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GroupOffer

    product = factory.LazyAttribute(lambda o: VariantFactory(price=Decimal("30.00")).product)
    group_price = Decimal("20.00")
    group_size = 2
    hours = 24
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    ends_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


def variant_of(offer):
    return offer.product.variants.first()


def shopper(name="Jonathan Smith"):
    return UserFactory(full_name=name)


def check_out(user, method=None):
    """The shopper's cart through checkout, paid later by the sandbox."""
    return place(
        cart_services.cart_of(user=user),
        user=user,
        email=user.email,
        payment="sandbox",
        method=method or ShippingMethodFactory(),
    )


def pay(order):
    """The sandbox's signed callback for a payment of the whole order, as the webhook."""
    return deliver(start(order))
