"""Sign-in throttling: after N failures for an account or an IP within the window, a cooldown.

Counters live in the cache (Redis in production). If the cache is down, password sign-in
fails *open*: refusing every shopper because Redis is away would take the shop down, and
each guess still costs an Argon2 hash. Code sign-in fails closed (see accounts.codes).
"""

import hashlib

from django.conf import settings
from django.core.cache import cache

from accounts.errors import LoginThrottled


def _window() -> int:
    return settings.ACCOUNT_LOGIN_COOLDOWN_MINUTES * 60


def _digest(value: str) -> str:
    # Keys carry no email address or number in clear: the cache is not a place for them.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _keys(*, account: str, ip: str) -> list[tuple[str, str]]:
    """(counter, lock) key pairs for the account and the client address."""
    pairs = []
    if account:
        d = _digest(account.strip().lower())
        pairs.append((f"accounts:login-fails:acct:{d}", f"accounts:login-lock:acct:{d}"))
    if ip:
        d = _digest(ip)
        pairs.append((f"accounts:login-fails:ip:{d}", f"accounts:login-lock:ip:{d}"))
    return pairs


def check_login_allowed(*, account: str, ip: str) -> None:
    """Raise LoginThrottled while the account or the address is cooling down."""
    locks = [lock for _, lock in _keys(account=account, ip=ip)]
    if any(cache.get_many(locks).values()):
        raise LoginThrottled(minutes=settings.ACCOUNT_LOGIN_COOLDOWN_MINUTES)


def _incr(key: str, timeout: int) -> int:
    cache.add(key, 0, timeout)  # the window starts at the first failure
    try:
        return cache.incr(key) or 0  # None when a dead Redis is ignored
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout)
        return 1


def record_login_failure(*, account: str, ip: str) -> None:
    for counter, lock in _keys(account=account, ip=ip):
        if _incr(counter, _window()) >= settings.ACCOUNT_LOGIN_MAX_FAILURES:
            cache.set(lock, 1, _window())
            cache.delete(counter)


def clear_login_failures(*, account: str) -> None:
    """After a successful sign-in or a password reset. The IP's count stays: one known
    account must not reset the count of an address that is guessing at others."""
    for counter, lock in _keys(account=account, ip=""):
        cache.delete_many([counter, lock])
