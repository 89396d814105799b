"""Run Django in a child process under a chosen environment, as a fresh server would start."""

import json
import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]

#: Every variable the settings read: a child starts from none of them unless a test sets it.
SETTINGS_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "EMAIL_URL",
    "SHOP_NAME",
    "SHOP_CURRENCY",
    "SECURE_SSL_REDIRECT",
    "USE_X_FORWARDED_PROTO",
    "STATICFILES_BACKEND",
    "DATABASE_STATEMENT_TIMEOUT",
    "COMMAND_STATEMENT_TIMEOUT",
    "SHOP_PROCESS",
)

PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmnop",
    "ALLOWED_HOSTS": "shop.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://shop.example.com",
}


def child_env(**variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    # Set for the browser tests in this process; a real server never has it.
    for name in ("DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        env.pop(name, None)
    env.update(variables)
    return env


def run_django(code: str, **variables: str) -> subprocess.CompletedProcess:
    """Run `code` after django.setup() in a child process; its stdout is returned."""
    script = (
        "import os, json, django\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'shop.settings')\n"
        "django.setup()\n"
        "from django.conf import settings\n" + code
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env=child_env(**variables),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def read_settings(names: list[str], **variables: str) -> dict:
    code = f"print(json.dumps({{n: getattr(settings, n, None) for n in {names!r}}}, default=str))"
    result = run_django(code, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])
