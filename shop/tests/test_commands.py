import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command


@pytest.mark.django_db
def test_seed_demo_creates_one_superuser_and_is_idempotent(monkeypatch, capsys):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "owner@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-strong-owner-password")
    call_command("seed_demo")
    call_command("seed_demo")
    owner = get_user_model().objects.get(is_superuser=True)
    assert owner.email == "owner@example.com"
    assert owner.check_password("a-strong-owner-password")
    assert "already there" in capsys.readouterr().out
