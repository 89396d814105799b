"""Mails to a group's members: "your group is complete" and "your group did not fill, your
money is on its way back". Queued in the transaction that changed the member, sent by a
Celery task after commit, in the language of the member's order."""

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation

#: The mails this module may render (a task argument cannot pick an arbitrary template).
MAILS = ("complete", "refunded")


def queue_group_mail(*, member, name: str) -> None:
    if name not in MAILS:
        raise ValueError(f"unknown group mail {name!r}")
    from groupbuys.tasks import send_group_mail

    member_id = member.pk
    transaction.on_commit(lambda: send_group_mail.delay(member_id=member_id, name=name))


def render_and_send(*, member_id: int, name: str) -> bool:
    from groupbuys.models import Membership

    member = (
        Membership.objects.filter(pk=member_id)
        .select_related("user", "order", "group__offer__product", "variant")
        .first()
    )
    if member is None or not member.user.email:
        return False
    language = member.order.language if member.order else settings.LANGUAGE_CODE
    with translation.override(language):
        context = {
            "shop_name": settings.SHOP_NAME,
            "member": member,
            "group": member.group,
            "product": member.group.offer.product,
            "url": settings.SHOP_URL.rstrip("/") + member.group.get_absolute_url(),
        }
        subject = render_to_string(f"groupbuys/email/{name}_subject.txt", context)
        text = render_to_string(f"groupbuys/email/{name}.txt", context)
    send_mail(" ".join(subject.split()), text, None, [member.user.email])
    return True
