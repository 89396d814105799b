"""Sending text messages through a small, swappable backend (settings.SMS_BACKEND).

A real gateway is one module with a class that has `send_messages(messages)`; the shop ships
a console backend (development) and a file backend (tests and browser tests read codes there).
"""

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SMSMessage:
    to: str  #: E.164
    body: str


class BaseBackend:
    def send_messages(self, messages: list[SMSMessage]) -> int:
        raise NotImplementedError


class ConsoleBackend(BaseBackend):
    """Print each message to stdout, as Django's console mail backend does."""

    def send_messages(self, messages: list[SMSMessage]) -> int:
        for message in messages:
            sys.stdout.write(f"SMS to {message.to}: {message.body}\n")
        sys.stdout.flush()
        return len(messages)


class FileBackend(BaseBackend):
    """Append each message to `<SMS_FILE_PATH>/<number>.txt`, newest last."""

    def __init__(self, path: str | None = None):
        path = path or settings.SMS_FILE_PATH
        if not path:
            raise ImproperlyConfigured("Set SMS_FILE_PATH to use accounts.sms.FileBackend.")
        self.path = Path(path)

    def send_messages(self, messages: list[SMSMessage]) -> int:
        self.path.mkdir(parents=True, exist_ok=True)
        for message in messages:
            with open(self.path / f"{message.to.lstrip('+')}.txt", "a", encoding="utf-8") as f:
                f.write(f"{timezone.now().isoformat()} {message.body}\n")
        return len(messages)


class LocmemBackend(BaseBackend):
    """Keep messages in `accounts.sms.outbox` (for unit tests)."""

    def send_messages(self, messages: list[SMSMessage]) -> int:
        outbox.extend(messages)
        return len(messages)


outbox: list[SMSMessage] = []


def get_backend() -> BaseBackend:
    return import_string(settings.SMS_BACKEND)()


def send_sms(*, to: str, body: str) -> None:
    get_backend().send_messages([SMSMessage(to=to, body=body)])
