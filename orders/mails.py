"""The order mails, rendered from templates/orders/email/<name>.{txt,html} and
<name>_subject.txt in the order's language, sent by a Celery worker after commit."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from orders import delivery
from shop import prepared

#: The mails this module may render (a task argument cannot pick an arbitrary template).
MAILS = ("placed", "payment_reminder", "paid", "shipped", "cancelled", "refunded")
#: The mails that confirm the order: they repeat the address and the delivery estimate.
CONFIRMATIONS = ("placed", "paid")


def queue_order_mail(*, order, name: str, shipment=None) -> None:
    """Send mail `name` about `order` (and its parcel `shipment`, for "shipped" and the
    tracking mails) once the surrounding transaction commits: a row of what is to be sent
    (OrderMail), written in that transaction, and a task to send it."""
    from orders.models import OrderMail
    from orders.tasks import send_order_mail
    from orders.tracking import mails as tracking_mails

    if name not in MAILS and not (shipment is not None and name in tracking_mails.MAILS):
        raise ValueError(f"unknown order mail {name!r}")
    mail_id = prepared.create(OrderMail, order=order, name=name, shipment=shipment).pk
    transaction.on_commit(lambda: send_order_mail.delay(mail_id=mail_id))


@transaction.atomic
def send_queued_mail(*, mail_id: int) -> bool:
    """Send a queued order mail once: it is locked, sent and marked sent in one transaction,
    so a task delivered again (late acknowledgement after a killed worker) finds it sent, and
    a send that fails rolls the mark back for the retry. False: nothing was sent now."""
    from orders import locks
    from orders.tracking import mails as tracking_mails

    queued = locks.unsent_mail_for_update(pk=mail_id)
    if queued is None:
        return False
    if queued.name in tracking_mails.MAILS:
        sent = tracking_mails.render_and_send(shipment_id=queued.shipment_id, stage=queued.name)
    else:
        sent = render_and_send(order=queued.order, name=queued.name, shipment_id=queued.shipment_id)
    _mark_sent(queued)
    return sent


def _mark_sent(queued) -> None:
    """One UPDATE written once: save() built it anew for every mail, a tenth of the placed
    mail's CPU. On the connection of send_queued_mail's transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {queued._meta.db_table} SET sent_at = %s WHERE id = %s",  # noqa: S608 # nosec B608
            [connection.ops.adapt_datetimefield_value(timezone.now()), queued.pk],
        )


def order_link(order) -> str:
    """The absolute link in the mail: signed, so a guest can open the order too."""
    from orders.selectors import guest_key

    path = reverse("orders:detail", kwargs={"number": order.number})
    return f"{settings.SHOP_URL.rstrip('/')}{path}?key={guest_key(number=order.number)}"


def render_and_send(*, order, name: str, shipment_id: int | None = None) -> bool:
    """Send mail `name` about `order` (read with its shipping method), in its language."""
    from orders.selectors import with_mail_details

    if not order.email:
        return False  # anonymised with its account
    with_mail_details(order)
    with translation.override(order.language or settings.LANGUAGE_CODE):
        context = {
            "shop_name": settings.SHOP_NAME,
            "order": order,
            "lines": order.line_list,
            # A "shipped" mail names its own parcel (the last one for mails queued before
            # OrderMail knew its parcel).
            "shipment": _parcel(order, shipment_id) if name == "shipped" else None,
            "url": order_link(order),
            # The confirmations say where the order goes and when it should arrive.
            "delivery": name in CONFIRMATIONS,
            "estimate": delivery.estimate_for_order(order),
            "delivery_days": delivery.working_days(order.shipping_method),
        }
        subject = render_to_string(f"orders/email/{name}_subject.txt", context)
        text = render_to_string(f"orders/email/{name}.txt", context)
        html = render_to_string(f"orders/email/{name}.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()), body=text, from_email=None, to=[order.email]
    )
    message.attach_alternative(html, "text/html")
    message.send()
    return True


def _parcel(order, shipment_id: int | None):
    parcels = list(order.shipments.all())
    return next((s for s in parcels if s.pk == shipment_id), parcels[-1] if parcels else None)
