"""Stripe offline: Checkout Session creation is mocked (the one network call), webhooks are
signed here with Stripe's documented scheme and verified by the real
stripe.Webhook.construct_event."""

import hashlib
import hmac
import json
import time
from decimal import Decimal
from unittest import mock

import pytest
from django.urls import reverse

from orders import services as order_services
from payments import services
from payments.models import Payment, PaymentEvent, PaymentState, Refund
from payments.tests.factories import sandbox_order, start

pytestmark = pytest.mark.django_db

SECRET = "whsec_test_secret"


@pytest.fixture(autouse=True)
def stripe_on(settings):
    settings.PAYMENT_PROVIDERS = ["manual", "sandbox", "stripe"]
    settings.SHOP_PAYMENT_METHODS = [(c, c) for c in settings.PAYMENT_PROVIDERS]
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    settings.STRIPE_WEBHOOK_SECRET = SECRET


def signed(event: dict, *, secret=SECRET, timestamp=None) -> tuple[bytes, str]:
    payload = json.dumps(event).encode()
    t = int(timestamp or time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return payload, f"t={t},v1={mac}"


def session_completed(payment, *, amount_total=None, currency="usd", event_id="evt_1"):
    return {
        "id": event_id,
        "object": "event",
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "id": payment.reference,
                "object": "checkout.session",
                "amount_total": amount_total
                if amount_total is not None
                else int(payment.amount * 100),
                "currency": currency,
                "payment_status": "paid",
                "payment_intent": "pi_1",
                "metadata": {"order": payment.order.number, "payment": str(payment.pk)},
            }
        },
    }


def post(client, payload, header):
    return client.post(
        reverse("payments:webhook", kwargs={"provider": "stripe"}),
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": header} if header else {},
    )


@pytest.fixture
def stripe_payment():
    order = sandbox_order(price=Decimal("12.34"))  # total 17.34
    fake = {"id": "cs_test_123", "url": "https://checkout.stripe.com/c/pay/cs_test_123"}
    with mock.patch("stripe.checkout.Session.create", return_value=fake) as create:
        payment = start(order, provider="stripe")
    kwargs = create.call_args.kwargs
    assert kwargs["line_items"][0]["price_data"]["unit_amount"] == 1734
    assert kwargs["line_items"][0]["price_data"]["currency"] == "usd"
    assert kwargs["idempotency_key"] == f"payment-{payment.pk}"
    assert payment.reference == "cs_test_123" and payment.redirect_url == fake["url"]
    return payment


def test_checkout_redirects_to_the_stripe_session(client, stripe_payment):
    order = stripe_payment.order
    client.force_login(order.user) if order.user else None
    order.refresh_from_db()
    assert order.payment_method == "stripe"


def test_session_completed_pays_the_order_once(client, stripe_payment):
    payload, header = signed(session_completed(stripe_payment))
    assert post(client, payload, header).status_code == 200
    assert post(client, payload, header).status_code == 200
    stripe_payment.refresh_from_db()
    order = stripe_payment.order
    order.refresh_from_db()
    assert stripe_payment.state == PaymentState.CAPTURED
    assert order.payment_status == "paid" and order.total_paid == Decimal("17.34")
    assert PaymentEvent.objects.filter(processed=True).count() == 1
    assert PaymentEvent.objects.filter(duplicate=True).count() == 1


@pytest.mark.parametrize(
    "make_header",
    [
        lambda p: None,
        lambda p: signed(json.loads(p), secret="whsec_wrong")[1],
        lambda p: signed(json.loads(p), timestamp=time.time() - 3600)[1],  # replayed, too old
        lambda p: "t=1,v1=deadbeef",
    ],
)
def test_forged_stale_or_missing_stripe_signature_is_400(client, stripe_payment, make_header):
    payload, _header = signed(session_completed(stripe_payment))
    assert post(client, payload, make_header(payload)).status_code == 400
    stripe_payment.refresh_from_db()
    assert stripe_payment.state == PaymentState.PENDING
    assert not PaymentEvent.objects.filter(signature_valid=True).exists()


def test_stripe_amount_or_currency_mismatch_is_flagged(client, stripe_payment):
    payload, header = signed(session_completed(stripe_payment, amount_total=100))
    assert post(client, payload, header).status_code == 200
    payload, header = signed(session_completed(stripe_payment, currency="eur", event_id="evt_2"))
    assert post(client, payload, header).status_code == 200
    stripe_payment.refresh_from_db()
    assert stripe_payment.flagged and stripe_payment.state == PaymentState.PENDING
    stripe_payment.order.refresh_from_db()
    assert stripe_payment.order.payment_status == "unpaid"


def test_payment_failed_marks_the_payment_failed(client, stripe_payment):
    event = {
        "id": "evt_f",
        "type": "payment_intent.payment_failed",
        "data": {
            "object": {
                "id": "pi_1",
                "object": "payment_intent",
                "amount": 1734,
                "currency": "usd",
                "last_payment_error": {"message": "Your card was declined."},
                "metadata": {
                    "order": stripe_payment.order.number,
                    "payment": str(stripe_payment.pk),
                },
            }
        },
    }
    payload, header = signed(event)
    assert post(client, payload, header).status_code == 200
    stripe_payment.refresh_from_db()
    assert stripe_payment.state == PaymentState.FAILED
    assert stripe_payment.failure_reason == "Your card was declined."


def test_refund_through_stripe_and_its_echo_changes_nothing_more(
    client, stripe_payment, admin_user
):
    payload, header = signed(session_completed(stripe_payment))
    post(client, payload, header)
    with (
        mock.patch(
            "stripe.checkout.Session.retrieve", return_value={"payment_intent": "pi_1"}
        ) as retrieve,
        mock.patch("stripe.Refund.create", return_value={"id": "re_1"}) as create,
    ):
        order = stripe_payment.order
        order.refresh_from_db()
        plan = order_services.plan_refund(
            order=order, quantities={order.lines.get().pk: 1}, reason="damaged"
        )
        services.refund_order(plan=plan, actor=admin_user, confirmed=False)
    assert retrieve.call_args.args[0] == "cs_test_123"
    assert create.call_args.kwargs["amount"] == 1234
    assert create.call_args.kwargs["payment_intent"] == "pi_1"
    refund = Refund.objects.get()
    assert refund.reference == "re_1"
    # Stripe then tells us the charge has had 7.34 back: already recorded.
    charge = {
        "id": "evt_r",
        "type": "charge.refunded",
        "data": {
            "object": {
                "id": "ch_1",
                "object": "charge",
                "amount_refunded": 1234,
                "currency": "usd",
                "metadata": {"payment": str(stripe_payment.pk)},
            }
        },
    }
    payload, header = signed(charge)
    assert post(client, payload, header).status_code == 200
    assert Refund.objects.count() == 1
    # A refund made in Stripe's dashboard for the rest is recorded from its callback.
    charge["id"], charge["data"]["object"]["amount_refunded"] = "evt_r2", 1734
    payload, header = signed(charge)
    assert post(client, payload, header).status_code == 200
    stripe_payment.refresh_from_db()
    assert stripe_payment.state == PaymentState.REFUNDED
    assert stripe_payment.order.__class__.objects.get().payment_status == "refunded"
    assert Refund.objects.count() == 2


def test_stripe_unavailable_is_a_message_not_a_500(client):
    import stripe

    from accounts.tests.factories import UserFactory

    user = UserFactory()
    order = sandbox_order(user=user)
    client.force_login(user)
    with mock.patch(
        "stripe.checkout.Session.create", side_effect=stripe.APIConnectionError("no network")
    ):
        response = client.post(
            reverse("payments:start", kwargs={"number": order.number}), {"method": "stripe"}
        )
    assert response.status_code == 302 and "/choose/" in response.url
    assert Payment.objects.get().state == PaymentState.FAILED


def test_a_session_expires_no_later_than_the_order_deadline():
    from datetime import timedelta

    from django.utils import timezone

    from payments.providers.stripe import session_expiry

    now = timezone.now()
    assert session_expiry(now + timedelta(hours=2), now=now) == now + timedelta(hours=2)
    # Stripe's minimum is 30 minutes: a sooner deadline gets the minimum, and the order waits.
    assert session_expiry(now + timedelta(minutes=5), now=now) == now + timedelta(minutes=31)
    assert session_expiry(now + timedelta(days=7), now=now) < now + timedelta(hours=24)


def test_starting_a_session_extends_the_order_to_its_expiry(stripe_payment):
    order = stripe_payment.order
    order.refresh_from_db()
    assert stripe_payment.expires_at is not None
    assert order.payment_deadline >= stripe_payment.expires_at


def test_a_failed_refund_is_owed_again(client, stripe_payment):
    payload, header = signed(session_completed(stripe_payment))
    post(client, payload, header)
    order = stripe_payment.order
    order.refresh_from_db()
    plan = order_services.plan_refund(order=order, quantities={order.lines.get().pk: 1})
    with (
        mock.patch("stripe.checkout.Session.retrieve", return_value={"payment_intent": "pi_1"}),
        mock.patch("stripe.Refund.create", return_value={"id": "re_9"}),
    ):
        services.refund_order(plan=plan, actor=None, confirmed=False)
    failed = {
        "id": "evt_rf",
        "type": "refund.failed",
        "data": {
            "object": {
                "id": "re_9",
                "object": "refund",
                "amount": 1234,
                "currency": "usd",
                "failure_reason": "expired_or_canceled_card",
                "metadata": {},
            }
        },
    }
    payload, header = signed(failed)
    assert post(client, payload, header).status_code == 200
    refund = Refund.objects.get()
    order.refresh_from_db()
    stripe_payment.refresh_from_db()
    assert refund.status == "due" and "expired_or_canceled_card" in refund.reason
    assert order.total_refunded == 0 and order.payment_status == "paid"
    assert stripe_payment.flagged and stripe_payment.amount_refunded == 0
    assert services.find_discrepancies() == []


# --- Minor units per currency ------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "amount", "minor"),
    [
        ("JPY", "1000", 1000),  # no decimals: was 100,000 when cents were hard-coded
        ("USD", "10.00", 1000),
        ("KWD", "1.000", 1000),
        ("BHD", "1.000", 1000),
        ("ISK", "500", 50000),  # Stripe's special case: ISK is counted in hundredths
    ],
)
def test_stripe_session_amount_is_in_the_currencys_minor_units(currency, amount, minor):
    from payments.providers.stripe import from_minor, provider

    order = sandbox_order()
    payment = Payment(order=order, provider="stripe", amount=Decimal(amount), currency=currency)
    fake = {"id": "cs_test_1", "url": "https://checkout.stripe.com/c/pay/cs_test_1"}
    with mock.patch("stripe.checkout.Session.create", return_value=fake) as create:
        provider.start(payment=payment, return_url="http://x/", cancel_url="http://x/")
    price_data = create.call_args.kwargs["line_items"][0]["price_data"]
    assert (price_data["unit_amount"], price_data["currency"]) == (minor, currency.lower())
    assert from_minor(minor, currency.lower()) == Decimal(amount)


def test_a_shop_in_yen_charges_and_is_paid_in_whole_yen(client, settings):
    settings.SHOP_CURRENCY = "JPY"
    order = sandbox_order(price=Decimal("995"))  # 995 + 5 shipping
    assert (order.total, order.currency) == (Decimal("1000"), "JPY")
    fake = {"id": "cs_test_jpy", "url": "https://checkout.stripe.com/c/pay/cs_test_jpy"}
    with mock.patch("stripe.checkout.Session.create", return_value=fake) as create:
        payment = start(order, provider="stripe")
    assert create.call_args.kwargs["line_items"][0]["price_data"]["unit_amount"] == 1000
    event = session_completed(payment, amount_total=1000, currency="jpy")
    payload, header = signed(event)
    assert post(client, payload, header).status_code == 200
    payment.refresh_from_db()
    assert payment.state == PaymentState.CAPTURED and not payment.flagged
    # 100 times the price (what cents gave) is a mismatch, not a payment.
    other = sandbox_order(price=Decimal("995"))
    with mock.patch("stripe.checkout.Session.create", return_value={**fake, "id": "cs_2"}):
        second = start(other, provider="stripe")
    event = session_completed(second, amount_total=100_000, currency="jpy", event_id="evt_9")
    payload, header = signed(event)
    post(client, payload, header)
    second.refresh_from_db()
    assert second.flagged and second.state == PaymentState.PENDING
