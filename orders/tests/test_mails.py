"""Order mails are sent once each, however often their task is delivered.

Tasks are acknowledged late (CELERY_TASK_ACKS_LATE): a worker killed while mailing leaves its
task to the next worker, which runs it again. `bench/chaos.py` kills a real worker mid-send;
these tests hold the rule it relies on."""

from smtplib import SMTPException

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from orders import mails, services
from orders.models import OrderMail
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
    order, _variant = order_of(2)
    services.record_payment(order=order, amount=order.total)
    line = order.lines.get()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.ship_lines(
            order=order, carrier="dhl", tracking_number="P1", quantities={line.pk: 1}
        )
        services.ship_lines(
            order=order, carrier="dhl", tracking_number="P2", quantities={line.pk: 1}
        )

    shipped = OrderMail.objects.filter(order=order, name="shipped")
    assert shipped.count() == 2 and not shipped.filter(sent_at__isnull=True).exists()
    # Both mails were sent after both parcels left: each still names its own.
    assert ["P1" in m.body and "P2" not in m.body for m in mail.outbox] == [True, False]
    assert ["P2" in m.body for m in mail.outbox] == [False, True]
    for queued in shipped:
        assert not mails.send_queued_mail(mail_id=queued.pk)
    assert len(mail.outbox) == 2


def test_the_placed_mail_reads_the_order_its_lines_and_tax_in_three_queries(
    django_assert_num_queries,
):
    """Sent for every order (inline where no broker runs): no parcels to read at placing."""
    order, _variant = order_of()
    with django_assert_num_queries(3):  # the order with its method, its lines, its tax rows
        assert mails.render_and_send(order_id=order.pk, name="placed")
    [placed] = mail.outbox
    assert order.number in placed.subject and order.lines.get().product_name in placed.body
