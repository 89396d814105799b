from functools import cache

import factory
from django.contrib.auth.hashers import make_password

from accounts.models import Address, User

PASSWORD = "correct-horse-battery-42"


@cache
def hashed_password() -> str:
    """PASSWORD hashed once (Argon2; production's cost took half a minute for a test that
    needs 100 shoppers when hashed per user)."""
    return make_password(PASSWORD)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"shopper{n}@example.com")
    full_name = factory.Sequence(lambda n: f"Shopper {n}")
    is_active = True
    password = factory.LazyFunction(hashed_password)


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Address

    user = factory.SubFactory(UserFactory)
    full_name = "Ada Lovelace"
    phone = "+442079460958"
    line1 = factory.Sequence(lambda n: f"{n + 1} Analytical Row")
    line2 = ""
    city = "London"
    region = ""
    postcode = "SW1A 1AA"
    country = "GB"
