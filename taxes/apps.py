from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TaxesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "taxes"
    verbose_name = _("Taxes")

    def ready(self):
        from taxes import receivers  # noqa: F401  (cache invalidation when rates change)
