from celery import shared_task

from groupbuys import mails, services


@shared_task(acks_late=True)
def expire_group_buys() -> int:
    """On Celery beat every minute: groups close within a minute of their deadline."""
    return services.expire_group_buys()


@shared_task(acks_late=True)
def count_member_paid(*, order_id: int) -> None:
    services.count_member_paid(order_id=order_id)


@shared_task
def send_group_mail(*, member_id: int, name: str) -> bool:
    return mails.render_and_send(member_id=member_id, name=name)
