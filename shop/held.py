"""Small values every request reads (the category tree, the offers' schedule, the tax
table), kept per version: in this process and in the shared cache.

A value is built once per version across all processes (the first to miss stores it in the
cache) and then held by each process until its version moves, which saves a cache round
trip and an unpickling on every request. The version is the caller's: a number that moves
whenever the rows behind the value change.
"""

from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache

T = TypeVar("T")

#: name -> (version, value): the last value of each name this process read.
_held: dict[str, tuple[int | str, object]] = {}
#: What nobody has built yet (a built value may be None: "no free-shipping threshold").
_NOT_BUILT = object()


def held_per_version(name: str, version: int | str, build: Callable[[], T], *, timeout: int) -> T:
    """The value of `name` at `version`: this process's copy, else the cache's, else
    `build()` (stored in the cache for `timeout` seconds, a safety net behind the version).
    Callers must treat the value as read-only: it is shared between requests."""
    value = _lookup(name, version, ask_cache=True)
    if value is _NOT_BUILT:
        value = build()
        cache.set(_key(name, version), value, timeout=timeout)
        _held[name] = (version, value)
    return value


def held_if_built(name: str, version: int | str, *, ask_cache: bool = True) -> object | None:
    """The value of `name` at `version` if this process (or, with `ask_cache`, the cache)
    has it, else None: never built here (for a reader that must not query, e.g. the
    layout's header)."""
    value = _lookup(name, version, ask_cache=ask_cache)
    return None if value is _NOT_BUILT else value


def last_held(name: str) -> tuple[int | str, object] | None:
    """(version, value) of `name` as this process last held it, or None."""
    return _held.get(name)


def _lookup(name: str, version: int | str, *, ask_cache: bool) -> object:
    held = _held.get(name)
    if held is not None and held[0] == version:
        return held[1]
    if not ask_cache:
        return _NOT_BUILT
    value = cache.get(_key(name, version), _NOT_BUILT)
    if value is not _NOT_BUILT:
        _held[name] = (version, value)
    return value


def _key(name: str, version: int | str) -> str:
    return f"held:{name}:{version}"
