"""Guest orders join an account only when accounts has verified the address they were placed
with: activation, a confirmed email change, or a sign-in to such an account."""

from datetime import date

import pytest
from django.core import mail
from django.urls import reverse

from accounts import services as account_services
from accounts.signals import email_verified
from accounts.tests.factories import PASSWORD, UserFactory
from orders import services
from orders.delivery import delivery_estimate
from orders.models import Order, OrderEvent
from orders.tests.factories import ShippingMethodFactory, order_of

pytestmark = pytest.mark.django_db
SITE = "http://testserver/"


def _link(message, marker: str) -> str:
    return message.body.split(marker)[1].split("/")[0]


def test_attach_takes_only_guest_orders_of_that_email_in_any_case_and_once():
    user = UserFactory(email="grace@example.com")
    mine, _v = order_of(email="Grace@Example.com")
    other_guest, _v = order_of(email="someone@example.com")
    owner = UserFactory()
    of_an_account, _v = order_of(email="grace@example.com", user=owner)

    assert services.attach_guest_orders(user=user, email="grace@example.com") == 1
    assert services.attach_guest_orders(user=user, email="grace@example.com") == 0

    mine.refresh_from_db(), other_guest.refresh_from_db(), of_an_account.refresh_from_db()
    assert mine.user == user
    assert other_guest.user is None
    assert of_an_account.user == owner  # an order of an account never moves
    assert OrderEvent.objects.filter(order=mine, kind="note", actor=user).count() == 1


def test_an_empty_email_attaches_nothing_not_even_anonymised_orders():
    anonymised, _v = order_of(email="x@example.com")
    Order.objects.filter(pk=anonymised.pk).update(email="")
    assert services.attach_guest_orders(user=UserFactory(), email="") == 0
    assert Order.objects.get(pk=anonymised.pk).user is None


def test_activation_attaches_the_guest_orders_of_the_address(django_capture_on_commit_callbacks):
    order, _v = order_of(email="grace@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        account_services.register_user(email="grace@example.com", password=PASSWORD, site_url=SITE)
    user = Order.objects.get(pk=order.pk).user
    assert user is None  # registered, not verified yet: nothing joins
    message = [m for m in mail.outbox if "/accounts/activate/" in m.body][-1]
    activation = account_services.activate_account(token=_link(message, "/accounts/activate/"))
    assert Order.objects.get(pk=order.pk).user == activation.user


def test_an_email_change_attaches_only_once_the_new_address_confirms_it(
    django_capture_on_commit_callbacks,
):
    """Asking to change one's email to a stranger's address gives nothing of theirs: only
    the link mailed to that address (which the stranger holds) moves the orders."""
    victims_order, _v = order_of(email="victim@example.com")
    thief = UserFactory(email="thief@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        account_services.request_email_change(
            user=thief, new_email="victim@example.com", site_url=SITE
        )
    thief.refresh_from_db()
    email_verified.send(sender=type(thief), user=thief, email=thief.email)  # a sign-in
    assert Order.objects.get(pk=victims_order.pk).user is None

    # The mailbox's owner follows the link: now the address is proven.
    token = _link(mail.outbox[-1], "/accounts/email/confirm/")
    account_services.confirm_email_change(token=token)
    assert Order.objects.get(pk=victims_order.pk).user == thief


def test_signing_in_attaches_guest_orders_placed_with_the_account_email(client):
    user = UserFactory(email="ada@example.com")
    order, _v = order_of(email="ada@example.com")
    response = client.post(
        reverse("accounts:login"), {"username": "ada@example.com", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert Order.objects.get(pk=order.pk).user == user


def test_an_inactive_account_gets_nothing_from_the_signal():
    user = UserFactory(email="ada@example.com", is_active=False)
    order, _v = order_of(email="ada@example.com")
    from accounts.signals import announce_verified_email

    announce_verified_email(user)
    assert Order.objects.get(pk=order.pk).user is None


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # Friday + 2 working days: Tuesday; + 4: Thursday.
        (date(2026, 11, 27), (2, 4), (date(2026, 12, 1), date(2026, 12, 3))),
        # Saturday counts from Monday.
        (date(2026, 11, 28), (1, 1), (date(2026, 12, 1), date(2026, 12, 1))),
        # Only a maximum: it stands for both.
        (date(2026, 11, 30), (None, 3), (date(2026, 12, 3), date(2026, 12, 3))),
    ],
)
def test_delivery_estimate_counts_working_days_only(start, days, expected):
    method = ShippingMethodFactory(delivery_days_min=days[0], delivery_days_max=days[1])
    estimate = delivery_estimate(method, start=start)
    assert (estimate.earliest, estimate.latest) == expected


def test_a_method_without_days_promises_no_dates():
    assert delivery_estimate(ShippingMethodFactory(), start=date(2026, 11, 30)) is None
    assert delivery_estimate(None, start=date(2026, 11, 30)) is None
