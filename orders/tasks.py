from smtplib import SMTPException

from celery import shared_task

from orders import mails, services


@shared_task(
    autoretry_for=(OSError, SMTPException), retry_backoff=True, max_retries=5, acks_late=True
)
def send_order_mail(*, order_id: int, name: str) -> None:
    """Render and send one order mail (mails.MAILS)."""
    mails.render_and_send(order_id=order_id, name=name)


@shared_task
def expire_unpaid_orders() -> int:
    """Scheduled by Celery beat (settings.CELERY_BEAT_SCHEDULE), as are the two below."""
    return services.expire_unpaid_orders()


@shared_task
def send_payment_reminders() -> int:
    return services.send_payment_reminders()


@shared_task
def anonymise_closed_orders() -> int:
    return services.anonymise_closed_orders()


@shared_task
def rebuild_recommendations() -> int:
    """Nightly (CELERY_BEAT_SCHEDULE): "frequently bought together" from the day's sales."""
    return services.rebuild_recommendations()
