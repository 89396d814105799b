from celery import shared_task

from catalog import services


@shared_task
def prune_product_changes() -> int:
    """Scheduled daily by Celery beat (settings.CELERY_BEAT_SCHEDULE)."""
    return services.prune_product_changes()


@shared_task
def recount_search_terms() -> int:
    """Scheduled daily by Celery beat: the typo corrector's word counts made exact."""
    return services.recount_search_terms()
