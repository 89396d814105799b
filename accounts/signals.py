"""What accounts tells the apps above it, which may not be imported from here.

`email_verified` (arguments `user`, `email`) is sent when accounts knows that `user` owns
`email`: an activation link or an email-change link was followed, or the user signed in to
an account whose email was proven so. Accounts keeps an address on an active account only
after such a link was followed (registration waits inactive, an email change waits for its
link), so a signed-in user's email is verified; a phone-only account has none. Receivers
only call their own app's service (orders attaches the shopper's guest orders).
"""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import Signal, receiver

email_verified = Signal()


def announce_verified_email(user) -> None:
    if user.is_active and user.email:
        email_verified.send(sender=type(user), user=user, email=user.email)


@receiver(user_logged_in, dispatch_uid="accounts.announce_verified_email_on_sign_in")
def _on_sign_in(sender, request, user, **kwargs):
    announce_verified_email(user)
