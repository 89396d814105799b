from django.contrib.auth.backends import ModelBackend

from accounts.models import User
from accounts.selectors import user_by_identifier


class EmailOrPhoneBackend(ModelBackend):
    """Sign in with an email address or a phone number (any spelling) and the password."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        identifier = username if username is not None else kwargs.get(User.USERNAME_FIELD)
        if not identifier or password is None:
            return None
        user = user_by_identifier(identifier)
        if user is None:
            # Hash anyway, so the answer takes as long for an unknown account (no enumeration).
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
