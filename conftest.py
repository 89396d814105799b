"""Fixtures shared by every app's tests."""

import fcntl
import os
import sqlite3
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.backends.postgresql.creation import DatabaseCreation as PostgresCreation
from django.db.backends.postgresql.operations import DatabaseOperations as PostgresOperations
from django.db.backends.sqlite3.creation import DatabaseCreation as SQLiteCreation
from django.utils import translation

from catalog import cache as catalog_cache
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

_migrate_test_db = PostgresCreation.create_test_db


def _clone_migrated_template(self, verbosity=1, autoclobber=False, serialize=True, keepdb=False):
    """Each pytest-xdist worker copies one migrated database instead of migrating its own:
    `migrate` spends most of a minute of CPU rendering the models' states, once per worker.
    The first worker to take the lock migrates `test_<name>_template`; every worker then
    makes its own (`test_<name>_gw0`, ...) with CREATE DATABASE ... TEMPLATE, a file copy,
    and the last one drops the template. --reuse-db and the replica (no migrations) keep
    Django's own way."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if (
        keepdb
        or not worker
        or self.connection.alias != DEFAULT_DB_ALIAS
        or self.connection.settings_dict["TEST"].get("MIGRATE") is False
    ):
        return _migrate_test_db(self, verbosity, autoclobber, serialize, keepdb)
    name = self._get_test_db_name()
    template = name.removesuffix(f"_{worker}") + "_template"
    run = os.environ["PYTEST_XDIST_TESTRUNUID"]
    test_settings = self.connection.settings_dict["TEST"]
    with open(Path(tempfile.gettempdir()) / f"{template}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        lock.seek(0)
        # The run the template was made for, then the workers that copied it.
        made = lock.read().split()
        if not made or made[0] != run:
            test_settings["NAME"] = template
            try:
                _migrate_test_db(self, verbosity, autoclobber=True, serialize=False)
            finally:
                test_settings["NAME"] = name
            made = [run]
        self.connection.close()  # nobody may be connected to a template while it is copied
        with self._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {self._quote_name(name)}")
            cursor.execute(
                f"CREATE DATABASE {self._quote_name(name)} TEMPLATE {self._quote_name(template)}"
            )
            made.append(worker)
            if len(made) - 1 == int(os.environ["PYTEST_XDIST_WORKER_COUNT"]):
                cursor.execute(f"DROP DATABASE {self._quote_name(template)}")
        lock.seek(0)
        lock.truncate()
        lock.write("\n".join(made))
    settings.DATABASES[self.connection.alias]["NAME"] = name
    self.connection.settings_dict["NAME"] = name
    if serialize:
        self.connection._test_serialized_contents = self.serialize_db_to_string()
    self.connection.ensure_connection()
    return name


PostgresCreation.create_test_db = _clone_migrated_template

_migrate_sqlite_test_db = SQLiteCreation.create_test_db


def _copy_migrated_sqlite(self, verbosity=1, autoclobber=False, serialize=True, keepdb=False):
    """The same for SQLite's in-memory test databases: the first worker migrates its own and
    saves a copy to a file for this run; the others load that file (SQLite's backup API)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    name = self._get_test_db_name()
    if (
        keepdb
        or not worker
        or self.connection.alias != DEFAULT_DB_ALIAS
        or self.connection.settings_dict["TEST"].get("MIGRATE") is False
        or not self.is_in_memory_db(name)
    ):
        return _migrate_sqlite_test_db(self, verbosity, autoclobber, serialize, keepdb)
    run = os.environ["PYTEST_XDIST_TESTRUNUID"]
    template = Path(tempfile.gettempdir()) / f"shop-test-db-{run}.sqlite3"
    with open(template.with_suffix(".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        lock.seek(0)
        copied = lock.read().split()  # the workers that have their database
        if not copied:
            _migrate_sqlite_test_db(self, verbosity, autoclobber, serialize=False)
            with sqlite3.connect(template) as saved:
                self.connection.connection.backup(saved)
            saved.close()
        else:
            self.connection.close()
            settings.DATABASES[self.connection.alias]["NAME"] = name
            self.connection.settings_dict["NAME"] = name
            self.connection.ensure_connection()
            saved = sqlite3.connect(template)
            saved.backup(self.connection.connection)
            saved.close()
        copied.append(worker)
        lock.seek(0)
        lock.truncate()
        lock.write("\n".join(copied))
        if len(copied) == int(os.environ["PYTEST_XDIST_WORKER_COUNT"]):
            template.unlink()
            template.with_suffix(".lock").unlink()
    if serialize:
        self.connection._test_serialized_contents = self.serialize_db_to_string()
    return name


SQLiteCreation.create_test_db = _copy_migrated_sqlite


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
    no listing index (a rolled-back test's products would stay in it) and no version the
    process trusts (read from the emptied cache)."""
    cache.clear()
    catalog_cache.forget_versions()
    facets.forget()
    yield
    cache.clear()
    catalog_cache.forget_versions()
    facets.forget()


@pytest.fixture
def postgres_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run with DATABASE_URL=postgres://...)")
