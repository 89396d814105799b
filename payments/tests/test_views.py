import re
import time
from decimal import Decimal

import pytest
from django.urls import reverse

from orders.models import Order
from orders.selectors import guest_key
from payments import gateway, selectors
from payments.models import Payment, PaymentEvent, PaymentState
from payments.providers.sandbox import SIGNATURE_HEADER, sign
from payments.tests.factories import deliver, sandbox_order, start

pytestmark = pytest.mark.django_db

#: Return page: session, order, latest payment (a guest: no user query); the same whatever
#: the number of payments and events.
RETURN_BUDGET = 4
#: Sandbox page: session, payment with its order.
SANDBOX_BUDGET = 3


def post_callback(client, body, headers, provider="sandbox"):
    return client.post(
        reverse("payments:webhook", kwargs={"provider": provider}),
        data=body,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )


def keyed(name, order, **params):
    url = reverse(name, kwargs={"number": order.number}) + f"?key={guest_key(number=order.number)}"
    return url + "".join(f"&{k}={v}" for k, v in params.items())


def test_the_same_callback_delivered_100_times_pays_once_and_stores_100(client):
    order = sandbox_order()
    payment = start(order)
    body, headers = gateway.build_callback(payment=payment, outcome="pay")
    for _i in range(100):
        assert post_callback(client, body, headers).status_code == 200
    order.refresh_from_db()
    assert order.payment_status == "paid" and order.total_paid == order.total
    assert order.events.filter(kind="payment", to_status="paid").count() == 1
    assert PaymentEvent.objects.count() == 100
    assert PaymentEvent.objects.filter(processed=True).count() == 1
    assert Payment.objects.get().state == PaymentState.CAPTURED


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "garbage"])
def test_forged_or_missing_signature_is_400_and_changes_nothing(client, signature):
    order = sandbox_order()
    payment = start(order)
    body, _headers = gateway.build_callback(payment=payment, outcome="pay")
    headers = {SIGNATURE_HEADER: signature} if signature else {}
    response = post_callback(client, body, headers)
    assert response.status_code == 400
    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.payment_status == "unpaid" and payment.state == PaymentState.PENDING
    assert not PaymentEvent.objects.filter(signature_valid=True).exists()


def test_forged_callbacks_are_kept_short_and_capped_per_client(client, settings):
    """Anyone can post a forgery: each one kept is at most 1 KB of what was sent, and past
    the hourly cap per client address none is kept at all."""
    settings.PAYMENT_UNSIGNED_CALLBACKS_PER_HOUR = 3
    url = reverse("payments:webhook", kwargs={"provider": "sandbox"})
    huge = b'{"junk": "' + b"x" * 60_000 + b'"}'
    for _ in range(6):
        response = client.post(
            url, data=huge, content_type="application/json", REMOTE_ADDR="192.0.2.9"
        )
        assert response.status_code == 400
    kept = list(PaymentEvent.objects.values_list("payload", flat=True))
    assert len(kept) == 3 and all(len(payload) <= 1024 for payload in kept)
    client.post(url, data=huge, content_type="application/json", REMOTE_ADDR="192.0.2.10")
    assert PaymentEvent.objects.count() == 4


def test_a_signed_callback_is_never_capped(client, settings):
    settings.PAYMENT_UNSIGNED_CALLBACKS_PER_HOUR = 1
    url = reverse("payments:webhook", kwargs={"provider": "sandbox"})
    for _ in range(3):
        client.post(url, data=b"{}", content_type="application/json", REMOTE_ADDR="192.0.2.11")
    payment = start(sandbox_order())
    body, headers = gateway.build_callback(payment=payment, outcome="pay")
    response = client.post(
        url,
        data=body,
        content_type="application/json",
        REMOTE_ADDR="192.0.2.11",
        **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()},
    )
    assert response.status_code == 200
    assert Payment.objects.get().state == PaymentState.CAPTURED


@pytest.mark.parametrize("body", [b'{"id": "evt\x00"}', rb'{"id": "evt\u0000"}', b"\x00\x00"])
def test_a_nul_in_a_callback_is_a_400_never_a_500(client, body):
    url = reverse("payments:webhook", kwargs={"provider": "sandbox"})
    signed = {f"HTTP_{SIGNATURE_HEADER.upper().replace('-', '_')}": sign(body)}
    for headers in ({}, signed):
        response = client.post(url, data=body, content_type="application/json", **headers)
        assert 400 <= response.status_code < 500


def test_webhook_bad_input_is_4xx_never_500(client):
    url = reverse("payments:webhook", kwargs={"provider": "sandbox"})
    assert client.post(url, data=b"", content_type="application/json").status_code == 400
    signed = b"not json"
    response = client.post(
        url, data=signed, content_type="application/json", headers={SIGNATURE_HEADER: sign(signed)}
    )
    assert response.status_code == 400
    assert client.post(url, data=b"{}", content_type="text/plain").status_code == 400
    assert client.post(url, {"a": "b"}).status_code == 400  # a form post
    huge = b"{" + b" " * (70 * 1024) + b"}"
    assert client.post(url, data=huge, content_type="application/json").status_code == 413
    assert client.get(url).status_code == 405
    other = reverse("payments:webhook", kwargs={"provider": "paypal"})
    assert client.post(other, data=b"{}", content_type="application/json").status_code == 404
    manual = reverse("payments:webhook", kwargs={"provider": "manual"})
    assert client.post(manual, data=b"{}", content_type="application/json").status_code == 400
    assert not Order.objects.exists()


def test_webhook_needs_no_csrf_token():
    from django.test import Client

    order = sandbox_order()
    payment = start(order)
    body, headers = gateway.build_callback(payment=payment, outcome="pay")
    response = post_callback(Client(enforce_csrf_checks=True), body, headers)
    assert response.status_code == 200


def test_return_page_pending_then_paid(client, django_assert_max_num_queries):
    order = sandbox_order()
    payment = start(order)
    with django_assert_max_num_queries(RETURN_BUDGET):
        response = client.get(keyed("payments:return", order))
    html = response.content.decode()
    assert response.status_code == 200
    assert response["Refresh"].startswith("2; url=") and "wait=1" in response["Refresh"]
    assert "Processing" in html and "Check again" in html
    capped = client.get(keyed("payments:return", order, wait=60))
    assert not capped.has_header("Refresh") and "longer than usual" in capped.content.decode()
    assert client.get(keyed("payments:return", order, wait="x")).status_code == 200
    deliver(payment)
    with django_assert_max_num_queries(RETURN_BUDGET):
        response = client.get(keyed("payments:return", order))
    assert "Paid" in response.content.decode() and not response.has_header("Refresh")


def test_return_page_after_a_decline_offers_retry_and_another_method(client):
    order = sandbox_order()
    payment = start(order)
    deliver(payment, outcome="decline")
    html = client.get(keyed("payments:return", order)).content.decode()
    assert "Try again" in html and "Choose another method" in html
    retry = re.search(r'href="([^"]*/payments/pay/[^"]*)"', html).group(1).replace("&amp;", "&")
    response = client.get(retry)
    assert response.status_code == 302 and "/payments/sandbox/" in response.url
    assert Payment.objects.filter(order=order).count() == 2


def test_abandoned_payment_shows_not_paid(client):
    order = sandbox_order()
    start(order)
    html = client.get(keyed("payments:return", order, abandoned=1)).content.decode()
    assert "Try again" in html


def test_pages_of_another_order_are_404(client):
    order = sandbox_order()
    for name in ("payments:return", "payments:start", "payments:choose"):
        assert client.get(reverse(name, kwargs={"number": order.number})).status_code == 404
        assert client.get(reverse(name, kwargs={"number": "NOPE"})).status_code == 404
    assert client.get(reverse("payments:sandbox", kwargs={"token": "nope"})).status_code == 404


def test_sandbox_page_pay_sends_a_signed_callback_and_returns(
    client, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    order = sandbox_order()
    payment = start(order)
    url = reverse("payments:sandbox", kwargs={"token": payment.reference})
    with django_assert_max_num_queries(SANDBOX_BUDGET):
        html = client.get(url).content.decode()
    assert "Pay $15.00" in html and order.number in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"action": "pay", "twice": "1"})
    assert response.status_code == 302 and response.url == keyed("payments:return", order)
    order.refresh_from_db()
    assert order.payment_status == "paid"
    assert PaymentEvent.objects.count() == 2
    assert PaymentEvent.objects.filter(duplicate=True).count() == 1
    # The page now says the payment is closed; a second "pay" sends nothing.
    assert "closed" in client.get(url).content.decode()
    client.post(url, {"action": "pay"})
    assert PaymentEvent.objects.count() == 2


def test_sandbox_page_decline_and_abandon(client):
    order = sandbox_order()
    payment = start(order)
    url = reverse("payments:sandbox", kwargs={"token": payment.reference})
    response = client.post(url, {"action": "abandon"})
    assert "abandoned=1" in response.url
    assert not PaymentEvent.objects.exists()
    client.post(url, {"action": "decline"})
    payment.refresh_from_db()
    assert payment.state == PaymentState.FAILED
    assert client.post(url, {"action": "explode"}).status_code == 302  # a message, no 500


@pytest.mark.django_db(transaction=True)
def test_late_callback_arrives_after_the_return_page(client, settings):
    settings.SANDBOX_LATE_CALLBACK_SECONDS = 0.3
    order = sandbox_order()
    payment = start(order)
    url = reverse("payments:sandbox", kwargs={"token": payment.reference})
    response = client.post(url, {"action": "pay", "late": "1"})
    assert "Processing" in client.get(response.url).content.decode()
    order.refresh_from_db()
    assert order.payment_status == "unpaid"
    # No queries while the timer thread writes: SQLite's shared in-memory test database
    # locks whole tables and would refuse a concurrent read.
    time.sleep(1.5)
    order.refresh_from_db()
    assert order.payment_status == "paid"
    assert "Paid" in client.get(response.url).content.decode()


def test_choose_another_method_then_pay_by_bank_transfer(client):
    order = sandbox_order()
    deliver(start(order), outcome="decline")
    html = client.get(keyed("payments:choose", order)).content.decode()
    assert "Bank transfer" in html
    response = client.post(
        reverse("payments:start", kwargs={"number": order.number}),
        {"method": "manual", "key": guest_key(number=order.number)},
    )
    assert response.status_code == 302 and response.url.startswith(order.get_absolute_url())
    order.refresh_from_db()
    assert order.payment_method == "manual"
    bad = client.post(
        reverse("payments:start", kwargs={"number": order.number}),
        {"method": "bitcoin", "key": guest_key(number=order.number)},
    )
    assert bad.status_code == 302 and "/choose/" in bad.url


def test_a_paid_order_is_not_started_again(client):
    order = sandbox_order()
    deliver(start(order))
    response = client.get(keyed("payments:start", order))
    assert response.status_code == 302 and "/payments/return/" in response.url
    assert Payment.objects.count() == 1


def test_checkout_redirects_a_guest_to_the_gateway(client):
    """The whole path: checkout -> place -> payments:start (with the order's signed key) ->
    sandbox -> pay -> return page says paid."""
    from catalog.tests.factories import VariantFactory
    from orders.tests.factories import ShippingMethodFactory
    from orders.tests.test_views import NEW_ADDRESS, add, review_fields

    variant = VariantFactory(price=Decimal("20.00"), stock=3)
    method = ShippingMethodFactory(price=Decimal("5.00"))
    add(client, variant)
    client.post(
        reverse("orders:checkout"),
        {
            "email": "guest@example.com",
            "shipping_method": method.pk,
            "payment_method": "sandbox",
            **NEW_ADDRESS,
        },
    )
    fields, _html = review_fields(client)
    response = client.post(reverse("orders:place"), fields)
    order = Order.objects.get()
    assert response.url == selectors.url_for("payments:start", order)
    response = client.get(response.url)
    assert response.status_code == 302 and "/payments/sandbox/" in response.url
    response = client.post(response.url, {"action": "pay"})
    assert "Paid" in client.get(response.url).content.decode()
    # Another browser, without the session or the key, is not let in.
    from django.test import Client

    assert (
        Client().get(reverse("payments:start", kwargs={"number": order.number})).status_code == 404
    )


def test_signed_in_shopper_reaches_their_payment_pages_without_a_key(client):
    from accounts.tests.factories import UserFactory

    user = UserFactory()
    order = sandbox_order(user=user)
    client.force_login(user)
    response = client.get(reverse("payments:start", kwargs={"number": order.number}))
    assert response.status_code == 302
    assert (
        client.get(reverse("payments:return", kwargs={"number": order.number})).status_code == 200
    )
