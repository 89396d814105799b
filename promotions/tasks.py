from celery import shared_task

from promotions import flash, ledger, services


@shared_task(acks_late=True)
def sync_sale_prices() -> int:
    """Every minute (CELERY_BEAT_SCHEDULE): sales start and end on cards and product pages."""
    return services.sync_sale_prices()


@shared_task(acks_late=True)
def expire_points() -> int:
    """Every hour (CELERY_BEAT_SCHEDULE): points whose time is up leave their balances."""
    return ledger.expire_points()


@shared_task(acks_late=True)
def reconcile_flash_counters() -> int:
    """Every minute (CELERY_BEAT_SCHEDULE): Redis's flash counters follow the database."""
    return flash.reconcile_counters()
