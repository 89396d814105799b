import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from catalog.models import ProductRecommendation, RecommendationKind
from orders.models import Order


@pytest.mark.django_db
def test_seed_demo_creates_one_superuser_and_is_idempotent(monkeypatch, capsys):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "owner@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-strong-owner-password")
    # 200 products make the demo's baskets as 1000 (the default) do, in a fifth of the time.
    call_command("seed_demo", "--products", "200", "--orders", "12")
    assert "Orders: 12 paid demo orders placed." in capsys.readouterr().out
    call_command("seed_demo", "--products", "200", "--orders", "12")
    owner = get_user_model().objects.get(is_superuser=True)
    assert owner.email == "owner@example.com"
    assert owner.check_password("a-strong-owner-password")
    out = capsys.readouterr().out
    assert "already there" in out and "Orders: 0 paid" in out
    # The demo's baskets give product pages products bought together.
    assert Order.objects.sold().count() == 12
    assert ProductRecommendation.objects.filter(kind=RecommendationKind.BOUGHT_TOGETHER).exists()
