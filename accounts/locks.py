"""Every row lock of the accounts app, always in primary-key order (no deadlocks)."""

from accounts.models import Address, User


def lock_user(*, pk: int) -> User | None:
    return User.objects.select_for_update().filter(pk=pk).first()


def lock_addresses(*, user: User) -> list[Address]:
    return list(Address.objects.select_for_update().filter(user=user).order_by("pk"))
