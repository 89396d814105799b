from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = _("Insights")


class ShopAdminConfig(admin_apps.AdminConfig):
    """Django's admin with the shop's site, whose index is the merchant's dashboard."""

    default = False  # listed by its path in INSTALLED_APPS, in place of Django's own
    default_site = "insights.sites.ShopAdminSite"
