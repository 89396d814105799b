"""Fixtures shared by every app's tests."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.backends.postgresql.operations import DatabaseOperations as PostgresOperations
from django.utils import translation

from catalog import facets

_truncate = PostgresOperations.sql_flush


def _delete_rows(self, style, tables, *, reset_sequences=False, allow_cascade=False):
    """Empty the tables after a test that commits (browser tests, races) with DELETE rather
    than PostgreSQL's TRUNCATE: the test left a few rows, and TRUNCATE makes new files for
    every table and index, about a second for the shop's tables against some 50 ms for DELETE.
    Foreign keys are checked at the commit, so the order of the tables does not matter."""
    if reset_sequences or allow_cascade:
        return _truncate(
            self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
    # The names are the database's own tables, quoted by the backend.
    deletes = [f"DELETE FROM {self.quote_name(table)};" for table in tables]  # noqa: S608 # nosec B608
    return ["SET CONSTRAINTS ALL DEFERRED;", *deletes]


PostgresOperations.sql_flush = _delete_rows


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
