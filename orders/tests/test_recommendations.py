""" "Frequently bought together" counts sold orders only, ranked by orders holding both."""

import pytest
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone

from catalog.models import ProductRecommendation, RecommendationKind
from catalog.services import set_published
from catalog.tests.factories import CategoryFactory, ProductFactory
from orders import services, tasks
from orders.models import Order
from orders.tests.factories import ShippingMethodFactory, cart_with, place


@pytest.fixture
def bought():
    """Five products and six paid orders. For A: B is in 3 of them, D and C in 2 each (D is
    in 2 orders in all, C in 3: D goes with A more surely, although it is older), E in 1.
    An unpaid, a cancelled and a fully refunded order of A with E would put E first."""
    category = CategoryFactory(name="Kitchen")
    # D before C: the tie-break must be the lift, not the newer product.
    a, b, d, c, e = (
        ProductFactory(name=name, category=category, variants__stock=50)
        for name in ("A", "B", "D", "C", "E")
    )
    method = ShippingMethodFactory()

    def order(*products, **statuses):
        placed = place(cart_with(*((p.variants.get(), 1) for p in products)), method=method)
        Order.objects.filter(pk=placed.pk).update(
            **{"payment_status": "paid", "paid_at": timezone.now(), **statuses}
        )
        return placed

    for basket in ((a, b, c), (a, b), (a, c, d), (a, b, e), (a, d), (c, e)):
        order(*basket)
    for _ in range(3):
        place(cart_with((a.variants.get(), 1), (e.variants.get(), 1)), method=method)
        order(a, e, status="cancelled")
        order(a, e, payment_status="refunded", total_paid=F("total"), total_refunded=F("total"))
    return {p.name: p for p in (a, b, c, d, e)}


def ranked(product, kind=RecommendationKind.BOUGHT_TOGETHER):
    rows = ProductRecommendation.objects.filter(product=product, kind=kind).order_by("rank")
    return [(row.recommended.name, row.score) for row in rows.select_related("recommended")]


@pytest.mark.django_db
def test_bought_together_ranks_by_paid_orders_holding_both_then_lift(bought):
    services.rebuild_recommendations()
    assert ranked(bought["A"]) == [("B", 3), ("D", 2), ("C", 2), ("E", 1)]
    assert ranked(bought["E"]) == [("C", 1), ("B", 1), ("A", 1)]
    # Similar products fill the rest: the same category, after the bought-together rows.
    kinds = ProductRecommendation.objects.filter(product=bought["E"]).order_by("rank")
    assert list(kinds.values_list("kind", flat=True)) == [
        RecommendationKind.BOUGHT_TOGETHER
    ] * 3 + [RecommendationKind.SIMILAR]


@pytest.mark.django_db
def test_a_product_unpublished_is_never_recommended(bought):
    set_published(product_ids=[bought["B"].pk], published=False)
    services.rebuild_recommendations()
    assert ranked(bought["A"]) == [("D", 2), ("C", 2), ("E", 1)]
    assert not ProductRecommendation.objects.filter(recommended=bought["B"]).exists()


@pytest.mark.django_db
def test_rebuild_command_replaces_the_rows(bought, capsys):
    ProductRecommendation.objects.create(
        product=bought["A"], recommended=bought["E"], kind="similar", score=99, rank=1
    )
    call_command("rebuild_recommendations")
    assert "Recommendations: 20 rows" in capsys.readouterr().out
    assert ranked(bought["A"])[0] == ("B", 3)
    assert ProductRecommendation.objects.count() == 20


@pytest.mark.django_db
def test_the_nightly_task_rebuilds(bought, settings):
    schedule = settings.CELERY_BEAT_SCHEDULE["orders-rebuild-recommendations"]
    assert schedule["task"] == tasks.rebuild_recommendations.name
    assert tasks.rebuild_recommendations.delay().get() == 20
    assert ranked(bought["A"])[0] == ("B", 3)
