"""Every write of the accounts app: registration, activation, sign-in, profile, addresses.

Functions take keyword-only arguments, run in one transaction and raise the domain errors of
accounts.errors; mails are queued to Celery after the transaction commits.
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse

from accounts import codes, locks, throttle, tokens
from accounts.errors import EmailTaken, LoginThrottled, NoPhoneNumber, PhoneTaken, TokenInvalid
from accounts.mails import queue_mail
from accounts.models import Address, User, normalize_email
from accounts.signals import announce_verified_email

ACTIVATION_SALT = "accounts.activation"
EMAIL_CHANGE_SALT = "accounts.email-change"
#: One account mail per address per minute: the forms cannot be used to bomb a mailbox.
MAIL_INTERVAL = 60


class InvalidCredentials(Exception):
    """Wrong email/phone or password; the form shows its usual message."""


@dataclass(frozen=True)
class Activation:
    user: User
    #: A number given at registration, to confirm by code now that the account is active.
    phone: str | None


def _mail_allowed(email: str) -> bool:
    return bool(cache.add(f"accounts:mail-sent:{tokens.salted_digest(email)}", 1, MAIL_INTERVAL))


def _queue_activation(*, user: User, site_url: str, phone: str | None) -> None:
    token = tokens.make_token(user=user, salt=ACTIVATION_SALT, p=phone)
    queue_mail(
        name="activation",
        to=user.email,
        context={
            "name": user.get_short_name(),
            "url": urljoin(site_url, reverse("accounts:activate", args=[token])),
            "days": settings.ACCOUNT_ACTIVATION_DAYS,
        },
    )


@transaction.atomic
def register_user(
    *, email: str, password: str, full_name: str = "", phone: str | None = None, site_url: str
) -> None:
    """Create an inactive account and mail its activation link.

    Returns nothing on purpose: an address that already has an account gets the same page,
    and its owner a mail saying so. An account never activated is only a claim on the
    address, and the latest registration replaces it: its password and name are set, which
    kills every activation link mailed before (a link carries a fingerprint of the password
    hash, see accounts.tokens), and a fresh link is mailed. So whoever registered first
    cannot choose the password the owner of the mailbox will activate.
    """
    email = normalize_email(email)
    existing = User.objects.filter(email=email).first()
    if existing is None:
        try:
            with transaction.atomic():
                user = User(email=email, full_name=full_name, is_active=False)
                user.set_password(password)
                user.save()
        except IntegrityError:  # the same address registered a moment ago
            existing = User.objects.filter(email=email).first()
        else:
            _mail_allowed(email)
            _queue_activation(user=user, site_url=site_url, phone=phone)
            return
    if existing is None:
        return
    if _never_activated(existing):
        pending = _replace_pending_registration(
            pk=existing.pk, password=password, full_name=full_name
        )
        if pending is not None:
            # Replaced even when no mail may go now: the older links are dead either way,
            # and "send the link again" mails one for this password.
            if _mail_allowed(email):
                _queue_activation(user=pending, site_url=site_url, phone=phone)
            return
    # Hash the password all the same: the page takes as long as for a new address, so
    # its timing does not tell that an account exists either.
    make_password(password)
    if not _mail_allowed(email):
        return
    queue_mail(
        name="already_registered",
        to=email,
        context={
            "name": existing.get_short_name(),
            "login_url": urljoin(site_url, reverse("accounts:login")),
            "reset_url": urljoin(site_url, reverse("accounts:password_reset")),
        },
    )


def _never_activated(user: User) -> bool:
    return not user.is_active and user.last_login is None


def _replace_pending_registration(*, pk: int, password: str, full_name: str) -> User | None:
    """Give a never-activated account the latest registration's password and name, under
    the row lock (an activation at the same moment either sees the old state, and its link
    works, or the new one, and it does not). None when it was activated meanwhile.

    The same password again (a form sent twice) keeps the hash, so the link already mailed
    still works; checking it costs the same hashing as setting a new one.
    """
    user = locks.lock_user(pk=pk)
    if user is None or not _never_activated(user):
        return None
    if not user.check_password(password):
        user.set_password(password)
    user.full_name = full_name
    user.save(update_fields=["password", "full_name"])
    return user


@transaction.atomic
def resend_activation(*, email: str, site_url: str) -> None:
    """Mail a new link to an account never activated; silently nothing otherwise."""
    email = normalize_email(email)
    user = User.objects.filter(email=email, is_active=False, last_login__isnull=True).first()
    if user is not None and _mail_allowed(email):
        _queue_activation(user=user, site_url=site_url, phone=None)


@transaction.atomic
def activate_account(*, token: str) -> Activation:
    data = tokens.read_token(
        token=token, salt=ACTIVATION_SALT, max_age=settings.ACCOUNT_ACTIVATION_DAYS * 86400
    )
    user = locks.lock_user(pk=data["u"])
    if (
        user is None
        or user.is_active
        or user.last_login
        or not tokens.matches(user=user, data=data)
    ):
        raise TokenInvalid
    user.is_active = True
    user.save(update_fields=["is_active"])
    announce_verified_email(user)
    return Activation(user=user, phone=data.get("p"))


def authenticate_with_password(*, request: HttpRequest, identifier: str, password: str) -> User:
    """The user, or LoginThrottled / InvalidCredentials. django-axes (accounts.throttle) counts
    the failure and refuses a cooling-down account or address inside `authenticate()`."""
    user = authenticate(request, username=identifier, password=password)
    if user is None:
        if getattr(request, "axes_locked_out", False):
            raise LoginThrottled(minutes=settings.ACCOUNT_LOGIN_COOLDOWN_MINUTES)
        raise InvalidCredentials
    throttle.clear_sign_in_failures(account=identifier)
    return user


def send_phone_code(*, request: HttpRequest, phone: str, purpose: str) -> None:
    codes.send_code(request=request, phone=phone, purpose=purpose)


def sign_in_with_phone_code(
    *, request: HttpRequest, phone: str, code: str
) -> tuple[User | None, bool]:
    """Check the code and return (user, created): the number's account, or a new one.

    A number without an account gets one here: the code proves the shopper owns it. An
    account closed by the merchant gives (None, False). Not one transaction: a wrong code's
    failure must be recorded even though this raises.
    """
    throttle.check_sign_in_allowed(request=request, account=phone)
    try:
        codes.verify_code(phone=phone, purpose="sign-in", code=code)
    except (codes.CodeInvalid, codes.CodeAttemptsExhausted):  # a wrong guess, counted
        throttle.record_sign_in_failure(request=request, account=phone)
        raise
    throttle.clear_sign_in_failures(account=phone)
    user = User.objects.filter(phone=phone).first()
    if user is not None:
        return (user if user.is_active else None), False
    try:
        with transaction.atomic():
            user = User.objects.create_user(phone=phone, password=None)
    except IntegrityError:  # the same number signed up a moment ago
        return User.objects.filter(phone=phone, is_active=True).first(), False
    return user, True


@transaction.atomic
def confirm_phone_change(*, user: User, phone: str, code: str) -> User:
    codes.verify_code(phone=phone, purpose="phone-change", code=code)
    if User.objects.filter(phone=phone).exclude(pk=user.pk).exists():
        raise PhoneTaken
    locked = locks.lock_user(pk=user.pk)
    locked.phone = phone
    try:
        with transaction.atomic():
            locked.save(update_fields=["phone"])
    except IntegrityError:
        raise PhoneTaken from None
    user.phone = phone
    return user


@transaction.atomic
def update_profile(*, user: User, full_name: str) -> User:
    user.full_name = full_name
    user.save(update_fields=["full_name"])
    return user


@transaction.atomic
def request_email_change(*, user: User, new_email: str, site_url: str) -> None:
    """Mail a confirmation link to the new address; the old one stays until it is followed.

    An address that belongs to another account gets no mail (the page says the same either
    way, so the form does not tell who has an account).
    """
    new_email = normalize_email(new_email)
    if User.objects.filter(email=new_email).exclude(pk=user.pk).exists():
        return
    if not _mail_allowed(new_email):
        return
    token = tokens.make_token(user=user, salt=EMAIL_CHANGE_SALT, e=new_email)
    queue_mail(
        name="email_change",
        to=new_email,
        context={
            "name": user.get_short_name(),
            "new_email": new_email,
            "url": urljoin(site_url, reverse("accounts:email_change_confirm", args=[token])),
            "hours": settings.ACCOUNT_EMAIL_CHANGE_HOURS,
        },
    )


@transaction.atomic
def confirm_email_change(*, token: str) -> User:
    data = tokens.read_token(
        token=token, salt=EMAIL_CHANGE_SALT, max_age=settings.ACCOUNT_EMAIL_CHANGE_HOURS * 3600
    )
    user = locks.lock_user(pk=data["u"])
    if user is None or not user.is_active or not tokens.matches(user=user, data=data):
        raise TokenInvalid
    if User.objects.filter(email=data["e"]).exclude(pk=user.pk).exists():
        raise EmailTaken
    user.email = data["e"]
    try:
        with transaction.atomic():
            user.save(update_fields=["email"])
    except IntegrityError:
        raise EmailTaken from None
    announce_verified_email(user)
    return user


def password_was_reset(*, user: User) -> None:
    """A reset proves the owner: lift the account's sign-in cooldown."""
    for identifier in (user.email, user.phone):
        if identifier:
            throttle.clear_sign_in_failures(account=identifier)


def send_deletion_code(*, request: HttpRequest, user: User) -> None:
    """Text a code that confirms closing the account to its phone number, with the limits
    of every code (accounts.codes). For accounts without a password, which cannot confirm
    with one."""
    if not user.phone:
        raise NoPhoneNumber
    codes.send_code(request=request, phone=user.phone, purpose="delete")


@transaction.atomic
def delete_account_with_code(*, user: User, code: str) -> None:
    """Close the account once the code texted to its number is given (CodeInvalid and the
    other code errors otherwise); then as delete_account()."""
    if not user.phone:
        raise NoPhoneNumber
    codes.verify_code(phone=user.phone, purpose="delete", code=code)
    delete_account(user=user)


@transaction.atomic
def delete_account(*, user: User) -> None:
    """Close the account for good: addresses go, and so does the user row.

    Other apps keep what the merchant needs through their own foreign keys: orders point to
    the user with SET_NULL and keep their own snapshot of names and addresses; carts and
    wishlists cascade. Nothing identifying stays behind in accounts.
    """
    Address.objects.filter(user=user).delete()
    User.objects.filter(pk=user.pk).delete()


# --- Addresses ---------------------------------------------------------------------------

ADDRESS_FIELDS = (
    "full_name",
    "phone",
    "line1",
    "line2",
    "city",
    "region",
    "postcode",
    "country",
)


@transaction.atomic
def create_address(*, user: User, fields: dict[str, Any], make_default: bool = False) -> Address:
    """Add an address; the first one, or one asked to be, becomes the default.

    An address the book already holds (the same fields, ignoring case and spacing) is not
    added again: that one is returned (made the default if asked). The user's row is locked
    first, so two saves of one new address at once queue and the second finds the first.
    """
    locks.lock_user(pk=user.pk)
    existing = locks.lock_addresses(user=user)
    same = next((a for a in existing if _address_key(a) == _address_key(fields)), None)
    if same is not None:
        return set_default_address(address=same) if make_default else same
    address = Address(user=user, **{name: fields[name] for name in ADDRESS_FIELDS})
    make_default = make_default or not any(a.is_default_shipping for a in existing)
    if make_default:
        Address.objects.filter(user=user, is_default_shipping=True).update(
            is_default_shipping=False
        )
    address.is_default_shipping = make_default
    address.save()
    return address


def _address_key(address) -> tuple[str, ...]:
    """What makes two addresses the same place and recipient: every field, case and
    spacing aside."""
    get = address.get if isinstance(address, dict) else lambda name: getattr(address, name)
    return tuple(" ".join(str(get(name) or "").split()).casefold() for name in ADDRESS_FIELDS)


@transaction.atomic
def update_address(*, address: Address, fields: dict[str, Any]) -> Address:
    for name in ADDRESS_FIELDS:
        setattr(address, name, fields[name])
    address.save()
    return address


@transaction.atomic
def set_default_address(*, address: Address) -> Address:
    locks.lock_addresses(user=address.user)
    Address.objects.filter(user_id=address.user_id, is_default_shipping=True).exclude(
        pk=address.pk
    ).update(is_default_shipping=False)
    address.is_default_shipping = True
    address.save(update_fields=["is_default_shipping", "updated_at"])
    return address


@transaction.atomic
def delete_address(*, address: Address) -> None:
    """Delete; if it was the default, the most recent remaining address takes over."""
    remaining = [a for a in locks.lock_addresses(user=address.user) if a.pk != address.pk]
    was_default = address.is_default_shipping
    address.delete()
    if was_default and remaining:
        newest = max(remaining, key=lambda a: (a.created_at, a.pk))
        newest.is_default_shipping = True
        newest.save(update_fields=["is_default_shipping", "updated_at"])
