import pytest
from django.contrib.auth import authenticate, get_user_model
from django.db import IntegrityError

User = get_user_model()


@pytest.mark.django_db
def test_email_is_the_login_and_is_stored_in_one_spelling(rf):
    user = User.objects.create_user(email="  Ada.Lovelace@Example.COM ", password="analytical-1843")
    assert user.email == "ada.lovelace@example.com"
    assert (
        authenticate(rf.post("/"), email="ADA.LOVELACE@example.com", password="analytical-1843")
        == user
    )


@pytest.mark.django_db
def test_email_uniqueness_ignores_case_even_without_normalising():
    User.objects.create(email="bob@example.com")
    with pytest.raises(IntegrityError):
        User.objects.create(email="Bob@Example.com")


@pytest.mark.django_db
def test_create_user_refuses_an_email_that_differs_only_in_case():
    User.objects.create_user(email="carol@example.com", password="pw-for-carol-1")
    with pytest.raises(IntegrityError):
        User.objects.create_user(email="CAROL@example.com", password="pw-for-carol-2")


@pytest.mark.django_db
def test_a_user_needs_an_email_or_a_phone_number():
    with pytest.raises(IntegrityError):
        User.objects.create()


@pytest.mark.django_db
def test_passwords_are_hashed_with_argon2():
    user = User.objects.create_user(email="dan@example.com", password="correct horse")
    assert user.password.startswith("argon2")


@pytest.mark.django_db
def test_an_address_prints_in_the_countrys_order():
    from accounts.tests.factories import AddressFactory

    us = AddressFactory.build(city="Arlington", region="VA", postcode="22202", country="US")
    assert "Arlington, VA 22202" in us.lines()
    gb = AddressFactory.build(city="London", postcode="SW1A 1AA", country="GB")
    assert gb.lines()[-2:] == ["SW1A 1AA London", "United Kingdom"]
