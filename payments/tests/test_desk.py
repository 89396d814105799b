"""The order's admin page as the merchant's desk: the buttons each state allows (and only
those), each button's page working through the services, bad input answered with a message
and nothing changed, the timeline in plain words, and query budgets that do not grow with
lines, orders or rows. Lives in payments because the order page the merchant sees is the
payments app's subclass (orders/admin.py cannot import payments)."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from cart.tests.factories import CartLineFactory
from catalog.models import Variant
from catalog.tests.factories import VariantFactory
from orders import services as order_services
from orders.models import Order, ReturnRequest
from orders.tests.factories import cart_with, order_of, place
from payments import services
from payments.models import Payment, PaymentState, Refund
from payments.tests.factories import deliver, sandbox_order, start

pytestmark = pytest.mark.django_db

#: Session, user, the order with its invoice, fapiao and account; its lines with pictures,
#: tax rows, discounts, events, shipments with their lines and tracking events, returns,
#: credit notes (10); refunds committed, "anything shipped?" (cancel), payment changes,
#: refunds, the customer's totals (5); Django's own fetch of the order, the fapiao check, the
#: payments inline, the invoice and credit notes of the details (5): 22 measured, whatever
#: the lines and parcels.
ORDER_PAGE_BUDGET = 22
#: Session, user, the page of rows (with its joins), the filter's shipping methods: 6 at
#: most measured (the order list), for 1 row or 30.
LIST_BUDGET = 6


def change_url(order):
    return reverse("admin:orders_order_change", args=[order.pk])


def tools_on(client, order) -> list[str]:
    response = client.get(change_url(order))
    assert response.status_code == 200
    return [tool.label for tool in response.context["tools"]]


def paid_order(**kwargs):
    order = sandbox_order(**kwargs)
    deliver(start(order))
    order.refresh_from_db()
    return order


def transfer_order(**kwargs):
    order, _variant = order_of(payment="manual", **kwargs)
    start(order, provider="manual")
    order.refresh_from_db()
    return order


def two_line_order():
    first = VariantFactory(price=Decimal("10.00"), stock=10, sku="FIRST")
    second = VariantFactory(price=Decimal("20.00"), stock=10, sku="SECOND")
    order = place(cart_with((first, 2), (second, 1)), payment="sandbox")
    deliver(start(order))
    order.refresh_from_db()
    return order


def ship(order, quantities=None):
    return order_services.ship_lines(
        order=order, carrier="dhl", tracking_number="JD1", quantities=quantities
    )


# --- The buttons each state allows ---------------------------------------------------------


def test_an_unpaid_bank_transfer_order_offers_recording_the_transfer_and_cancelling(
    admin_client,
):
    assert tools_on(admin_client, transfer_order()) == ["Record bank transfer", "Cancel order"]


def test_a_paid_unshipped_order_offers_shipping_slip_invoice_refund_and_cancel(admin_client):
    assert tools_on(admin_client, paid_order()) == [
        "Ship items",
        "Packing slip",
        "Invoice",
        "Refund items",
        "Cancel order",
    ]


def test_a_partly_shipped_order_no_longer_offers_cancelling(admin_client):
    order = two_line_order()
    ship(order, {order.lines.get(sku="FIRST").pk: 1})
    assert tools_on(admin_client, order) == [
        "Ship items",
        "Mark delivered",
        "Packing slip",
        "Invoice",
        "Refund items",
    ]


def test_a_shipped_order_offers_delivery_invoice_and_refund(admin_client):
    order = paid_order()
    ship(order)
    assert tools_on(admin_client, order) == ["Mark delivered", "Invoice", "Refund items"]


def test_a_requested_return_offers_approve_and_reject_on_the_order(admin_client):
    order = paid_order()
    ship(order)
    order_services.mark_delivered(order=order)
    line = order.lines.get()
    return_request = order_services.request_return(
        order=order, quantities={line.pk: 1}, reason="does_not_fit"
    )
    response = admin_client.get(change_url(order))
    assert [tool.label for tool in response.context["tools"]] == ["Invoice", "Refund items"]
    ((_item, return_tools),) = response.context["returns"]
    assert [tool.label for tool in return_tools] == ["Approve return", "Reject return"]
    html = response.content.decode()
    assert reverse("admin:orders_returnrequest_approve", args=[return_request.pk]) in html
    assert reverse("admin:orders_returnrequest_reject", args=[return_request.pk]) in html


def test_a_cancelled_order_offers_nothing(admin_client):
    order = transfer_order()
    services.cancel_order(order=order, actor=None, by_shopper=False)
    assert tools_on(admin_client, order) == []


def test_a_fully_refunded_order_no_longer_offers_a_refund(admin_client):
    order = paid_order()
    ship(order)
    line = order.lines.get()
    plan = order_services.plan_refund(
        order=order, quantities={line.pk: 1}, shipping=order.shipping_refundable
    )
    services.refund_order(plan=plan, actor=None, confirmed=False)
    assert "Refund items" not in tools_on(admin_client, order)


# --- Each button's page works through the services -----------------------------------------


def test_shipping_part_of_an_order_from_its_page(admin_client, mailoutbox):
    order = two_line_order()
    first, second = order.lines.get(sku="FIRST"), order.lines.get(sku="SECOND")
    url = reverse("admin:orders_order_ship", args=[order.pk])
    data = {f"line_{first.pk}": "1", f"line_{second.pk}": "0", "carrier": "ups"}
    response = admin_client.post(url, {**data, "tracking_number": "1Z999"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.fulfilment_status == "partially_shipped"
    first.refresh_from_db()
    assert first.quantity_shipped == 1
    assert not [mail for mail in mailoutbox if "shipped" in mail.subject.lower()]


@pytest.mark.parametrize(
    "quantities",
    [{"FIRST": "3"}, {"FIRST": "-1"}, {"FIRST": "abc"}, {"FIRST": "0", "SECOND": "0"}],
    ids=["more than remains", "negative", "not a number", "nothing chosen"],
)
def test_shipping_bad_quantities_is_refused_with_a_message(admin_client, quantities):
    order = two_line_order()
    lines = {line.sku: line for line in order.lines.all()}
    data = {f"line_{lines[sku].pk}": value for sku, value in quantities.items()}
    url = reverse("admin:orders_order_ship", args=[order.pk])
    response = admin_client.post(url, {**data, "carrier": "dhl"})
    assert response.status_code == 400
    assert "errorlist" in response.content.decode()
    assert not order.shipments.exists()


def test_shipping_an_unknown_line_ships_nothing(admin_client):
    order = two_line_order()
    other = paid_order()
    url = reverse("admin:orders_order_ship", args=[order.pk])
    data = {f"line_{other.lines.get().pk}": "1", "carrier": "dhl"}
    for line in order.lines.all():
        data[f"line_{line.pk}"] = "0"
    response = admin_client.post(url, data)
    assert response.status_code == 400
    assert "Choose at least one item to ship." in response.content.decode()
    assert not order.shipments.exists() and not other.shipments.exists()


def test_marking_delivered_asks_then_delivers(admin_client):
    order = paid_order()
    ship(order)
    url = reverse("admin:orders_order_deliver", args=[order.pk])
    page = admin_client.get(url)
    assert page.status_code == 200 and "Mark the order delivered" in page.content.decode()
    order.refresh_from_db()
    assert order.fulfilment_status == "shipped"  # a GET changes nothing
    assert admin_client.post(url).status_code == 302
    order.refresh_from_db()
    assert order.fulfilment_status == "delivered"
    again = admin_client.post(url)
    assert again.status_code == 400
    assert "Nothing of this order is on its way." in again.content.decode()


def test_refunding_a_line_from_the_order(admin_client, admin_user):
    order = two_line_order()
    first, second = order.lines.get(sku="FIRST"), order.lines.get(sku="SECOND")
    url = reverse("admin:orders_order_refund", args=[order.pk])
    data = {f"line_{first.pk}": "0", f"line_{second.pk}": "1", "confirm": "1"}
    assert admin_client.post(url, data).status_code == 302
    refund = Refund.objects.get()
    assert (refund.amount, refund.actor) == (Decimal("20.00"), admin_user)
    assert Variant.objects.get(sku="SECOND").stock == 10  # unshipped: back on the shelf


@pytest.mark.parametrize("value", ["2", "-1", "x"], ids=["more than bought", "negative", "text"])
def test_refunding_bad_quantities_is_refused_with_a_message(admin_client, value):
    order = two_line_order()
    first, second = order.lines.get(sku="FIRST"), order.lines.get(sku="SECOND")
    url = reverse("admin:orders_order_refund", args=[order.pk])
    data = {f"line_{first.pk}": "0", f"line_{second.pk}": value, "confirm": "1"}
    response = admin_client.post(url, data)
    assert response.status_code == 400 and "errorlist" in response.content.decode()
    assert not Refund.objects.exists()
    order.refresh_from_db()
    assert order.payment_status == "paid"


def test_recording_a_bank_transfer_asks_then_records(admin_client, admin_user):
    order = transfer_order()
    url = reverse("admin:orders_order_record_transfer", args=[order.pk])
    assert admin_client.get(url).status_code == 200
    data = {"amount": str(order.total), "reference": "  ADA   7731 "}
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "Record $15.00 received" in response.content.decode()
    order.refresh_from_db()
    assert order.payment_status == "unpaid"  # nothing before the confirmation
    assert admin_client.post(url, {**data, "confirm": "1"}).status_code == 302
    order.refresh_from_db()
    assert order.payment_status == "paid"
    payment = Payment.objects.get(order=order)
    assert payment.state == PaymentState.CAPTURED
    change = payment.changes.get(to_state=PaymentState.CAPTURED)
    assert change.actor == admin_user
    assert change.note == "Bank transfer received, reference ADA 7731"
    timeline = [entry.text for entry in admin_client.get(change_url(order)).context["timeline"]]
    assert "Payment of $15.00 received by bank transfer" in timeline


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("14.99", "The order owes $15.00, not $14.99"),
        ("15.01", "The order owes $15.00, not $15.01"),
        ("-15.00", "The amount must be more than zero."),
        ("0", "The amount must be more than zero."),
        ("fifteen", "Enter the amount as a number"),
        ("", "Enter the amount that arrived."),
    ],
)
def test_recording_a_wrong_amount_is_refused_with_a_message(admin_client, amount, message):
    order = transfer_order()
    url = reverse("admin:orders_order_record_transfer", args=[order.pk])
    for data in ({"amount": amount}, {"amount": amount, "confirm": "1"}):
        response = admin_client.post(url, data)
        assert response.status_code == 400
        assert message in response.content.decode()
    order.refresh_from_db()
    assert order.payment_status == "unpaid"
    assert not Payment.objects.filter(order=order, state=PaymentState.CAPTURED).exists()


def test_recording_a_transfer_for_a_paid_order_is_refused(admin_client):
    order = paid_order()
    url = reverse("admin:orders_order_record_transfer", args=[order.pk])
    response = admin_client.post(url, {"amount": str(order.total), "confirm": "1"})
    assert response.status_code == 400
    assert "This order does not await payment." in response.content.decode()
    assert Payment.objects.filter(order=order).count() == 1


def returned_order():
    order = paid_order()
    ship(order)
    order_services.mark_delivered(order=order)
    line = order.lines.get()
    return order, order_services.request_return(
        order=order, quantities={line.pk: 1}, reason="does_not_fit"
    )


def test_approving_a_return_from_the_order_comes_back_to_the_order(admin_client):
    order, return_request = returned_order()
    url = reverse("admin:orders_returnrequest_approve", args=[return_request.pk]) + "?back=order"
    page = admin_client.get(url)
    assert page.status_code == 200 and "Back to the order" in page.content.decode()
    return_request.refresh_from_db()
    assert return_request.status == "requested"  # a GET changes nothing
    response = admin_client.post(url)
    assert response.status_code == 302 and response.url == change_url(order)
    return_request.refresh_from_db()
    assert return_request.status == "approved"
    again = admin_client.post(url)
    assert again.status_code == 400 and "cannot go from" in again.content.decode()


def test_rejecting_a_return_from_the_order_needs_an_answer(admin_client):
    order, return_request = returned_order()
    url = reverse("admin:orders_returnrequest_reject", args=[return_request.pk]) + "?back=order"
    response = admin_client.post(url, {"answer": "   "})
    assert response.status_code == 400 and "errorlist" in response.content.decode()
    return_request.refresh_from_db()
    assert return_request.status == "requested"
    response = admin_client.post(url, {"answer": "Worn, with the tags removed."})
    assert response.status_code == 302 and response.url == change_url(order)
    return_request.refresh_from_db()
    assert (return_request.status, return_request.answer) == (
        "rejected",
        "Worn, with the tags removed.",
    )


def test_the_packing_slip_lists_what_is_left_to_ship_without_prices(admin_client):
    order = two_line_order()
    ship(order, {order.lines.get(sku="FIRST").pk: 1})
    response = admin_client.get(reverse("admin:orders_order_packing_slip", args=[order.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert order.number in html and "FIRST" in html and "SECOND" in html
    assert "12 Analytical Row" in html
    assert "$" not in html and "20.00" not in html


# --- The page in plain words ---------------------------------------------------------------


def test_the_order_page_speaks_plain_words_with_currency(admin_client):
    order = paid_order(price=Decimal("42.00"))
    html = admin_client.get(change_url(order)).content.decode()
    assert "Payment of $47.00 received by card (test gateway)" in html
    assert "payment.captured" not in html
    assert ">sandbox<" not in html
    assert "$47.00" in html and ">47.00<" not in html
    assert html.count("Shipping method:") == 1  # the snapshot's name only, once


def test_the_customer_box_counts_their_orders_and_spend_net_of_refunds(admin_client):
    shopper = UserFactory(email="grace@example.com")
    variant = VariantFactory(price=Decimal("10.00"), stock=10)
    cart = cart_with((variant, 1), user=shopper)
    first = place(cart, user=shopper, payment="sandbox")
    deliver(start(first))
    first.refresh_from_db()
    plan = order_services.plan_refund(order=first, quantities={first.lines.get().pk: 1})
    services.refund_order(plan=plan, actor=None, confirmed=False)
    CartLineFactory(cart=cart, variant=variant, quantity=1)
    second = place(cart, user=shopper, payment="sandbox")
    customer = admin_client.get(change_url(second)).context["customer"]
    assert (customer.order_count, customer.spend) == (2, Decimal("5.00"))
    listing = admin_client.get(customer.orders_url)
    assert listing.status_code == 200
    assert first.number in listing.content.decode() and second.number in listing.content.decode()


# --- Query budgets and who may come in -----------------------------------------------------


@pytest.mark.parametrize("lines", [1, 8])
def test_the_order_page_queries_do_not_grow_with_lines(
    admin_client, lines, django_assert_max_num_queries
):
    variants = [VariantFactory(price=Decimal("5.00"), stock=10) for _n in range(lines)]
    order = place(cart_with(*[(variant, 1) for variant in variants]), payment="sandbox")
    deliver(start(order))
    order.refresh_from_db()
    for line in order.lines.all():
        ship(order, {line.pk: 1})
    with django_assert_max_num_queries(ORDER_PAGE_BUDGET):
        response = admin_client.get(change_url(order))
    assert response.status_code == 200


@pytest.mark.parametrize("rows", [1, 30])
def test_the_lists_queries_do_not_grow_with_rows(admin_client, rows, django_assert_max_num_queries):
    for _n in range(rows):
        order = paid_order()
        plan = order_services.plan_refund(order=order, quantities={order.lines.get().pk: 1})
        services.refund_order(plan=plan, actor=None, confirmed=False)
    for name in (
        "admin:orders_order_changelist",
        "admin:payments_payment_changelist",
        "admin:payments_refund_changelist",
        "admin:orders_returnrequest_changelist",
    ):
        with django_assert_max_num_queries(LIST_BUDGET):
            response = admin_client.get(reverse(name))
        assert response.status_code == 200, name


def test_the_order_list_shows_amounts_with_currency_and_badges(admin_client):
    order = paid_order()
    html = admin_client.get(reverse("admin:orders_order_changelist")).content.decode()
    assert "$15.00" in html
    assert 'class="badge badge--paid"' in html and 'class="badge badge--unfulfilled"' in html
    assert order.number in html


@pytest.mark.parametrize(
    "name",
    [
        "admin:orders_order_change",
        "admin:orders_order_ship",
        "admin:orders_order_deliver",
        "admin:orders_order_packing_slip",
        "admin:orders_order_refund",
        "admin:orders_order_record_transfer",
        "admin:orders_order_cancel",
    ],
)
def test_the_desk_is_for_staff_only(client, name):
    order = transfer_order()
    url = reverse(name, args=[order.pk])
    client.force_login(UserFactory())  # a shopper
    response = client.get(url)
    assert response.status_code == 302 and "/login/" in response.url
    client.force_login(UserFactory(is_staff=True))  # staff without order permissions
    assert client.get(url).status_code == 403
    assert client.post(url, {"amount": "15.00", "confirm": "1"}).status_code == 403
    order.refresh_from_db()
    assert order.payment_status == "unpaid" and Order.objects.count() == 1
    assert not ReturnRequest.objects.exists()


def test_the_desk_reads_in_chinese(admin_client):
    order = paid_order()
    response = admin_client.get(change_url(order), headers={"accept-language": "zh-CN"})
    html = response.content.decode()
    assert "订单已全额付款" in html  # Order paid in full
    assert "已通过银行卡（测试网关）收到付款 US$15.00" in html  # Babel, zh_Hans_CN
    assert "可对此订单执行的操作" in html and "装箱单" in html
