from datetime import date
from decimal import Decimal

import factory

from taxes.models import TaxClass, TaxRate


class TaxClassFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaxClass
        django_get_or_create = ("code",)

    code = TaxClass.STANDARD
    name = factory.LazyAttribute(lambda o: o.code.title())


class TaxRateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaxRate

    tax_class = factory.SubFactory(TaxClassFactory)
    country = "DE"
    region = ""
    rate = Decimal("19")
    name = "VAT"
    valid_from = date(2020, 1, 1)


def rates(*specs):
    """rates(("DE", "", "standard", "19"), ...): rate rows, classes made as needed."""
    return [
        TaxRateFactory(
            country=country,
            region=region,
            tax_class=TaxClassFactory(code=code),
            rate=Decimal(rate),
            name=name,
        )
        for country, region, code, rate, *rest in specs
        for name in [rest[0] if rest else "VAT"]
    ]
