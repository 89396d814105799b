"""Fixtures shared by every app's tests."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import translation

from catalog import facets


@pytest.fixture(autouse=True)
def _english():
    """Every test starts in English: a request in Chinese leaves its language active in the
    thread, and tests that call services directly would read the messages in Chinese."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _clear_cache():
    """Every test starts with an empty cache: the real Redis in CI, local memory elsewhere,
    and no listing index (a rolled-back test's products would stay in it)."""
    cache.clear()
    facets.forget()
    yield
    cache.clear()
    facets.forget()


@pytest.fixture
def postgres_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run with DATABASE_URL=postgres://...)")
