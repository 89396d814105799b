import csv
import io

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.http import StreamingHttpResponse
from django.urls import reverse

from accounts.tests.factories import UserFactory
from orders import services
from orders.tests.factories import order_of

pytestmark = pytest.mark.django_db

#: Session, user, the page of orders, filter choices (shipping methods); no count query.
ADMIN_LIST_BUDGET = 8


@pytest.fixture
def merchant(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("orders", [1, 30])
def test_order_list_queries_do_not_grow(merchant, orders, django_assert_max_num_queries):
    for _i in range(orders):
        order_of()
    with django_assert_max_num_queries(ADMIN_LIST_BUDGET):
        response = merchant.get(reverse("admin:orders_order_changelist"))
    assert response.status_code == 200


def test_search_and_detail(merchant):
    order, _v = order_of(email="findme@example.com")
    response = merchant.get(reverse("admin:orders_order_changelist"), {"q": order.number})
    assert order.number in response.content.decode()
    response = merchant.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert response.status_code == 200


def test_mark_shipped_asks_for_carrier_then_ships(merchant):
    order, _v = order_of()
    services.record_payment(order=order, amount=order.total)
    url = reverse("admin:orders_order_changelist")
    data = {"action": "mark_shipped", ACTION_CHECKBOX_NAME: [order.pk]}
    response = merchant.post(url, data)
    assert "Tracking number" in response.content.decode()
    merchant.post(url, {**data, "apply": "1", "carrier": "dhl", "tracking_number": "JD9"})
    order.refresh_from_db()
    assert order.fulfilment_status == "shipped"
    assert order.shipments.get().tracking_number == "JD9"


def test_csv_export_streams_the_selection(merchant):
    first, _v = order_of()
    second, _v = order_of()
    response = merchant.post(
        reverse("admin:orders_order_changelist"),
        {"action": "export_csv", ACTION_CHECKBOX_NAME: [first.pk, second.pk]},
    )
    assert isinstance(response, StreamingHttpResponse)
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "Number"
    assert {row[0] for row in rows[1:]} == {first.number, second.number}
