"""shop.held: a value kept per version in the process and the cache."""

import pytest

from shop import held


@pytest.fixture(autouse=True)
def _nothing_held(monkeypatch):
    monkeypatch.setattr(held, "_held", {})


def test_a_value_is_built_once_per_version_even_when_it_is_none():
    """None is a value too (no free-shipping threshold): held, not built on every read."""
    builds = []

    def build():
        builds.append(1)
        return None

    for _ in range(3):
        assert held.held_per_version("test:nothing", 1, build, timeout=60) is None
    held._held.clear()  # another process: the cache's copy, not a new build
    assert held.held_per_version("test:nothing", 1, build, timeout=60) is None
    assert len(builds) == 1
    assert held.held_per_version("test:nothing", 2, build, timeout=60) is None
    assert len(builds) == 2


def test_held_if_built_never_builds():
    assert held.held_if_built("test:unbuilt", 1) is None
    held.held_per_version("test:unbuilt", 1, lambda: [1, 2], timeout=60)
    assert held.held_if_built("test:unbuilt", 1, ask_cache=False) == [1, 2]
    held._held.clear()
    assert held.held_if_built("test:unbuilt", 1, ask_cache=False) is None
    assert held.held_if_built("test:unbuilt", 1) == [1, 2]
