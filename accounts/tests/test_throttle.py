"""One throttle for every way in (django-axes): the shop's form, the admin's login, phone codes."""

import pytest
from django.urls import reverse

from accounts.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/"


def _admin_login(client, email, password, **meta):
    return client.post(
        ADMIN_LOGIN, {"username": email, "password": password, "next": "/admin/"}, **meta
    )


def _shop_login(client, identifier, password, **meta):
    data = {"username": identifier, "password": password}
    return client.post(reverse("accounts:login"), data, **meta)


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_the_admin_login_is_throttled(client):
    """The finding: ten wrong passwords on /admin/login/, then the right one signed in."""
    UserFactory(email="boss@example.com", is_staff=True, is_superuser=True)
    for n in range(10):
        _admin_login(client, "boss@example.com", "wrong", REMOTE_ADDR=f"10.1.0.{n}")
    response = _admin_login(client, "boss@example.com", PASSWORD, REMOTE_ADDR="10.1.1.1")
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert not _signed_in(client)


def test_admin_and_shop_failures_count_together(client):
    UserFactory(email="both@example.com", is_staff=True)
    for n in range(3):
        _admin_login(client, "both@example.com", "wrong", REMOTE_ADDR=f"10.2.0.{n}")
    for n in range(2):
        _shop_login(client, "Both@Example.com ", "wrong", REMOTE_ADDR=f"10.2.1.{n}")
    response = _shop_login(client, "both@example.com", PASSWORD, REMOTE_ADDR="10.2.2.2")
    assert response.status_code == 429
    assert not _signed_in(client)


def test_wrong_phone_codes_count_against_the_account(client, sms_outbox):
    UserFactory(email="phone@example.com", phone="+8613800138000")
    client.post(reverse("accounts:phone_sign_in"), {"phone": "+8613800138000"})
    for n in range(5):
        client.post(
            reverse("accounts:phone_sign_in_verify"), {"code": "000000"}, REMOTE_ADDR=f"10.3.0.{n}"
        )
    response = _shop_login(client, "+86 138 0013 8000", PASSWORD, REMOTE_ADDR="10.3.1.1")
    assert response.status_code == 429
    assert not _signed_in(client)


def test_an_address_guessing_at_many_accounts_is_throttled_everywhere(client):
    UserFactory(email="victim@example.com", is_staff=True)
    for n in range(5):
        _shop_login(client, f"guess{n}@example.com", "x", REMOTE_ADDR="10.4.0.4")
    assert (
        _admin_login(client, "victim@example.com", PASSWORD, REMOTE_ADDR="10.4.0.4").status_code
        == 429
    )
    assert (
        _shop_login(client, "victim@example.com", PASSWORD, REMOTE_ADDR="10.4.0.5").status_code
        == 302
    )


def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(client, settings):
    """Rotating a forged X-Forwarded-For prefix does not escape: the proxy appends the real
    client on the right, and only that hop is believed."""
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    UserFactory(email="shopper@example.com")
    for n in range(5):
        _shop_login(
            client,
            f"guess{n}@example.com",
            "x",
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 203.0.113.9",
        )
    forwarded = {"REMOTE_ADDR": "127.0.0.1"}
    locked = _shop_login(
        client, "shopper@example.com", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9", **forwarded
    )
    assert locked.status_code == 429
    other = _shop_login(
        client, "shopper@example.com", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.10", **forwarded
    )
    assert other.status_code == 302


def test_without_trusted_proxies_a_forged_header_changes_nothing(client, settings):
    settings.TRUSTED_PROXIES = []
    UserFactory(email="shopper@example.com")
    for n in range(5):
        _shop_login(
            client,
            f"guess{n}@example.com",
            "x",
            REMOTE_ADDR="192.0.2.7",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        )
    response = _shop_login(
        client,
        "shopper@example.com",
        PASSWORD,
        REMOTE_ADDR="192.0.2.7",
        HTTP_X_FORWARDED_FOR="198.51.100.200",
    )
    assert response.status_code == 429


# --- Texts and reset mails: caps per client address and for the whole shop ---------------


def _ask_for_code(client, phone, ip):
    return client.post(reverse("accounts:phone_sign_in"), {"phone": phone}, REMOTE_ADDR=ip)


def test_one_client_cannot_text_many_numbers(client, sms_outbox, settings):
    """The finding: 12 numbers from one client, 12 texts (SMS pumping)."""
    settings.ACCOUNT_TEXTS_PER_ADDRESS_PER_HOUR = 5
    answers = [
        _ask_for_code(client, f"+1415555{2600 + n:04d}", "192.0.2.50").status_code
        for n in range(12)
    ]
    assert answers == [302] * 5 + [429] * 7
    assert len(sms_outbox) == 5
    refused = _ask_for_code(client, "+14155553000", "192.0.2.50")
    assert "Too many requests" in refused.content.decode()
    assert "+14155553000" in refused.content.decode()  # what was typed stays in the form
    assert _ask_for_code(client, "+14155553001", "192.0.2.51").status_code == 302


def test_all_clients_together_are_capped(client, sms_outbox, settings):
    settings.ACCOUNT_TEXTS_PER_HOUR = 3
    answers = [
        _ask_for_code(client, f"+1415555{2700 + n:04d}", f"192.0.2.{60 + n}").status_code
        for n in range(5)
    ]
    assert answers == [302, 302, 302, 429, 429]
    assert len(sms_outbox) == 3


def test_password_reset_mails_are_capped_per_client(client, settings, mailoutbox):
    settings.ACCOUNT_RESET_MAILS_PER_ADDRESS_PER_HOUR = 3
    for n in range(3):
        UserFactory(email=f"reset{n}@example.com")
    url = reverse("accounts:password_reset")
    answers = [
        client.post(url, {"email": f"reset{n % 3}@example.com"}, REMOTE_ADDR="192.0.2.70")
        for n in range(5)
    ]
    assert [a.status_code for a in answers] == [302, 302, 302, 429, 429]
    assert "Too many requests" in answers[-1].content.decode()
    assert (
        client.post(url, {"email": "reset0@example.com"}, REMOTE_ADDR="192.0.2.71").status_code
        == 302
    )


def test_password_reset_mails_from_all_clients_together_are_capped(
    client, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.ACCOUNT_RESET_MAILS_PER_HOUR = 2
    UserFactory(email="reset@example.com")
    url = reverse("accounts:password_reset")
    with django_capture_on_commit_callbacks(execute=True):
        answers = [
            client.post(url, {"email": "reset@example.com"}, REMOTE_ADDR=f"192.0.2.{80 + n}")
            for n in range(4)
        ]
    assert [a.status_code for a in answers] == [302, 302, 429, 429]
    assert "Too many requests" in answers[-1].content.decode()
    assert len(mailoutbox) == 2
