from smtplib import SMTPException

from celery import shared_task

from orders import mails, services


@shared_task(
    autoretry_for=(OSError, SMTPException), retry_backoff=True, max_retries=5, acks_late=True
)
def send_order_mail(*, mail_id: int) -> None:
    """Send one queued order or tracking mail, at most once however often it is delivered."""
    mails.send_queued_mail(mail_id=mail_id)


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


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def start_tracking(*, shipment_id: int) -> bool:
    return services.start_tracking(shipment_id=shipment_id)


@shared_task
def poll_tracking() -> int:
    """Once a minute (CELERY_BEAT_SCHEDULE): parcels without push, within rate limits."""
    return services.poll_tracking()


@shared_task
def confirm_deliveries_due() -> int:
    """Hourly (CELERY_BEAT_SCHEDULE): 自动确认收货."""
    return services.confirm_deliveries_due()
