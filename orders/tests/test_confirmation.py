"""The confirmation a shopper lands on after placing an order, and the account a guest
creates from it."""

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from accounts import services as account_services
from accounts.models import User
from accounts.tests.factories import PASSWORD, UserFactory
from catalog.tests.factories import VariantFactory
from orders import services
from orders.models import Order
from orders.selectors import guest_key
from orders.tests.factories import ShippingMethodFactory, order_of
from orders.tests.test_views import add, details, review_fields

pytestmark = pytest.mark.django_db

#: The confirmation for a guest: session, order (with invoice, fapiao and shipping method),
#: lines with their thumbnails (one query), tax rows, discounts, events, shipments, returns
#: (8 measured), and the header's cart count and menu when their cache is cold; the same
#: for 1 line or 20.
CONFIRMATION_BUDGET = 10
STRONG = "a-long-and-unusual-passphrase-77"


def keyed(order, name="orders:detail") -> str:
    return f"{reverse(name, args=[order.number])}?key={guest_key(number=order.number)}"


def place_as_guest(client, *, lines=1, payment="manual", method=None) -> Order:
    method = method or ShippingMethodFactory(
        name="Standard", price=Decimal("5.00"), delivery_days_min=2, delivery_days_max=4
    )
    for _i in range(lines):
        add(client, VariantFactory(price=Decimal("20.00"), stock=5))
    details(client, method, payment_method=payment)
    fields, _html = review_fields(client)
    client.post(reverse("orders:place"), fields)
    return Order.objects.get()


@pytest.mark.parametrize("lines", [1, 20])
def test_the_confirmation_of_a_bank_transfer_says_what_to_do(
    client, lines, django_assert_max_num_queries
):
    order = place_as_guest(client, lines=lines)
    with django_assert_max_num_queries(CONFIRMATION_BUDGET):
        response = client.get(keyed(order))
    html = response.content.decode()
    assert response.status_code == 200
    assert f"Thank you, your order {order.number} is placed" in html
    assert "by bank transfer, quoting <strong>" in html and "as the reference" in html
    assert "A confirmation was sent to <strong>guest@example.com</strong>" in html
    assert "1 Compiler Street" in html and "Shipping method: Standard" in html
    assert "2–4 working days after your payment arrives" in html
    assert html.count('class="order-line__image"') == lines
    assert "Create my account" in html and 'value="guest@example.com"' in html


def test_a_paid_order_is_confirmed_with_its_delivery_dates(client):
    order = place_as_guest(client)
    services.record_payment(order=order, amount=order.total)
    html = client.get(keyed(order)).content.decode()
    assert f"Thank you, your order {order.number} is confirmed" in html
    assert "Estimated delivery" in html and html.count("<time datetime=") >= 2


def test_the_order_page_opened_later_from_the_mail_is_the_plain_order_page(client):
    order, _v = order_of(email="guest@example.com")
    html = client.get(keyed(order)).content.decode()
    assert f"<h1>Order {order.number}</h1>" in html and "Thank you" not in html
    assert "Create my account" in html  # the offer stands wherever the guest comes from


def test_without_the_signed_key_a_guest_order_is_404(client):
    order, _v = order_of(email="guest@example.com")
    assert client.get(reverse("orders:detail", args=[order.number])).status_code == 404
    response = client.post(
        reverse("orders:create-account", args=[order.number]),
        {"password1": STRONG, "password2": STRONG},
    )
    assert response.status_code == 404 and not User.objects.exists()


def _create(client, order, password1=STRONG, password2=STRONG):
    return client.post(
        keyed(order, "orders:create-account"), {"password1": password1, "password2": password2}
    )


def test_a_guest_creates_an_account_and_the_order_joins_it_once_activated(
    client, django_capture_on_commit_callbacks
):
    order = place_as_guest(client)
    with django_capture_on_commit_callbacks(execute=True):
        response = _create(client, order)
    assert response.status_code == 302 and response.url == keyed(order)
    user = User.objects.get(email="guest@example.com")
    assert not user.is_active and user.full_name == "Grace Hopper"
    html = client.get(keyed(order)).content.decode()
    assert "Check your inbox" in html and "Create my account" not in html
    assert Order.objects.get(pk=order.pk).user is None  # not before the address is proven

    message = [m for m in mail.outbox if "/accounts/activate/" in m.body][-1]
    token = message.body.split("/accounts/activate/")[1].split("/")[0]
    account_services.activate_account(token=token)
    assert Order.objects.get(pk=order.pk).user == user
    client.post(reverse("accounts:login"), {"username": user.email, "password": STRONG})
    assert order.number in client.get(reverse("orders:list")).content.decode()


@pytest.mark.parametrize(
    ("password1", "password2", "message"),
    [
        ("123", "123", "This password is too short."),
        (STRONG, STRONG + "x", "The two password fields didn’t match."),
        ("", "", "This field is required."),
        ("guest@example.com", "guest@example.com", "too similar to the email"),
    ],
)
def test_a_weak_or_mismatched_password_is_explained_and_creates_nothing(
    client, password1, password2, message
):
    order, _v = order_of(email="guest@example.com")
    response = _create(client, order, password1, password2)
    html = response.content.decode()
    assert response.status_code == 400
    assert message in html.replace("&#x27;", "'")
    assert "Please correct the fields marked below." in html
    assert not User.objects.exists()


def test_nul_bytes_are_refused_with_a_400(client):
    order, _v = order_of(email="guest@example.com")
    response = _create(client, order, "pass\x00word-long-enough", "pass\x00word-long-enough")
    assert response.status_code == 400
    assert "Null characters are not allowed." in response.content.decode()
    assert not User.objects.exists()


def test_an_address_with_an_account_is_told_to_sign_in(client):
    owner = UserFactory(email="guest@example.com")
    order, _v = order_of(email="guest@example.com")
    response = _create(client, order)
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "There is already an account for guest@example.com. Sign in with it" in page
    assert User.objects.count() == 1 and not User.objects.get().check_password(STRONG)
    assert mail.outbox == []
    # Signing in with it (the link on the page comes back here) brings the order along.
    login = re.search(r'href="(/accounts/login/\?next=[^"]+)"', page).group(1)
    response = client.post(
        login.replace("&amp;", "&"), {"username": owner.email, "password": PASSWORD}
    )
    assert Order.objects.get(pk=order.pk).user == owner
    assert client.get(response.url).status_code == 200


def test_no_offer_to_a_signed_in_shopper_or_on_an_order_of_an_account(client):
    user = UserFactory()
    order, _v = order_of(email=user.email, user=user)
    client.force_login(user)
    html = client.get(reverse("orders:detail", args=[order.number])).content.decode()
    assert "Create my account" not in html
    response = client.post(
        reverse("orders:create-account", args=[order.number]),
        {"password1": STRONG, "password2": STRONG},
    )
    assert response.status_code == 302 and User.objects.count() == 1


def test_the_account_form_takes_only_post(client):
    order, _v = order_of(email="guest@example.com")
    assert client.get(keyed(order, "orders:create-account")).status_code == 405


def test_the_confirmation_mails_carry_items_totals_address_and_estimate(
    client, django_capture_on_commit_callbacks
):
    method = ShippingMethodFactory(
        name="Standard", price=Decimal("5.00"), delivery_days_min=2, delivery_days_max=4
    )
    with django_capture_on_commit_callbacks(execute=True):
        order = place_as_guest(client, method=method)
    [placed] = mail.outbox
    html = placed.alternatives[0][0]
    line = order.lines.get()
    for body in (placed.body, html):
        assert line.product_name in body
        assert "Subtotal" in body and "$20.00" in body and "$25.00" in body
        assert "1 Compiler Street" in body and "Shipping method: Standard" in body
        assert "2–4 working days after your payment arrives" in body
    with django_capture_on_commit_callbacks(execute=True):
        services.record_payment(order=order, amount=order.total)
    paid = mail.outbox[-1]
    assert "Estimated delivery: " in paid.body and "after your payment" not in paid.body


def test_a_shipped_order_no_longer_shows_an_estimate(client):
    method = ShippingMethodFactory(delivery_days_min=1, delivery_days_max=2)
    order, _v = order_of(email="guest@example.com", method=method)
    services.record_payment(order=order, amount=order.total)
    assert "Estimated delivery" in client.get(keyed(order)).content.decode()
    services.ship_lines(order=order, carrier="dhl", tracking_number="JD1")
    assert "Estimated delivery" not in client.get(keyed(order)).content.decode()
