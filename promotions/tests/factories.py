from decimal import Decimal

import factory

from promotions.models import Coupon, MembershipTier, Offer, SpendTier


class CouponFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Coupon
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"SAVE{n}")
    kind = Coupon.Kind.PERCENT
    value = Decimal("10.00")


class OfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Offer
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Offer {n}")
    kind = Offer.Kind.SALE
    percent = Decimal("20.00")


def spend_offer(tiers, **kwargs) -> Offer:
    """A "spend X, save Y" offer with tiers given as {threshold: amount}."""
    offer = OfferFactory(kind=Offer.Kind.SPEND, percent=Decimal("0.00"), **kwargs)
    for threshold, amount in tiers.items():
        SpendTier.objects.create(offer=offer, threshold=Decimal(threshold), amount=Decimal(amount))
    return offer


class MembershipTierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MembershipTier

    name = factory.Sequence(lambda n: f"Tier {n}")
    min_spend = Decimal("1000.00")
    percent = Decimal("5.00")
