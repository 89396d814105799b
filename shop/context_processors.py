from django.conf import settings


def shop(request):
    """What every page's frame needs: the shop's name and currency."""
    return {"shop_name": settings.SHOP_NAME, "shop_currency": settings.SHOP_CURRENCY}
