"""WSGI entry point: `gunicorn shop.wsgi`."""

import os

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")

django_application = get_wsgi_application()

# Fail at start, not at the first signed cookie: a server without a secret key serves nothing.
try:
    settings.SECRET_KEY  # noqa: B018  (Django raises for an empty key when it is read)
except ImproperlyConfigured as error:
    raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=true for local development).") from error

from cart.flash_gate import FlashSoldOutGate  # noqa: E402  (needs Django set up)

# A flash sale's crowd told "sold out" before Django (cart/flash_gate.py); the rest to Django.
application = FlashSoldOutGate(django_application)
