"""Settings of bench/chaos.py's servers only: the shop's own settings, with cookies a load
tool sends back over the runs' plain HTTP on loopback (with DEBUG off they are marked Secure,
and a client keeps Secure cookies for HTTPS). Nothing else differs from production."""

from shop.settings import *  # noqa: F403

SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
LANGUAGE_COOKIE_SECURE = False
