"""gunicorn.conf.py: what a worker does as it starts."""

import gc
import logging
import runpy
import weakref
from pathlib import Path
from types import SimpleNamespace

import pytest

CONF = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))


@pytest.fixture
def collector():
    """Put Python's collector back as it was: the test process goes on with other tests."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.django_db
def test_a_started_worker_keeps_the_collector_off_what_it_loaded(collector):
    gc.unfreeze()
    CONF["post_worker_init"](SimpleNamespace(log=logging.getLogger("gunicorn.error")))
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == CONF["GC_THRESHOLD"]
    assert gc.get_threshold()[0] > 700  # Python's default: a pass every 700 new objects


@pytest.mark.django_db
def test_a_frozen_listing_index_is_freed_when_dropped(collector):
    """Freezing keeps objects out of the collector's passes, not alive: the listing index a
    worker loaded at start is freed by reference counting when it is replaced (it holds no
    cycle; one would keep a frozen index for the worker's life)."""
    from catalog import facets

    facets.forget()
    loaded = weakref.ref(facets.current_index())
    CONF["settle_collector"]()
    facets.forget()
    assert loaded() is None
