"""Sign-in throttling, in one place for every way in: django-axes at the authentication layer.

Axes' backend comes first in AUTHENTICATION_BACKENDS, so every `authenticate()` (the shop's
sign-in form, the admin's login) is refused while the account or the client address is
cooling down, and every failure counts toward both. Phone-code sign-in does not go through a
password backend; it asks and tells axes the same way here, so its failures share the counts.

After ACCOUNT_LOGIN_MAX_FAILURES failures for an account (from any address) or from an
address (for any accounts) within the window, a cooldown of ACCOUNT_LOGIN_COOLDOWN_MINUTES.
The attempts are rows in the database (axes' AccessAttempt, visible in the admin), so a
Redis outage neither opens nor closes the door.
"""

from axes.handlers.proxy import AxesProxyHandler
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.shortcuts import render
from django_ratelimit.core import is_ratelimited

from accounts.client_ip import client_ip
from accounts.errors import LoginThrottled, TooManyRequests
from accounts.selectors import canonical_identifier


def account_of(request, credentials: dict | None) -> str | None:
    """The account a sign-in names, spelled one way: "Ada@Example.com " and "ada@example.com"
    count as one account, and so do the spellings of a phone number."""
    credentials = credentials or {}
    identifier = credentials.get("username") or credentials.get("email")
    return canonical_identifier(identifier)[:255] if identifier else None  # axes' column


def check_sign_in_allowed(*, request, account: str) -> None:
    """Raise LoginThrottled while the account or the request's address is cooling down."""
    if not AxesProxyHandler.is_allowed(request, {"username": account}):
        raise LoginThrottled(minutes=settings.ACCOUNT_LOGIN_COOLDOWN_MINUTES)


def record_sign_in_failure(*, request, account: str) -> None:
    """Count a failure that did not pass through `authenticate()` (a wrong phone code)."""
    user_login_failed.send(sender=__name__, credentials={"username": account}, request=request)


def clear_sign_in_failures(*, account: str) -> None:
    """After a successful sign-in or a password reset. The address's count stays: one known
    account must not reset the count of an address that is guessing at others."""
    axes_reset(username=canonical_identifier(account))


def locked_out_response(request, original_response=None, credentials=None):
    """What axes answers on the request that is refused. The shop's own sign-in pages already
    say so on the form (429); any other way in (the admin's login) gets the same words."""
    if original_response is not None and original_response.status_code == 429:
        return original_response
    message = LoginThrottled(minutes=settings.ACCOUNT_LOGIN_COOLDOWN_MINUTES).message
    return render(request, "accounts/locked_out.html", {"message": message}, status=429)


# --- What costs money or floods an inbox: texts and password-reset mails --------------------
# Counted with django-ratelimit in the cache; the counts fail closed (a dead Redis sends no
# text or reset mail, as accounts.codes does), because the alternative is an unlimited bill.


def _by_address(group, request) -> str:
    return client_ip(request)


def _everyone(group, request) -> str:
    return "all"


def _check(*, request, group: str, per_address: int, in_total: int) -> None:
    for key, limit in ((_by_address, per_address), (_everyone, in_total)):
        if is_ratelimited(request, group=group, key=key, rate=f"{limit}/h", increment=True):
            raise TooManyRequests


def check_text_allowed(*, request) -> None:
    """SMS pumping: one client texting many numbers (each number has its own limits in
    accounts.codes), and every client together, are capped per hour."""
    _check(
        request=request,
        group="accounts:texts",
        per_address=settings.ACCOUNT_TEXTS_PER_ADDRESS_PER_HOUR,
        in_total=settings.ACCOUNT_TEXTS_PER_HOUR,
    )


def check_reset_mail_allowed(*, request) -> None:
    _check(
        request=request,
        group="accounts:reset-mails",
        per_address=settings.ACCOUNT_RESET_MAILS_PER_ADDRESS_PER_HOUR,
        in_total=settings.ACCOUNT_RESET_MAILS_PER_HOUR,
    )
