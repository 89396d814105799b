import pytest
from django.db import transaction
from django.test import override_settings

from insights.tests.fixtures import ZONE, build_shop


@pytest.fixture(scope="module")
def built_shop(django_db_setup, django_db_blocker):
    """build_shop() once per test module (it places, pays and refunds a dozen orders): each
    test runs in a savepoint inside this transaction, so its own writes are undone as
    before, and the shop's rows are rolled back after the module's last test."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
    try:
        with django_db_blocker.unblock(), override_settings(TIME_ZONE=ZONE):
            shop = build_shop()
        yield shop
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def shop(db, settings, built_shop):
    settings.TIME_ZONE = ZONE
    return built_shop
