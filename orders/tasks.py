from smtplib import SMTPException

from celery import shared_task

from orders import mails, services


@shared_task(
    autoretry_for=(OSError, SMTPException), retry_backoff=True, max_retries=5, acks_late=True
)
def send_order_mail(*, order_id: int, name: str) -> None:
    """Render and send one order mail (placed, paid, shipped, cancelled, refunded)."""
    mails.render_and_send(order_id=order_id, name=name)


@shared_task
def expire_unpaid_orders(minutes: int = 30) -> int:
    """Scheduled by Celery beat (settings.CELERY_BEAT_SCHEDULE)."""
    return services.expire_unpaid_orders(minutes=minutes)
