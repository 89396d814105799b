"""Sign-in merges the guest's cart into the shopper's.

A signal, because accounts (which signs shoppers in) may not import the cart: the receiver
only calls the cart's service.
"""

from django.contrib import messages
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from cart import services
from cart.selectors import CART_SESSION_KEY, guest_cart


@receiver(user_logged_in)
def merge_guest_cart(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    guest = guest_cart(session=request.session)
    request.session.pop(CART_SESSION_KEY, None)
    if guest is None:
        return
    for notice in services.merge_carts(source=guest, target=services.cart_of(user=user)):
        messages.warning(request, notice)
