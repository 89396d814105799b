"""accounts.signals.email_verified: sent only once the address is proven."""

import pytest
from django.core import mail
from django.urls import reverse

from accounts import services
from accounts.signals import email_verified
from accounts.tests.factories import PASSWORD, UserFactory

SITE = "http://testserver/"
pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    calls = []

    def listen(sender, user, email, **kwargs):
        calls.append((user.pk, email))

    email_verified.connect(listen, dispatch_uid="test-listener")
    yield calls
    email_verified.disconnect(dispatch_uid="test-listener")


def _token(marker: str) -> str:
    return mail.outbox[-1].body.split(marker)[1].split("/")[0]


def test_registration_is_silent_until_the_activation_link(
    heard, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.register_user(email="New@Example.com", password=PASSWORD, site_url=SITE)
    assert heard == []
    activation = services.activate_account(token=_token("/accounts/activate/"))
    assert heard == [(activation.user.pk, "new@example.com")]


def test_an_email_change_is_heard_only_when_its_link_is_followed(
    heard, django_capture_on_commit_callbacks
):
    user = UserFactory(email="old@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        services.request_email_change(user=user, new_email="new@example.com", site_url=SITE)
    assert heard == []
    services.confirm_email_change(token=_token("/accounts/email/confirm/"))
    assert heard == [(user.pk, "new@example.com")]


def test_signing_in_is_heard_for_an_account_with_an_email(heard, client):
    user = UserFactory(email="ada@example.com")
    client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD})
    assert heard == [(user.pk, "ada@example.com")]


def test_a_phone_only_account_has_nothing_to_announce(heard, client):
    client.force_login(UserFactory(email=None, phone="+442079460958"))
    assert heard == []
