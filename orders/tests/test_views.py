import re
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import NoReverseMatch, reverse

from accounts.models import Address
from accounts.tests.factories import AddressFactory, UserFactory
from cart.models import Cart, CartLine
from cart.selectors import CART_SESSION_KEY
from catalog.models import Variant
from catalog.tests.factories import VariantFactory
from orders import services
from orders.models import Order
from orders.selectors import guest_key
from orders.tests.factories import ShippingMethodFactory, order_of

pytestmark = pytest.mark.django_db

#: Checkout pages: session, user, cart, lines (+options; the image in the same query),
#: addresses, promotions and tax classes (<= 3, when the cache is cold), the shipping methods
#: (when the catalog's version moved); a constant, whatever the number of lines.
CHECKOUT_BUDGET = 9
#: Order page: user, order (with its invoice and fapiao request), lines, tax rows, discounts,
#: events with actors, shipments with their lines and tracking events, returns with their
#: lines, the header's cart count and menu; the same for 1 line or 20.
ORDER_BUDGET = 13
#: Order list: session, user, one page of orders with counts, the page count.
LIST_BUDGET = 6
#: The return page: session, user, order, pending return lines, lines (20 lines or 1).
RETURN_BUDGET = 6

NEW_ADDRESS = {
    "ship-full_name": "Grace Hopper",
    "ship-phone": "+442079460958",
    "ship-line1": "1 Compiler Street",
    "ship-city": "London",
    "ship-postcode": "SW1A 1AA",
    "ship-country": "GB",
}


def add(client, variant, quantity=1):
    client.post(reverse("cart:add"), {"variant": variant.pk, "quantity": quantity})


def details(client, method, **extra):
    data = {
        "email": "guest@example.com",
        "shipping_method": method.pk,
        "payment_method": "manual",
        **NEW_ADDRESS,
        **extra,
    }
    return client.post(reverse("orders:checkout"), data)


def after_placing(order, *, guest: bool) -> str:
    """Where placing sends the shopper: the payments app's page once it exists, else the
    order page; a guest's link carries the order's signed key."""
    try:
        url = reverse("payments:start", kwargs={"number": order.number})
    except NoReverseMatch:
        url = order.get_absolute_url()
    return f"{url}?key={guest_key(number=order.number)}" if guest else url


def review_fields(client):
    html = client.get(reverse("orders:review")).content.decode()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)
    fingerprint = re.search(r'name="fingerprint" value="([^"]+)"', html).group(1)
    return {"idempotency_key": key, "fingerprint": fingerprint}, html


def test_guest_checkout_to_a_placed_order(client, django_capture_on_commit_callbacks):
    variant = VariantFactory(price=Decimal("20.00"), stock=3)
    method = ShippingMethodFactory(price=Decimal("5.00"))
    add(client, variant, 2)
    assert client.get(reverse("orders:checkout")).status_code == 200
    response = details(client, method)
    assert response.status_code == 302 and response.url == reverse("orders:review")
    fields, html = review_fields(client)
    assert "$45.00" in html and "Grace Hopper" in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("orders:place"), fields)
    order = Order.objects.get()
    assert response.url == after_placing(order, guest=True)
    assert order.total == Decimal("45.00") and order.email == "guest@example.com"
    assert order.user is None
    assert Variant.objects.get(pk=variant.pk).stock == 1
    assert len(mail.outbox) == 1
    page = client.get(f"{order.get_absolute_url()}?key={guest_key(number=order.number)}")
    assert page.status_code == 200 and order.number in page.content.decode()
    # Resubmitting the same form: the same order, nothing taken again.
    again = client.post(reverse("orders:place"), fields)
    assert again.status_code == 302
    assert Order.objects.count() == 1
    assert Variant.objects.get(pk=variant.pk).stock == 1


def test_signed_in_checkout_with_a_saved_address(client):
    user = UserFactory()
    address = AddressFactory(user=user, country="GB")
    client.force_login(user)
    variant = VariantFactory()
    add(client, variant)
    method = ShippingMethodFactory()
    response = client.post(
        reverse("orders:checkout"),
        {"address": address.pk, "shipping_method": method.pk, "payment_method": "manual"},
    )
    assert response.status_code == 302
    fields, _html = review_fields(client)
    response = client.post(reverse("orders:place"), fields)
    order = Order.objects.get()
    assert response.url == after_placing(order, guest=False)
    assert (order.user, order.email, order.ship_line1) == (user, user.email, address.line1)
    listing = client.get(reverse("orders:list")).content.decode()
    assert order.number in listing


def test_signed_in_new_address_can_be_saved_to_the_book(client):
    user = UserFactory()
    client.force_login(user)
    add(client, VariantFactory())
    method = ShippingMethodFactory()
    client.post(
        reverse("orders:checkout"),
        {
            "shipping_method": method.pk,
            "payment_method": "manual",
            "save_address": "on",
            **NEW_ADDRESS,
        },
    )
    assert Address.objects.get(user=user).line1 == "1 Compiler Street"


def checked_address(html: str) -> str:
    """The value of the "Ship to" radio the page ticks."""
    [value] = re.findall(r'<input type="radio" name="address" value="([^"]+)"[^>]*checked', html)
    return value


def test_signing_in_mid_checkout_preselects_the_default_address_not_the_guest_one(client):
    """A guest's typed address, then signing in: the book's default is chosen, the guest
    one is not filled in under "a new address", and the order ships to the default."""
    user = UserFactory()
    default = AddressFactory(user=user, is_default_shipping=True, line1="9 Default Road")
    AddressFactory(user=user, line1="3 Old Lane")
    add(client, VariantFactory())
    method = ShippingMethodFactory()
    assert details(client, method).status_code == 302  # typed as a guest: 1 Compiler Street
    client.force_login(user)
    html = client.get(reverse("orders:checkout")).content.decode()
    assert checked_address(html) == str(default.pk)
    assert "1 Compiler Street" not in html
    # The shopper submits the page as it stands.
    client.post(
        reverse("orders:checkout"),
        {
            "address": checked_address(html),
            "shipping_method": method.pk,
            "payment_method": "manual",
        },
    )
    fields, _html = review_fields(client)
    client.post(reverse("orders:place"), fields)
    assert Order.objects.get().ship_line1 == "9 Default Road"
    assert Address.objects.filter(user=user).count() == 2


def test_a_new_address_typed_while_signed_in_is_kept_when_coming_back(client):
    user = UserFactory()
    AddressFactory(user=user, is_default_shipping=True)
    client.force_login(user)
    add(client, VariantFactory())
    details(client, ShippingMethodFactory(), address="new")
    html = client.get(reverse("orders:checkout")).content.decode()
    assert checked_address(html) == "new" and 'value="1 Compiler Street"' in html


def test_saving_a_new_address_the_book_holds_adds_no_duplicate(client):
    user = UserFactory()
    client.force_login(user)
    add(client, VariantFactory())
    method = ShippingMethodFactory()
    details(client, method, save_address="on")
    details(client, method, address="new", save_address="on", **{"ship-city": " london "})
    assert Address.objects.filter(user=user).count() == 1
    assert client.session["checkout"]["address_id"] == Address.objects.get(user=user).pk


def test_someone_elses_address_id_is_refused(client):
    user, stranger = UserFactory(), UserFactory()
    AddressFactory(user=user)
    theirs = AddressFactory(user=stranger, line1="Secret Lane 1")
    client.force_login(user)
    add(client, VariantFactory())
    response = client.post(
        reverse("orders:checkout"),
        {
            "address": theirs.pk,
            "shipping_method": ShippingMethodFactory().pk,
            "payment_method": "manual",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Choose one of your addresses, or a new one." in html
    assert "Secret Lane" not in html
    assert "checkout" not in client.session


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"shipping_method": 99999}, "That shipping method is not available"),
        ({"payment_method": "free-money"}, "That payment method is not available"),
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"ship-postcode": ""}, "Enter the postcode"),
    ],
)
def test_bad_details_get_a_message_and_keep_what_was_typed(client, change, message):
    add(client, VariantFactory())
    response = details(client, ShippingMethodFactory(), **change)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert 'value="1 Compiler Street"' in html
    assert not Order.objects.exists()


def test_method_not_serving_the_country_is_refused(client):
    add(client, VariantFactory())
    response = details(client, ShippingMethodFactory(countries=["FR"]))
    assert response.status_code == 400
    assert "does not deliver to the address" in response.content.decode()


def test_tampered_place_form_changes_nothing(client):
    variant = VariantFactory(price=Decimal("20.00"), stock=3)
    add(client, variant, 1)
    details(client, ShippingMethodFactory())
    fields, _html = review_fields(client)
    tampered = {**fields, "fingerprint": "0" * 32, "price": "0.01", "quantity": "-3"}
    response = client.post(reverse("orders:place"), tampered, follow=True)
    assert response.redirect_chain[-1][0] == reverse("orders:review")
    assert "Prices or discounts changed" in response.content.decode()
    assert not Order.objects.exists()
    assert Variant.objects.get(pk=variant.pk).stock == 3
    response = client.post(reverse("orders:place"), {"idempotency_key": "", "fingerprint": ""})
    assert response.status_code == 302 and not Order.objects.exists()


def test_price_change_since_review_sends_back_to_review_keeping_the_address(client):
    variant = VariantFactory(price=Decimal("20.00"))
    add(client, variant)
    details(client, ShippingMethodFactory())
    fields, _html = review_fields(client)
    Variant.objects.filter(pk=variant.pk).update(price=Decimal("25.00"))
    response = client.post(reverse("orders:place"), fields, follow=True)
    html = response.content.decode()
    assert "Prices or discounts changed" in html
    assert "Grace Hopper" in html and "$25.00" in html
    assert not Order.objects.exists()


def test_checkout_without_a_cart_goes_to_the_cart(client):
    response = client.get(reverse("orders:checkout"))
    assert response.url == reverse("cart:detail")
    assert "sessionid" not in client.cookies


def test_another_users_order_is_404_and_a_guest_needs_the_key(client):
    owner = UserFactory()
    order, _v = order_of(user=owner)
    url = order.get_absolute_url()
    assert client.get(url).status_code == 404
    assert client.get(url + "?key=forged").status_code == 404
    assert client.get(url + "?key=" + guest_key(number=order.number)).status_code == 200
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    assert client.get(reverse("orders:invoice", args=[order.number])).status_code == 404
    assert client.post(reverse("payments:cancel-order", args=[order.number])).status_code == 404
    client.force_login(owner)
    assert client.get(url).status_code == 200


def test_shopper_cancels_and_stock_goes_back(client):
    user = UserFactory()
    order, variant = order_of(2, user=user, stock=5)
    client.force_login(user)
    response = client.post(reverse("payments:cancel-order", args=[order.number]), follow=True)
    assert "Your order is cancelled." in response.content.decode()
    assert Order.objects.get(pk=order.pk).status == "cancelled"
    assert Variant.objects.get(pk=variant.pk).stock == 5
    response = client.post(reverse("payments:cancel-order", args=[order.number]), follow=True)
    assert "can no longer be cancelled here" in response.content.decode()


def test_guest_confirms_receipt_through_the_signed_link(client):
    order, _v = order_of()
    services.record_payment(order=order, amount=order.total)
    services.ship_lines(order=order, carrier="dhl", tracking_number="JD1")
    key = guest_key(number=order.number)
    html = client.get(order.get_absolute_url() + "?key=" + key).content.decode()
    assert "https://www.dhl.com/en/express/tracking.html?AWB=JD1" in html
    client.post(reverse("orders:confirm-receipt", args=[order.number]), {"key": key})
    assert Order.objects.get(pk=order.pk).status == "completed"


@pytest.mark.parametrize("lines", [1, 20])
def test_checkout_pages_stay_within_budget(client, lines, django_assert_max_num_queries):
    for _i in range(lines):
        add(client, VariantFactory())
    method = ShippingMethodFactory()
    with django_assert_max_num_queries(CHECKOUT_BUDGET):
        assert client.get(reverse("orders:checkout")).status_code == 200
    details(client, method)
    with django_assert_max_num_queries(CHECKOUT_BUDGET):
        assert client.get(reverse("orders:review")).status_code == 200


@pytest.mark.parametrize("lines", [1, 20])
def test_order_pages_stay_within_budget(client, lines, django_assert_max_num_queries):
    user = UserFactory()
    cart = Cart.objects.create(user=user)
    for _i in range(lines):
        CartLine.objects.create(
            cart=cart, variant=VariantFactory(), quantity=1, seen_price=Decimal("10.00")
        )
    from orders.tests.factories import place

    order = place(cart, user=user, email=user.email)
    services.record_payment(order=order, amount=order.total)
    services.ship_lines(order=order, carrier="dhl", tracking_number="JD1")
    services.request_return(
        order=order, quantities={order.lines.first().pk: 1}, reason="other", actor=user
    )
    client.force_login(user)
    for name in ("orders:detail", "orders:invoice"):
        with django_assert_max_num_queries(ORDER_BUDGET):
            assert client.get(reverse(name, args=[order.number])).status_code == 200
    with django_assert_max_num_queries(LIST_BUDGET):
        assert client.get(reverse("orders:list")).status_code == 200


def test_guest_session_holds_only_the_cart(client):
    add(client, VariantFactory())
    assert isinstance(client.session[CART_SESSION_KEY], int)


def test_choosing_a_saved_address_shows_no_errors_under_the_new_address_fields(client):
    user = UserFactory()
    address = AddressFactory(user=user)
    client.force_login(user)
    add(client, VariantFactory())
    response = client.post(
        reverse("orders:checkout"),
        {"address": address.pk, "shipping_method": 99999, "payment_method": "manual"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "That shipping method is not available" in html
    assert "This field is required." not in html


# --- Statuses, returns and cancelling on the shopper's pages -------------------------------


def shipped_order(user, quantity=2):
    order, variant = order_of(quantity, user=user, stock=quantity + 5)
    services.record_payment(
        order=order, amount=order.total, note="payment.captured from Card (sandbox gateway)"
    )
    services.ship_lines(order=order, carrier="dhl", tracking_number="JD1")
    return order, variant


def test_order_page_shows_the_three_statuses_side_by_side(client):
    user = UserFactory()
    order, _v = shipped_order(user)
    client.force_login(user)
    html = client.get(order.get_absolute_url()).content.decode()
    for label in ("Order: </span>Open", "Payment: </span>Paid", "Fulfilment: </span>Shipped"):
        assert label in html
    assert "2 shipped" in html
    assert reverse("orders:request-return", args=[order.number]) in html
    # A payment provider's raw event names stay in the admin.
    assert "payment.captured" not in html and "sandbox" not in html


def test_order_page_times_are_valid_html_datetimes(client, django_assert_max_num_queries):
    """The timeline's machine-readable times: HTML allows at most 3 digits of a second."""
    user = UserFactory()
    order, _v = shipped_order(user)
    client.force_login(user)
    with django_assert_max_num_queries(ORDER_BUDGET):
        html = client.get(order.get_absolute_url()).content.decode()
    times = re.findall(r'<time datetime="([^"]+)"', html)
    assert times
    for value in times:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}", value), value


@pytest.mark.parametrize("quantity", [1, 20])
def test_the_return_page_stays_within_budget(client, quantity, django_assert_max_num_queries):
    user = UserFactory()
    order, _v = shipped_order(user, quantity)
    client.force_login(user)
    with django_assert_max_num_queries(RETURN_BUDGET):
        response = client.get(reverse("orders:request-return", args=[order.number]))
    assert response.status_code == 200
    assert 'name="reason"' in response.content.decode()


def test_a_shopper_asks_to_return_some_units(client):
    user = UserFactory()
    order, _v = shipped_order(user)
    line = order.lines.get()
    client.force_login(user)
    url = reverse("orders:request-return", args=[order.number])
    response = client.post(
        url, {f"line_{line.pk}": "1", "reason": "does_not_fit", "note": "too small"}, follow=True
    )
    assert "Your return request is sent" in response.content.decode()
    request = order.returns.get()
    assert (request.status, request.note, request.lines.get().quantity) == (
        "requested",
        "too small",
        1,
    )
    assert "It does not fit" in client.get(order.get_absolute_url()).content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"reason": "does_not_fit"}, "Choose at least one item to return."),
        ({"line_X": "1"}, "This field is required."),
        ({"line_X": "3", "reason": "does_not_fit"}, "Select a valid choice."),
        ({"line_X": "1", "reason": "nonsense"}, "Select a valid choice."),
        ({"line_X": "-1", "reason": "other"}, "Select a valid choice."),
        ({"line_X": "1", "reason": "other", "note": "x" * 501}, "at most 500 characters"),
    ],
)
def test_a_bad_return_request_says_why_and_keeps_what_was_typed(client, data, message):
    user = UserFactory()
    order, _v = shipped_order(user)
    line = order.lines.get()
    data = {key.replace("X", str(line.pk)): value for key, value in data.items()}
    client.force_login(user)
    response = client.post(reverse("orders:request-return", args=[order.number]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not order.returns.exists()


def test_nothing_shipped_means_nothing_to_return(client):
    user = UserFactory()
    order, _v = order_of(user=user)
    client.force_login(user)
    response = client.get(reverse("orders:request-return", args=[order.number]))
    assert "Nothing of this order can be returned now" in response.content.decode()


def test_another_shoppers_return_page_is_404(client):
    order, _v = shipped_order(UserFactory())
    client.force_login(UserFactory())
    assert client.get(reverse("orders:request-return", args=[order.number])).status_code == 404


def test_a_guest_link_cancels_only_in_the_first_days(client, settings):
    from datetime import timedelta

    from django.utils import timezone

    order, _v = order_of()
    Order.objects.filter(pk=order.pk).update(
        created_at=timezone.now() - timedelta(days=settings.GUEST_CANCEL_DAYS + 1)
    )
    key = guest_key(number=order.number)
    html = client.get(order.get_absolute_url() + "?key=" + key).content.decode()
    assert "Cancel this order" not in html
    response = client.post(
        reverse("payments:cancel-order", args=[order.number]), {"key": key}, follow=True
    )
    assert "can no longer be cancelled here" in response.content.decode()
    assert Order.objects.get(pk=order.pk).status == "open"


# --- The address by country, field budget and bad input -----------------------------------

#: Baymard: most shops can get a guest to about 8 visible fields.
GUEST_FIELD_BUDGET = 8
US_ADDRESS = {
    "ship-country": "US",
    "ship-full_name": "Grace Hopper",
    "ship-phone": "+12025550143",
    "ship-line1": "1 Navy Yard",
    "ship-city": "Arlington",
    "ship-region": "VA",
    "ship-postcode": "22202",
}


def visible_fields(html: str) -> list[str]:
    """Names of the fields a shopper sees in the checkout form as it opens: text boxes and
    lists, not choices already made (radios), nor what waits in a closed <details>."""
    form = html[html.index('<form class="checkout__form"') :]
    form = form[: form.index("</form>")]
    form = re.sub(r"<details(?![^>]*\bopen\b)[^>]*>.*?</details>", "", form, flags=re.S)
    inputs = re.findall(r"<(input|select|textarea)\b([^>]*)>", form)
    return [
        re.search(r'name="([^"]+)"', attrs).group(1)
        for tag, attrs in inputs
        if not re.search(r'type="(hidden|radio|checkbox|submit)"', attrs)
    ]


@pytest.mark.parametrize(("country", "region_shown"), [("US", True), ("CN", True), ("SG", False)])
def test_a_guest_sees_at_most_eight_fields_region_only_where_the_post_uses_one(
    client, country, region_shown
):
    add(client, VariantFactory())
    ShippingMethodFactory()
    response = client.post(
        reverse("orders:checkout"), {"ship-country": country, "update_country": "1"}
    )
    assert response.status_code == 200 and "errorlist" not in response.content.decode()
    fields = visible_fields(response.content.decode())
    assert len(fields) <= GUEST_FIELD_BUDGET, fields
    assert fields[:2] == ["email", "ship-country"]
    assert ("ship-region" in fields) is region_shown
    assert "ship-line2" not in fields and "coupon_code" not in fields


def test_update_keeps_what_was_typed_and_shows_the_countrys_states(client):
    add(client, VariantFactory())
    method = ShippingMethodFactory()
    response = client.post(
        reverse("orders:checkout"),
        {
            "email": "grace@example.com",
            "shipping_method": method.pk,
            **US_ADDRESS,
            "ship-region": "",
            "update_country": "1",
        },
    )
    html = response.content.decode()
    assert '<select name="ship-region"' in html and '<option value="VA">Virginia</option>' in html
    assert 'value="grace@example.com"' in html and 'value="1 Navy Yard"' in html
    assert re.search(rf'name="shipping_method" value="{method.pk}"[^>]* checked', html)
    assert "checkout" not in client.session


def test_a_us_address_with_its_state_reaches_the_review(client):
    add(client, VariantFactory())
    response = details(client, ShippingMethodFactory(), **US_ADDRESS)
    assert response.status_code == 302
    assert client.session["checkout"]["address"]["region"] == "VA"
    assert "Arlington, VA 22202" in client.get(reverse("orders:review")).content.decode()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"ship-region": "Ontario"}, "ship-region", "Choose the state from the list"),
        ({"ship-region": ""}, "ship-region", "Choose the state."),
        ({"ship-postcode": "2220"}, "ship-postcode", "e.g. 95014"),
        ({"ship-country": "CA", "ship-region": "VA"}, "ship-region", "Choose the province"),
        ({"ship-line1": "1 Navy\x00 Yard"}, "ship-line1", "Null characters are not allowed."),
        ({"email": "grace\x00@example.com"}, "email", "Null characters are not allowed."),
        ({"ship-country": "XX"}, "ship-country", "Select a valid choice."),
    ],
)
def test_bad_addresses_are_explained_beside_the_field_keeping_the_rest(
    client, change, field, message
):
    add(client, VariantFactory())
    response = details(client, ShippingMethodFactory(), **{**US_ADDRESS, **change})
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert 'value="Grace Hopper"' in html and 'value="+12025550143"' in html
    assert "checkout" not in client.session and not Order.objects.exists()


def test_the_address_starts_on_the_shops_country_with_its_states(client, settings):
    add(client, VariantFactory())
    html = client.get(reverse("orders:checkout")).content.decode()
    assert f'<option value="{settings.ADDRESS_DEFAULT_COUNTRY}" selected>' in html
    assert '<select name="ship-region"' in html  # the default, US, has states
