"""Staff roles: the groups exist after migrate with exactly their permissions, and each role
can do its job in the admin and nothing it should not (prices, refunds, moderation)."""

from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse

from accounts.tests.factories import UserFactory
from catalog.models import Variant
from catalog.tests.factories import ProductFactory
from payments.models import Refund
from payments.tests.factories import deliver, sandbox_order, start
from reviews.models import Review, ReviewStatus
from reviews.tests.factories import ReviewFactory
from shop.roles import CATALOG_MANAGER, ORDER_DESK, ROLES, SUPPORT, sync_staff_roles

pytestmark = pytest.mark.django_db


def _perms(group: Group) -> set[str]:
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


def _staff(client, role: str):
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


def test_migrate_made_every_role_with_exactly_its_permissions():
    for name, names in ROLES.items():
        assert _perms(Group.objects.get(name=name)) == set(names)


def test_syncing_again_changes_nothing_and_takes_back_a_permission_added_by_hand():
    support = Group.objects.get(name=SUPPORT)
    support.permissions.add(
        *Group.objects.get(name=CATALOG_MANAGER).permissions.filter(codename="change_variant")
    )
    out = StringIO()
    call_command("sync_staff_roles", stdout=out)
    call_command("sync_staff_roles", stdout=out)
    assert Group.objects.filter(name__in=ROLES).count() == len(ROLES)
    assert _perms(Group.objects.get(name=SUPPORT)) == set(ROLES[SUPPORT])
    assert "Support: 13 permissions" in out.getvalue()


def test_a_deleted_role_comes_back():
    Group.objects.filter(name=ORDER_DESK).delete()
    sync_staff_roles()
    assert _perms(Group.objects.get(name=ORDER_DESK)) == set(ROLES[ORDER_DESK])


def _variant_post(variant: Variant, **changes) -> dict:
    data = {
        "product": variant.product_id,
        "sku": variant.sku,
        "price": str(variant.price),
        "compare_at_price": "",
        "stock_loaded": str(variant.stock),
        "stock_adjust": "",
        "stock_reason": "received",
        "stock_counted": "",
        "weight_grams": "0",
        "is_active": "on",
        "position": "0",
    }
    return {**data, **changes}


def _price_change_refused(client, product):
    variant = product.variants.get()
    change = reverse("admin:catalog_variant_change", args=[variant.pk])
    assert client.post(change, _variant_post(variant, price="1.00")).status_code == 403
    product_change = reverse("admin:catalog_product_change", args=[product.pk])
    assert client.post(product_change, {"name": "Renamed"}).status_code == 403
    bulk = reverse("admin:catalog_variant_bulk_edit")
    data = {"ids": str(variant.pk), "price_mode": "set", "price_value": "1", "apply": "1"}
    assert client.get(bulk, {"ids": variant.pk}).status_code == 403
    assert client.post(bulk, {**data, "stock_reason": "correction"}).status_code == 403
    variant.refresh_from_db()
    product.refresh_from_db()
    assert (variant.price, product.name) == (Decimal("10.00"), "Lamp")


def test_support_reads_orders_and_the_catalog_but_cannot_change_prices_or_refund(client):
    _staff(client, SUPPORT)
    product = ProductFactory(name="Lamp")
    order = sandbox_order()
    deliver(start(order))
    for url in (
        reverse("admin:catalog_product_change", args=[product.pk]),
        reverse("admin:orders_order_change", args=[order.pk]),
        reverse("admin:orders_order_changelist"),
        reverse("admin:accounts_user_changelist"),
    ):
        assert client.get(url).status_code == 200, url
    page = client.get(reverse("admin:catalog_product_change", args=[product.pk])).content
    assert b'name="_save"' not in page
    _price_change_refused(client, product)
    refund = reverse("admin:orders_order_refund", args=[order.pk])
    assert client.get(refund).status_code == 403
    assert client.post(reverse("admin:orders_order_cancel", args=[order.pk])).status_code == 403
    assert not Refund.objects.exists()


def test_support_replies_to_reviews_but_does_not_moderate(client):
    _staff(client, SUPPORT)
    review = ReviewFactory(status=ReviewStatus.PENDING)
    change = reverse("admin:reviews_review_change", args=[review.pk])
    response = client.post(change, {"merchant_reply": "Thank you!"})
    assert response.status_code == 302
    changelist = reverse("admin:reviews_review_changelist")
    page = client.get(changelist)
    assert page.context["action_form"] is None  # no approve, no reject
    client.post(changelist, {"action": "approve", "_selected_action": [review.pk], "index": 0})
    review.refresh_from_db()
    assert (review.merchant_reply, review.status) == ("Thank you!", ReviewStatus.PENDING)


def test_order_desk_ships_and_refunds_but_cannot_edit_products(client):
    _staff(client, ORDER_DESK)
    product = ProductFactory(name="Lamp")
    order = sandbox_order()
    deliver(start(order))
    assert client.get(reverse("admin:orders_order_change", args=[order.pk])).status_code == 200
    assert client.get(reverse("admin:orders_order_ship", args=[order.pk])).status_code == 200
    refund = reverse("admin:orders_order_refund", args=[order.pk])
    assert client.get(refund).status_code == 200
    line = order.lines.get()
    response = client.post(refund, {f"line_{line.pk}": "1", "reason": "broken", "confirm": "1"})
    assert response.status_code == 302 and Refund.objects.count() == 1
    assert client.get(reverse("admin:catalog_product_changelist")).status_code == 200
    _price_change_refused(client, product)
    assert client.get(reverse("admin:catalog_product_add")).status_code == 403
    assert client.get(reverse("admin:promotions_coupon_changelist")).status_code == 403


def test_catalog_manager_edits_prices_and_moderates_but_cannot_refund(client):
    _staff(client, CATALOG_MANAGER)
    product = ProductFactory(name="Lamp")
    variant = product.variants.get()
    bulk = reverse("admin:catalog_variant_bulk_edit")
    response = client.post(
        bulk,
        {
            "ids": str(variant.pk),
            "price_mode": "set",
            "price_value": "12.00",
            "stock_delta": "3",
            "stock_reason": "received",
            "apply": "1",
            "expected": f"{variant.pk}:10.00",
        },
    )
    assert response.status_code == 302
    variant.refresh_from_db()
    assert (variant.price, variant.stock) == (Decimal("12.00"), 13)
    change = reverse("admin:catalog_variant_change", args=[variant.pk])
    assert client.post(change, _variant_post(variant, price="11.00")).status_code == 302
    review = ReviewFactory(status=ReviewStatus.PENDING)
    changelist = reverse("admin:reviews_review_changelist")
    client.post(changelist, {"action": "approve", "_selected_action": [review.pk], "index": 0})
    assert Review.objects.get(pk=review.pk).status == ReviewStatus.APPROVED
    order = sandbox_order()
    deliver(start(order))
    assert client.get(reverse("admin:orders_order_refund", args=[order.pk])).status_code == 403
    assert client.get(reverse("admin:orders_order_changelist")).status_code == 403
    assert client.get(reverse("admin:payments_refund_changelist")).status_code == 403
    assert not Refund.objects.exists()
