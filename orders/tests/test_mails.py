"""Order mails are sent once each, however often their task is delivered.

Tasks are acknowledged late (CELERY_TASK_ACKS_LATE): a worker killed while mailing leaves its
task to the next worker, which runs it again. `bench/chaos.py` kills a real worker mid-send;
these tests hold the rule it relies on."""

import threading
from smtplib import SMTPException

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders import locks, mails, services
from orders.models import Order, OrderMail
from orders.tasks import send_order_mail
from orders.tests.factories import order_of

pytestmark = pytest.mark.django_db


class RefusingBackend(BaseEmailBackend):
    """The mail server went away (outside the machine: the one thing stood in for)."""

    def send_messages(self, email_messages):
        raise SMTPException("421 service not available")


def test_an_order_mail_delivered_twice_is_sent_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        order, _variant = order_of()
    [placed] = mail.outbox
    queued = OrderMail.objects.get(order=order)
    assert queued.name == "placed" and queued.sent_at is not None

    send_order_mail.apply(kwargs={"mail_id": queued.pk})  # the redelivered task

    assert mail.outbox == [placed]


def test_a_send_that_fails_leaves_the_mail_for_the_retry(settings):
    order, _variant = order_of()  # the test's transaction never commits: queued, not sent
    queued = OrderMail.objects.get(order=order, name="placed")
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"

    with pytest.raises(SMTPException):
        mails.send_queued_mail(mail_id=queued.pk)

    queued.refresh_from_db()
    assert queued.sent_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert mails.send_queued_mail(mail_id=queued.pk)
    assert not mails.send_queued_mail(mail_id=queued.pk)
    assert [message.to for message in mail.outbox] == [[order.email]]


def test_each_parcel_gets_its_own_shipped_mail(django_capture_on_commit_callbacks):
    # Tracking numbers no order number or signed link in the mail can hold by chance ("P1"
    # could: the order number is random base32).
    first, second = "first-parcel-tracking", "second-parcel-tracking"
    order, _variant = order_of(2)
    services.record_payment(order=order, amount=order.total)
    line = order.lines.get()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.ship_lines(
            order=order, carrier="dhl", tracking_number=first, quantities={line.pk: 1}
        )
        services.ship_lines(
            order=order, carrier="dhl", tracking_number=second, quantities={line.pk: 1}
        )

    shipped = OrderMail.objects.filter(order=order, name="shipped")
    assert shipped.count() == 2 and not shipped.filter(sent_at__isnull=True).exists()
    # Both mails were sent after both parcels left: each still names its own.
    assert [first in m.body and second not in m.body for m in mail.outbox] == [True, False]
    assert [second in m.body for m in mail.outbox] == [False, True]
    for queued in shipped:
        assert not mails.send_queued_mail(mail_id=queued.pk)
    assert len(mail.outbox) == 2


def test_a_mail_about_an_anonymised_order_goes_nowhere_and_is_done():
    order, _variant = order_of()  # the test's transaction never commits: queued, not sent
    Order.objects.filter(pk=order.pk).update(email="")  # its account was deleted
    queued = OrderMail.objects.get(order=order, name="placed")
    before = timezone.now()

    assert not mails.send_queued_mail(mail_id=queued.pk)

    assert mail.outbox == []
    queued.refresh_from_db()
    assert before <= queued.sent_at <= timezone.now()  # not left for a retry
    assert not mails.send_queued_mail(mail_id=queued.pk)


def test_the_placed_mail_is_sent_in_four_statements():
    """Sent for every order (inline where no broker runs): the mail locked with its order and
    the order's shipping method, the lines, the tax rows and the mark; no parcels."""
    order, _variant = order_of()  # the test's transaction never commits: queued, not sent
    queued = OrderMail.objects.get(order=order, name="placed")
    with CaptureQueriesContext(connection) as queries:
        assert mails.send_queued_mail(mail_id=queued.pk)
    statements = [
        query["sql"]
        for query in queries.captured_queries
        if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))  # the test's
    ]
    assert len(statements) == 4, "\n".join(statements)
    [placed] = mail.outbox
    assert order.number in placed.subject and order.lines.get().product_name in placed.body


@pytest.mark.django_db(transaction=True)
def test_a_mail_being_sent_does_not_hold_its_order():
    """The mail's row is locked while it is sent (an SMTP server may take seconds), not its
    order's: a payment of the order goes ahead meanwhile."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    order, _variant = order_of()  # committed: its placed mail went out
    queued = OrderMail.objects.create(order=order, name="cancelled")
    taken = []

    def pay():
        try:
            with transaction.atomic():
                taken.append(Order.objects.select_for_update(nowait=True).get(pk=order.pk))
        except DatabaseError as error:  # asserted on below
            taken.append(error)
        finally:
            connections.close_all()

    with transaction.atomic():
        assert locks.unsent_mail_for_update(pk=queued.pk).order == order
        thread = threading.Thread(target=pay)
        thread.start()
        thread.join(timeout=30)
    assert taken == [order]
