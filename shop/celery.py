"""The Celery app: Redis broker when CELERY_BROKER_URL is set, tasks run inline otherwise.

Start a worker with `celery -A shop worker -l info` and the scheduler with
`celery -A shop beat -l info`; both read the same settings as the web processes.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")

app = Celery("shop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
