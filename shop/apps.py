from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = _("Shop")

    def ready(self):
        from shop.roles import sync_after_migrate

        # Staff role groups exist on every database `migrate` has run on (shop.roles).
        post_migrate.connect(sync_after_migrate, dispatch_uid="shop.staff_roles")
