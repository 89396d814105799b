from celery import shared_task

from promotions import services


@shared_task(acks_late=True)
def sync_sale_prices() -> int:
    """Every minute (CELERY_BEAT_SCHEDULE): sales start and end on cards and product pages."""
    return services.sync_sale_prices()
