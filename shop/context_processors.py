from django.conf import settings
from django.utils.functional import SimpleLazyObject

from cart.selectors import item_count


def shop(request):
    """What every page's frame needs: the shop's name and currency and the number of items
    in the cart (the category menu is the category_menu tag's)."""
    return {
        "shop_name": settings.SHOP_NAME,
        "shop_currency": settings.SHOP_CURRENCY,
        # Read per request, also on cached pages (the header is a hole in them); the cart
        # page sets it from the lines it has just read.
        "cart_count": SimpleLazyObject(lambda: _cart_count(request)),
    }


def _cart_count(request) -> int:
    if hasattr(request, "cart_item_count"):
        return request.cart_item_count
    if not hasattr(request, "user"):
        return 0
    return item_count(user=request.user, session=request.session)
