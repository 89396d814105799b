import re

import pytest

from accounts import sms
from accounts.tests.factories import PASSWORD, UserFactory


@pytest.fixture
def sms_outbox(settings):
    settings.SMS_BACKEND = "accounts.sms.LocmemBackend"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


def last_code(outbox) -> str:
    return re.search(r"\b(\d{6})\b", outbox[-1].body).group(1)


@pytest.fixture
def user(db):
    return UserFactory(email="ada@example.com", full_name="Ada Lovelace")


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def now_plus(monkeypatch):
    """Move the clock of django.core.signing forward by `seconds`."""
    import time as real_time

    def move(seconds: float) -> None:
        class Clock:
            @staticmethod
            def time():
                return real_time.time() + seconds

        monkeypatch.setattr("django.core.signing.time", Clock)

    return move
