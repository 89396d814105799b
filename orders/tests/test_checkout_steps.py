"""The checkout's three middle steps (the form, the details posted, the review): a guest's
first form kept as HTML (orders.page_cache), shipping methods held per catalog version, and
the few rows each step reads."""

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from cart.models import CartLine
from catalog.tests.factories import VariantFactory
from orders.models import Order
from orders.tests.factories import ShippingMethodFactory
from orders.tests.test_views import NEW_ADDRESS, add, details

pytestmark = pytest.mark.django_db

#: A guest's checkout page once the shop's shared values are held: the cart, its lines and
#: their options. The first request of a process reads the shipping methods, the running
#: offers and the tax classes too (COLD_BUDGET).
GUEST_CHECKOUT_BUDGET = 3
COLD_BUDGET = GUEST_CHECKOUT_BUDGET + 3
#: Details posted: the cart with whether a line is ticked (one statement:
#: cart.selectors.cart_to_buy_from; it was 2), the session's UPDATE (one statement, no
#: transaction or savepoint of its own: shop.sessions; it was 3 with the savepoint pair).
DETAILS_BUDGET = 2
#: The review: the cart, its ticked lines and their options.
REVIEW_BUDGET = 3


def token_of(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def form_of(html: str) -> str:
    """The page's checkout form, its CSRF token left out."""
    form = re.search(r'<form class="checkout__form".*?</form>', html, re.S).group(0)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", form)


def test_every_guest_gets_the_first_form_with_a_token_of_their_own():
    ShippingMethodFactory()
    variant = VariantFactory()
    pages = []
    for _guest in range(2):
        client = Client(enforce_csrf_checks=True)
        html = client.get(variant.product.get_absolute_url()).content.decode()
        data = {"variant": variant.pk, "quantity": 1, "csrfmiddlewaretoken": token_of(html)}
        assert client.post(reverse("cart:add"), data).status_code == 302
        page = client.get(reverse("orders:checkout")).content.decode()
        pages.append(page)
        method = re.search(r'name="shipping_method" value="(\d+)"', page).group(1)
        response = client.post(
            reverse("orders:checkout"),
            {
                "email": "guest@example.com",
                "shipping_method": method,
                "payment_method": "manual",
                **NEW_ADDRESS,
                "csrfmiddlewaretoken": token_of(page),
            },
        )
        assert response.status_code == 302  # the kept form's token is the guest's own
    assert token_of(pages[0]) != token_of(pages[1])
    assert form_of(pages[0]) == form_of(pages[1])


def test_what_a_guest_entered_is_shown_to_them_and_to_no_other_guest(client):
    variant = VariantFactory()
    add(client, variant)
    details(client, ShippingMethodFactory())
    assert 'value="1 Compiler Street"' in client.get(reverse("orders:checkout")).content.decode()
    other = Client()
    add(other, variant)
    html = other.get(reverse("orders:checkout")).content.decode()
    assert "Compiler Street" not in html and "guest@example.com" not in html


def test_a_guests_coupon_is_in_their_form_only(client):
    variant = VariantFactory()
    add(client, variant)
    client.get(reverse("orders:checkout"))  # the first form, kept
    client.post(reverse("cart:coupon"), {"code": "WELCOME10"})
    html = client.get(reverse("orders:checkout")).content.decode()
    assert 'value="WELCOME10"' in html
    other = Client()
    add(other, variant)
    assert "WELCOME10" not in other.get(reverse("orders:checkout")).content.decode()


def test_a_changed_shipping_method_reaches_the_kept_form_and_the_review(
    client, django_capture_on_commit_callbacks
):
    method = ShippingMethodFactory(name="Post", price=Decimal("5.00"))
    add(client, VariantFactory(price=Decimal("20.00")))
    assert "Post · $5.00" in client.get(reverse("orders:checkout")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):  # the version moves on commit
        method.name, method.price = "Courier", Decimal("9.00")
        method.save()
    html = client.get(reverse("orders:checkout")).content.decode()
    assert "Courier · $9.00" in html and "Post · $5.00" not in html
    details(client, method)
    assert "$29.00" in client.get(reverse("orders:review")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        method.is_active = False
        method.save()
    response = client.get(reverse("orders:review"), follow=True)
    assert response.redirect_chain[0][0] == reverse("orders:checkout")
    assert "That shipping method is not available" in response.content.decode()


def test_a_method_no_longer_offered_is_refused_when_details_are_posted(
    client, django_capture_on_commit_callbacks
):
    method = ShippingMethodFactory()
    add(client, VariantFactory())
    client.get(reverse("orders:checkout"))
    with django_capture_on_commit_callbacks(execute=True):
        method.is_active = False
        method.save()
    response = details(client, method)
    assert response.status_code == 400
    html = response.content.decode()
    assert "That shipping method is not available" in html
    assert 'value="1 Compiler Street"' in html
    assert "checkout" not in client.session and not Order.objects.exists()


@pytest.mark.parametrize("value", ["abc", "1.5", "-1", "1\x00", " "])
def test_a_made_up_shipping_method_gets_a_message(client, value):
    ShippingMethodFactory()
    add(client, VariantFactory())
    response = details(client, ShippingMethodFactory(), shipping_method=value)
    assert response.status_code == 400
    html = response.content.decode()
    assert "That shipping method is not available" in html or "Choose a shipping method." in html
    assert "checkout" not in client.session


def test_the_review_of_a_cart_with_nothing_ticked_goes_to_the_cart(client):
    variant = VariantFactory()
    add(client, variant)
    details(client, ShippingMethodFactory())
    CartLine.objects.update(is_selected=False)
    response = client.get(reverse("orders:review"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("cart:detail")
    assert "Your cart has nothing ticked to buy." in response.content.decode()


@pytest.mark.parametrize("lines", [1, 20])
def test_a_guests_three_steps_read_the_same_few_rows_whatever_the_lines(
    client, lines, django_assert_max_num_queries
):
    for _i in range(lines):
        add(client, VariantFactory())
    method = ShippingMethodFactory()
    with django_assert_max_num_queries(COLD_BUDGET):
        assert client.get(reverse("orders:checkout")).status_code == 200
    with django_assert_max_num_queries(GUEST_CHECKOUT_BUDGET):
        assert client.get(reverse("orders:checkout")).status_code == 200
    with django_assert_max_num_queries(DETAILS_BUDGET):
        assert details(client, method).status_code == 302
    with django_assert_max_num_queries(REVIEW_BUDGET):
        assert client.get(reverse("orders:review")).status_code == 200


def tokens_of(html: str) -> set[str]:
    return set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html))


def test_the_kept_layout_holds_no_shoppers_body_messages_or_token():
    method = ShippingMethodFactory()
    ann, bob = Client(), Client()
    add(ann, VariantFactory(product__name="Ann lamp"))
    add(bob, VariantFactory(product__name="Bob kettle"))
    first = ann.get(reverse("orders:checkout")).content.decode()
    refused = details(bob, method, **{"ship-postcode": "NOT A CODE"})
    page = refused.content.decode()
    assert refused.status_code == 400 and "Please correct the fields marked below." in page
    assert "Bob kettle" in page and "Ann lamp" not in page
    assert "Bob kettle" not in first and len(tokens_of(page)) == 1  # footer and form: Bob's
    assert not tokens_of(page) & tokens_of(first)
    again = ann.get(reverse("orders:checkout")).content.decode()
    assert "Please correct" not in again and "Ann lamp" in again
    assert details(ann, method).status_code == 302
    details(bob, method, email="bob@example.com")
    ann_review = ann.get(reverse("orders:review")).content.decode()
    bob_review = bob.get(reverse("orders:review")).content.decode()
    assert "guest@example.com" in ann_review and "bob@example.com" not in ann_review
    assert "bob@example.com" in bob_review and "Ann lamp" not in bob_review
    assert not tokens_of(ann_review) & tokens_of(bob_review)


def test_each_language_and_query_string_gets_its_own_layout(client):
    add(client, VariantFactory())
    ShippingMethodFactory()
    english = client.get(reverse("orders:checkout")).content.decode()
    chinese = client.get("/zh-hans/checkout/").content.decode()
    assert '<html lang="en">' in english and '<html lang="zh-Hans">' in chinese
    assert "<title>Checkout" in english and "<title>Checkout" not in chinese
    odd = client.get(reverse("orders:checkout") + '?x="><script>1</script>')
    html = odd.content.decode()
    assert odd.status_code == 200 and "<script>1</script>" not in html
    assert client.get(reverse("orders:checkout")).content.decode().count("<script>1") == 0
