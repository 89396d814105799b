from django.conf import settings
from django.utils.functional import SimpleLazyObject

from catalog.selectors import category_tree


def shop(request):
    """What every page's frame needs: the shop's name and currency, the category menu."""
    return {
        "shop_name": settings.SHOP_NAME,
        "shop_currency": settings.SHOP_CURRENCY,
        # Lazy: read (from the cache) only by pages that show the menu.
        "category_menu": SimpleLazyObject(lambda: category_tree().roots),
    }
