"""Carrier tracking: scans stored once per parcel, the shopper's two mails, delivery from
the carrier, receipt confirmed by the shopper or by itself, the merchant's to-do, and
Kuaidi100's signed query, subscription and push. Nothing leaves the machine: Kuaidi100 is
intercepted at the HTTP layer (responses), the demo carrier needs no network."""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
import responses
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from insights import selectors as insights_selectors
from orders import mails, services
from orders.models import TRANSFER_DUE_SOON, Order, OrderMail, Shipment, TrackingEvent
from orders.selectors import guest_key
from orders.tests.factories import order_of
from orders.tracking import TrackedEvent, kuaidi100, provider_for

pytestmark = pytest.mark.django_db

SALT = "our-own-salt-7f3a"
KEY = "kuaidi100-key"
CUSTOMER = "CUSTOMER0001"
#: Order page with parcels: user, order, lines, tax rows, discounts, events, shipments,
#: their lines, their tracking events, returns, the header's cart count and menu.
ORDER_BUDGET = 13


@pytest.fixture
def kuaidi100_account(settings):
    settings.KUAIDI100_CUSTOMER = CUSTOMER
    settings.KUAIDI100_KEY = KEY
    settings.KUAIDI100_SALT = SALT
    settings.TRACKING_CALLBACK_BASE_URL = "https://shop.example.cn"
    return settings


def shipped(carrier="demo", number="DEMO1", *, user=None, minutes_ago=0):
    """A paid order shipped with `carrier`, shipped `minutes_ago` (the test moves time)."""
    order, _v = order_of(2, user=user, email=user.email if user else "ada@example.com")
    services.record_payment(order=order, amount=order.total)
    shipment = services.ship_lines(order=order, carrier=carrier, tracking_number=number)
    Shipment.objects.filter(pk=shipment.pk).update(
        shipped_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    shipment.refresh_from_db()
    return order, shipment


def statuses(order):
    order.refresh_from_db()
    return order.status, order.fulfilment_status


def poll(capture, now=None):
    with capture(execute=True):
        return services.poll_tracking(now=now)


def mails_about(order):
    return [message.subject for message in mail.outbox if order.number in message.subject]


# --- The demo carrier -----------------------------------------------------------------


def test_the_demo_carrier_moves_with_the_clock_and_stores_each_scan_once(
    django_capture_on_commit_callbacks,
):
    order, shipment = shipped(minutes_ago=2)
    assert poll(django_capture_on_commit_callbacks) == 3
    shipment.refresh_from_db()
    assert shipment.tracking_stage == "in_transit"
    assert [e.stage for e in shipment.tracking_events.all()] == [
        "in_transit",
        "in_transit",
        "accepted",
    ]
    # Asked again within the minute: not asked; the same scans again: nothing new.
    assert poll(django_capture_on_commit_callbacks) == 0
    events = provider_for("demo").query(shipment, now=timezone.now())
    assert services.record_tracking(shipment=shipment, events=events) == 0
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 3
    assert statuses(order) == ("open", "shipped")


def test_out_for_delivery_and_delivered_each_mail_the_shopper_once(
    django_capture_on_commit_callbacks,
):
    order, shipment = shipped(minutes_ago=10)
    mail.outbox.clear()
    poll(django_capture_on_commit_callbacks, now=shipment.shipped_at + timedelta(minutes=3.5))
    assert mails_about(order) == [f"Your order {order.number} is out for delivery"]
    poll(django_capture_on_commit_callbacks)
    assert mails_about(order) == [
        f"Your order {order.number} is out for delivery",
        f"Your order {order.number} was delivered",
    ]
    assert shipment.tracking_events.count() == 5
    delivered = mail.outbox[-1]
    assert "Please confirm receipt" in delivered.body and "after 10 days" in delivered.body
    assert f"/orders/{order.number}/?key=" in delivered.body
    # The same scans pushed again mail nobody.
    with django_capture_on_commit_callbacks(execute=True):
        events = provider_for("demo").query(shipment, now=timezone.now())
        assert services.record_tracking(shipment=shipment, events=events) == 0
    assert len(mails_about(order)) == 2
    # Each is an OrderMail of the parcel, marked sent: a task delivered again (a worker
    # killed after sending) sends nothing.
    queued = OrderMail.objects.filter(order=order, shipment=shipment).exclude(name="shipped")
    assert sorted(queued.values_list("name", flat=True)) == ["delivered", "out_for_delivery"]
    assert not queued.filter(sent_at__isnull=True).exists()
    for each in queued:
        assert not mails.send_queued_mail(mail_id=each.pk)
    assert len(mails_about(order)) == 2


def test_delivered_by_the_carrier_waits_for_the_shopper_then_completes_by_itself(
    django_capture_on_commit_callbacks, settings
):
    settings.TRACKING_AUTO_CONFIRM_DAYS = 10
    order, shipment = shipped(minutes_ago=30)
    poll(django_capture_on_commit_callbacks)
    shipment.refresh_from_db()
    assert shipment.delivered_at == shipment.shipped_at + timedelta(minutes=4)
    assert shipment.confirm_by == shipment.delivered_at + timedelta(days=10)
    assert statuses(order) == ("open", "delivered")
    # Not yet due: nothing moves.
    assert services.confirm_deliveries_due(now=timezone.now() + timedelta(days=9)) == 0
    assert statuses(order) == ("open", "delivered")
    assert services.confirm_deliveries_due(now=timezone.now() + timedelta(days=11)) == 1
    assert statuses(order) == ("completed", "delivered")
    completed = order.events.get(to_status="completed")
    assert completed.note == "Receipt confirmed automatically 10 days after delivery"
    # Run again: nothing left to confirm.
    assert services.confirm_deliveries_due(now=timezone.now() + timedelta(days=12)) == 0


def test_an_open_return_keeps_the_order_open_past_the_auto_confirm_day(
    django_capture_on_commit_callbacks,
):
    order, shipment = shipped(minutes_ago=30)
    poll(django_capture_on_commit_callbacks)
    line = order.lines.get()
    services.request_return(order=order, quantities={line.pk: 1}, reason="other")
    services.confirm_deliveries_due(now=timezone.now() + timedelta(days=11))
    assert statuses(order) == ("open", "delivered")
    shipment.refresh_from_db()
    assert shipment.confirm_by is None  # received; the return decides what happens next


def test_the_merchants_mark_delivered_still_completes_at_once():
    order, _shipment = shipped(carrier="dhl", number="JD1")
    services.mark_delivered(order=order)
    assert statuses(order) == ("completed", "delivered")


# --- Confirm receipt (the shopper's button) -------------------------------------------


def test_confirming_receipt_completes_the_order_at_once(client, django_capture_on_commit_callbacks):
    user = UserFactory()
    order, shipment = shipped(user=user, minutes_ago=30)
    poll(django_capture_on_commit_callbacks)
    client.force_login(user)
    html = client.get(order.get_absolute_url()).content.decode()
    assert "I received my order" in html
    assert "we take it as received" in html
    url = reverse("orders:confirm-receipt", args=[order.number])
    response = client.post(url, follow=True)
    assert "Thank you for confirming that your order arrived." in response.content.decode()
    assert statuses(order) == ("completed", "delivered")
    shipment.refresh_from_db()
    assert shipment.confirm_by is None
    assert "I received my order" not in response.content.decode()
    # Twice: a message, nothing moves.
    response = client.post(url, follow=True)
    assert "Nothing of this order is waiting for your confirmation." in response.content.decode()
    assert statuses(order) == ("completed", "delivered")


def test_confirming_receipt_of_a_parcel_still_on_its_way_marks_it_delivered(client):
    user = UserFactory()
    order, shipment = shipped(carrier="dhl", number="JD2", user=user)
    client.force_login(user)
    client.post(reverse("orders:confirm-receipt", args=[order.number]))
    assert statuses(order) == ("completed", "delivered")
    shipment.refresh_from_db()
    assert shipment.delivered_at is not None


def test_nobody_confirms_someone_elses_order(client):
    order, _shipment = shipped(carrier="dhl", number="JD3", user=UserFactory())
    client.force_login(UserFactory())
    url = reverse("orders:confirm-receipt", args=[order.number])
    assert client.post(url).status_code == 404
    assert client.post(url, {"key": "forged"}).status_code == 404
    client.logout()
    assert client.post(url).status_code == 404
    assert client.get(url).status_code == 405
    assert statuses(order) == ("open", "shipped")


def test_a_cancelled_order_or_one_not_shipped_has_nothing_to_confirm(client):
    user = UserFactory()
    client.force_login(user)
    order, _v = order_of(user=user, email=user.email)
    url = reverse("orders:confirm-receipt", args=[order.number])
    response = client.post(url, follow=True)
    assert "Nothing of this order is waiting for your confirmation." in response.content.decode()
    services.cancel_order(order=order, actor=user)
    response = client.post(url, follow=True)
    assert "This order was cancelled: there is nothing to receive." in response.content.decode()
    assert statuses(order) == ("cancelled", "unfulfilled")


def test_a_guest_confirms_through_the_signed_link_only(client):
    order, _shipment = shipped(carrier="dhl", number="JD4")
    url = reverse("orders:confirm-receipt", args=[order.number])
    assert client.post(url, {"key": "forged"}).status_code == 404
    client.post(url, {"key": guest_key(number=order.number)})
    assert statuses(order) == ("completed", "delivered")


# --- The order page -------------------------------------------------------------------


@pytest.mark.parametrize("parcels", [1, 3])
def test_the_order_page_shows_each_parcels_timeline_within_budget(
    client, parcels, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    user = UserFactory()
    order, _v = order_of(parcels, user=user, email=user.email)
    services.record_payment(order=order, amount=order.total)
    line = order.lines.get()
    for index in range(parcels):
        shipment = services.ship_lines(
            order=order, carrier="demo", tracking_number=f"D{index}", quantities={line.pk: 1}
        )
        Shipment.objects.filter(pk=shipment.pk).update(
            shipped_at=timezone.now() - timedelta(minutes=3)
        )
    poll(django_capture_on_commit_callbacks)
    client.force_login(user)
    with django_assert_max_num_queries(ORDER_BUDGET):
        html = client.get(order.get_absolute_url()).content.decode()
    assert html.count("Out for delivery with the courier") == parcels
    assert html.count("Parcel collected") == parcels
    assert 'class="order-state tracking-stage--out_for_delivery">Out for delivery' in html
    assert "style=" not in html.split("<main", 1)[1]


def test_the_timeline_reads_in_chinese(client, django_capture_on_commit_callbacks):
    user = UserFactory()
    order, _shipment = shipped(user=user, minutes_ago=30)
    Order.objects.filter(pk=order.pk).update(language="zh-hans")
    poll(django_capture_on_commit_callbacks)
    client.force_login(user)
    html = client.get("/zh-hans" + order.get_absolute_url()).content.decode()
    assert "已签收" in html  # the stage
    assert "派送中" in html
    assert "包裹已揽收" in html  # the demo carrier's scan, in the order's language
    assert "确认收货" in html


# --- The merchant's to-do -------------------------------------------------------------


def test_a_delivery_problem_puts_the_order_on_the_merchants_to_do(client):
    order, shipment = shipped(carrier="dhl", number="JD5")
    problem = TrackedEvent(
        occurred_at=timezone.now(), description="地址不详，无法派送", stage="exception"
    )
    services.record_tracking(shipment=shipment, events=[problem])
    assert list(Order.objects.tracking_problems()) == [order]
    counts = insights_selectors.to_do_counts(
        transfers_due_before=timezone.now() + TRANSFER_DUE_SOON
    )
    assert counts.delivery_problems == 1
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    listed = client.get(reverse("admin:orders_order_changelist"), {"todo": "tracking"})
    assert order.number in listed.content.decode()
    desk = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "地址不详，无法派送" in desk and "Problem with the delivery" in desk
    # The carrier moves on: off the to-do.
    later = TrackedEvent(
        occurred_at=timezone.now() + timedelta(hours=2),
        description="再次派送",
        stage="out_for_delivery",
    )
    services.record_tracking(shipment=shipment, events=[later])
    assert not Order.objects.tracking_problems().exists()


# --- Kuaidi100: the push --------------------------------------------------------------


def kuaidi100_result(number, *, state="3"):
    return {
        "message": "ok",
        "state": state,
        "status": "200",
        "ischeck": "1" if state == "3" else "0",
        "com": "shunfeng",
        "nu": number,
        "data": [
            {
                "time": "2026-11-30 15:20:11",
                "ftime": "2026-11-30 15:20:11",
                "context": "您的快件已签收，签收人：本人",
                "status": "签收",
                "areaName": "上海市浦东新区",
            },
            {
                "time": "2026-11-30 08:02:40",
                "ftime": "2026-11-30 08:02:40",
                "context": "快件交给王师傅，正在派送途中",
                "status": "派件",
                "areaName": "上海市浦东新区",
            },
            {
                "time": "2026-11-29 10:00:00",
                "ftime": "2026-11-29 10:00:00",
                "context": "顺丰速运 已收取快件",
                "status": "揽收",
                "areaName": "广东省深圳市",
            },
        ],
    }


def push(client, param: str, sign: str):
    return client.post(reverse("orders:kuaidi100-push"), {"param": param, "sign": sign})


def signed(param: str, salt: str = SALT) -> str:
    return hashlib.md5((param + salt).encode()).hexdigest().upper()  # noqa: S324 (Kuaidi100's)


def test_a_signed_push_is_stored_once_however_often_it_comes(
    client, kuaidi100_account, django_capture_on_commit_callbacks
):
    order, shipment = shipped(carrier="sf", number="SF1234567890")
    mail.outbox.clear()
    param = json.dumps(
        {"status": "shutdown", "message": "", "lastResult": kuaidi100_result("SF1234567890")},
        ensure_ascii=False,
    )
    for _i in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            response = push(client, param, signed(param))
        assert response.status_code == 200
        assert response.json() == {"result": True, "returnCode": "200", "message": "success"}
    events = list(shipment.tracking_events.all())
    assert [(e.stage, e.location) for e in events] == [
        ("delivered", "上海市浦东新区"),
        ("out_for_delivery", "上海市浦东新区"),
        ("accepted", "广东省深圳市"),
    ]
    # Kuaidi100 writes China's time: 15:20 in Shanghai is 07:20 UTC.
    assert events[0].occurred_at == datetime(2026, 11, 30, 7, 20, 11, tzinfo=UTC)
    assert statuses(order) == ("open", "delivered")
    assert len(mails_about(order)) == 2  # out for delivery, delivered: once each


@pytest.mark.parametrize(
    "tamper",
    [
        lambda param: (param, signed(param, salt="someone-elses-salt")),
        lambda param: (param.replace("SF1234567890", "SF0000000000"), signed(param)),
        lambda param: (param, ""),
        lambda param: ("", ""),
    ],
    ids=["other-salt", "tampered", "unsigned", "empty"],
)
def test_a_forged_push_changes_nothing_and_is_answered_as_a_failure(
    client, kuaidi100_account, tamper
):
    order, shipment = shipped(carrier="sf", number="SF1234567890")
    param = json.dumps({"status": "polling", "lastResult": kuaidi100_result("SF1234567890")})
    response = push(client, *tamper(param))
    assert response.status_code == 400
    assert response.json() == {"result": False, "returnCode": "500", "message": "sign"}
    assert not shipment.tracking_events.exists()
    assert statuses(order) == ("open", "shipped")


def test_without_a_salt_no_push_is_believed(client, kuaidi100_account):
    kuaidi100_account.KUAIDI100_SALT = ""
    param = json.dumps({"status": "polling", "lastResult": kuaidi100_result("SF1")})
    assert push(client, param, signed(param, salt="")).status_code == 400


@pytest.mark.parametrize(
    "param", ["not json", "[]", '{"status": "polling"}', '{"lastResult": {"message": "x"}}']
)
def test_a_signed_push_we_cannot_read_is_refused_not_a_500(client, kuaidi100_account, param):
    response = push(client, param, signed(param))
    assert response.status_code == 400
    assert response.json()["result"] is False


def test_a_push_about_a_parcel_not_ours_is_acknowledged(client, kuaidi100_account):
    param = json.dumps({"status": "polling", "lastResult": kuaidi100_result("SF-NOT-OURS")})
    assert push(client, param, signed(param)).json()["result"] is True
    assert not TrackingEvent.objects.exists()


def test_an_aborted_push_hands_the_parcel_back_to_polling(client, kuaidi100_account):
    _order, shipment = shipped(carrier="sf", number="SF42")
    Shipment.objects.filter(pk=shipment.pk).update(tracking_pushed=True)
    result = {**kuaidi100_result("SF42", state="0"), "data": kuaidi100_result("SF42")["data"][2:]}
    param = json.dumps({"status": "abort", "message": "3天查询无记录", "lastResult": result})
    assert push(client, param, signed(param)).status_code == 200
    shipment.refresh_from_db()
    assert not shipment.tracking_pushed and shipment.tracking_stage == "accepted"


# --- Kuaidi100: subscription and real-time query ---------------------------------------


def form(call) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(call.request.body).items()}


@responses.activate
def test_shipping_subscribes_the_parcel_with_our_callback_and_salt(
    kuaidi100_account, django_capture_on_commit_callbacks
):
    responses.post(
        kuaidi100.SUBSCRIBE_URL, json={"result": True, "returnCode": "200", "message": "提交成功"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        _order, shipment = shipped(carrier="sf", number="SF777")
    sent = form(responses.calls[0])
    assert sent["schema"] == "json"
    param = json.loads(sent["param"])
    assert param["company"] == "shunfeng" and param["number"] == "SF777"
    assert param["key"] == KEY
    assert param["parameters"]["callbackurl"] == "https://shop.example.cn/tracking/kuaidi100/"
    assert param["parameters"]["salt"] == SALT
    assert param["parameters"]["phone"]  # SF Express answers only with the phone number
    shipment.refresh_from_db()
    assert shipment.tracking_pushed
    # Pushed parcels are not polled.
    assert services.poll_tracking() == 0
    assert len(responses.calls) == 1


@responses.activate
def test_a_refused_subscription_leaves_the_parcel_to_polling(
    kuaidi100_account, django_capture_on_commit_callbacks
):
    responses.post(
        kuaidi100.SUBSCRIBE_URL, json={"result": False, "returnCode": "600", "message": "bad key"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        _order, shipment = shipped(carrier="sf", number="SF778")
    shipment.refresh_from_db()
    assert not shipment.tracking_pushed


@responses.activate
def test_polling_sends_kuaidi100s_signed_query_and_stores_the_answer(
    kuaidi100_account, django_capture_on_commit_callbacks
):
    kuaidi100_account.KUAIDI100_SALT = ""  # no push: polled
    order, shipment = shipped(carrier="zto", number="ZTO123")
    answer = {**kuaidi100_result("ZTO123", state="5"), "com": "zhongtong"}
    answer["data"] = answer["data"][1:]
    responses.post(kuaidi100.QUERY_URL, json=answer)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.poll_tracking() == 2
    sent = form(responses.calls[0])
    assert sent["customer"] == CUSTOMER
    expected = hashlib.md5((sent["param"] + KEY + CUSTOMER).encode()).hexdigest().upper()  # noqa: S324
    assert sent["sign"] == expected
    param = json.loads(sent["param"])
    assert (param["com"], param["num"], param["resultv2"]) == ("zhongtong", "ZTO123", "1")
    shipment.refresh_from_db()
    assert shipment.tracking_stage == "out_for_delivery"
    assert statuses(order) == ("open", "shipped")
    # Within TRACKING_POLL_MINUTES the parcel is not asked about again.
    assert services.poll_tracking() == 0
    assert len(responses.calls) == 1


@responses.activate
def test_a_failed_query_is_retried_later_and_breaks_nothing(kuaidi100_account):
    kuaidi100_account.KUAIDI100_SALT = ""
    _order, shipment = shipped(carrier="yto", number="YT1")
    responses.post(
        kuaidi100.QUERY_URL,
        json={"result": False, "returnCode": "400", "message": "找不到对应公司"},
    )
    assert services.poll_tracking() == 0
    responses.replace(responses.POST, kuaidi100.QUERY_URL, body="<html>busy</html>", status=502)
    Shipment.objects.filter(pk=shipment.pk).update(tracking_checked_at=None)
    assert services.poll_tracking() == 0
    shipment.refresh_from_db()
    assert shipment.tracking_checked_at is not None and not shipment.tracking_events.exists()


@responses.activate
def test_one_polling_run_stays_within_the_providers_rate_limit(kuaidi100_account):
    kuaidi100_account.KUAIDI100_SALT = ""
    kuaidi100_account.KUAIDI100_QUERIES_PER_MINUTE = 2
    for index in range(3):
        shipped(carrier="yunda", number=f"YD{index}")
    responses.post(kuaidi100.QUERY_URL, json={**kuaidi100_result("x", state="0"), "data": []})
    services.poll_tracking()
    assert len(responses.calls) == 2
    services.poll_tracking()  # the third, the longest unasked, goes next
    assert len(responses.calls) == 3
    numbers = {json.loads(form(call)["param"])["num"] for call in responses.calls}
    assert numbers == {"YD0", "YD1", "YD2"}


def test_carriers_without_an_account_keep_a_plain_link(settings):
    settings.KUAIDI100_KEY = ""
    assert provider_for("sf") is None
    assert provider_for("other") is None
    assert provider_for("demo") is not None


@pytest.mark.parametrize(
    ("state", "stage"),
    [
        ("0", "in_transit"),
        ("1", "accepted"),
        ("2", "exception"),
        ("3", "delivered"),
        ("4", "returned"),
        ("5", "out_for_delivery"),
        ("6", "returned"),
        ("7", "in_transit"),
        ("14", "exception"),
        ("99", "in_transit"),
    ],
)
def test_kuaidi100_states_map_to_the_shops_stages(state, stage):
    result = {
        "state": state,
        "com": "ems",
        "nu": "E1",
        "data": [{"time": "2026-11-30 10:00:00", "context": "scan", "status": ""}],
    }
    assert kuaidi100.parse_result(result)[2][0].stage == stage
