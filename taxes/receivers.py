"""Cache invalidation only: a saved or deleted class or rate moves the table's version."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from taxes.models import TaxClass, TaxRate
from taxes.selectors import rates_changed


@receiver([post_save, post_delete], sender=TaxRate)
@receiver([post_save, post_delete], sender=TaxClass)
def _tax_table_changed(sender, **kwargs):
    rates_changed()
    # Again after commit: a process that read the table between the save and the commit
    # would otherwise keep the old rows under the new version.
    transaction.on_commit(rates_changed)
