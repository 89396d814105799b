from celery import shared_task

from catalog import services


@shared_task
def prune_product_changes() -> int:
    """Scheduled daily by Celery beat (settings.CELERY_BEAT_SCHEDULE)."""
    return services.prune_product_changes()
