"""The shop's messages storage (settings.MESSAGE_STORAGE): Django's default, a cookie and
the session past the cookie's size, with the cookie's signer made once per process.

Django's CookieStorage makes its signer for every request that adds or shows a message
(get_cookie_signer: the signing backend imported, the keys read), then derives the HMAC key
from the salt and the secret for each signature. The signer here is Django's, made once
(shop.cookies.held_cookie_signer), each key's HMAC set up once; its Set-Cookie line is
written as shop.cookies writes it. The same cookie, which Django's own CookieStorage reads,
and which reads Django's.
"""

from django.conf import settings
from django.contrib.messages.storage import base, cookie, fallback, session

from shop import cookies


class CookieStorage(cookie.CookieStorage):
    def __init__(self, *args, **kwargs):
        base.BaseStorage.__init__(self, *args, **kwargs)  # not Django's: it makes a signer
        self.signer = cookies.held_cookie_signer(self.key_salt)

    def _update_cookie(self, encoded_data, response):
        if not encoded_data:  # the cookie deleted: Django's
            return super()._update_cookie(encoded_data, response)
        cookies.set_cookie(  # Django's arguments
            response,
            self.cookie_name,
            encoded_data,
            domain=settings.SESSION_COOKIE_DOMAIN,
            secure=settings.SESSION_COOKIE_SECURE or None,
            httponly=settings.SESSION_COOKIE_HTTPONLY or None,
            samesite=settings.SESSION_COOKIE_SAMESITE,
        )
        return None


class FallbackStorage(fallback.FallbackStorage):
    storage_classes = (CookieStorage, session.SessionStorage)
