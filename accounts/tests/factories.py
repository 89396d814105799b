import factory

from accounts.models import Address, User

PASSWORD = "correct-horse-battery-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"shopper{n}@example.com")
    full_name = factory.Sequence(lambda n: f"Shopper {n}")
    is_active = True
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


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
