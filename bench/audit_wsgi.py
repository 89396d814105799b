"""The shop's WSGI app with `/media/` served, for `make audit` only (bench/audit.py).

With DEBUG off Django serves no uploads (a proxy does in production); without pictures every
page would lose best-practices points for a broken image that production does not have.
"""

from django.conf import settings
from whitenoise import WhiteNoise

from shop.wsgi import application as shop_application

application = WhiteNoise(shop_application)
application.add_files(str(settings.MEDIA_ROOT), prefix=settings.MEDIA_URL)
