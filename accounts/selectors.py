"""Reads of the accounts app that pages share; permission-checked fetches raise 404."""

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import Address, User, normalize_email
from accounts.phone import normalize_phone


def user_by_identifier(identifier: str) -> User | None:
    """The user an email address or a phone number (any spelling) names, or None."""
    identifier = (identifier or "").strip()
    if not identifier:
        return None
    if "@" in identifier:
        return User.objects.filter(email=normalize_email(identifier)).first()
    try:
        phone = normalize_phone(identifier)
    except ValidationError:
        return None
    return User.objects.filter(phone=phone).first()


def canonical_identifier(identifier: str) -> str:
    """One spelling per account for throttling counters (email lower-cased, phone E.164)."""
    identifier = (identifier or "").strip()
    if "@" in identifier:
        return normalize_email(identifier) or ""
    try:
        return normalize_phone(identifier)
    except ValidationError:
        return identifier.lower()


def addresses_for_user(*, user: User) -> QuerySet[Address]:
    return Address.objects.filter(user=user).order_by("-is_default_shipping", "-created_at", "-pk")


def get_address_for_user(*, pk: int, user: User) -> Address:
    """The user's address `pk`; anybody else's (or none) is a 404, never a 403 that leaks."""
    return get_object_or_404(Address, pk=pk, user=user)


def email_has_account(email: str) -> bool:
    """Whether `email` belongs to an account that was activated (a registration never
    activated is only a claim, which a new registration replaces)."""
    return (
        User.objects.filter(email=normalize_email(email))
        .filter(Q(is_active=True) | Q(last_login__isnull=False))
        .exists()
    )
