"""The shopper's tracking mails (out for delivery, delivered), one per parcel and stage,
rendered from templates/orders/email/<stage>.{txt,html} in the order's language."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation

from orders.mails import order_link
from orders.models import Shipment, TrackingStage

#: The stages that have a mail (a task argument cannot pick an arbitrary template).
MAILS = (TrackingStage.OUT_FOR_DELIVERY, TrackingStage.DELIVERED)


def render_and_send(*, shipment_id: int, stage: str) -> bool:
    if stage not in MAILS:
        raise ValueError(f"no tracking mail for {stage!r}")
    shipment = (
        Shipment.objects.filter(pk=shipment_id)
        .select_related("order")
        .prefetch_related("lines__line")
        .first()
    )
    if shipment is None or not shipment.order.email:
        return False  # deleted, or anonymised with its account
    order = shipment.order
    with translation.override(order.language or settings.LANGUAGE_CODE):
        context = {
            "shop_name": settings.SHOP_NAME,
            "order": order,
            "shipment": shipment,
            "items": list(shipment.lines.all()),
            "url": order_link(order),
            "confirm_days": settings.TRACKING_AUTO_CONFIRM_DAYS,
        }
        subject = render_to_string(f"orders/email/{stage}_subject.txt", context)
        text = render_to_string(f"orders/email/{stage}.txt", context)
        html = render_to_string(f"orders/email/{stage}.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()), body=text, from_email=None, to=[order.email]
    )
    message.attach_alternative(html, "text/html")
    message.send()
    return True
