"""Bulk edit of variants' prices and stock: the service (all or nothing, stock only as
movements, summaries, facet rows and cached pages follow) and the admin's confirmation page
(before → after, bad input refused with a message and nothing changed)."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.tests.factories import UserFactory
from catalog import cache, facets, services
from catalog.admin import bulk_edit
from catalog.admin.bulk_edit import BULK_EDIT_MAX
from catalog.models import Product, ProductOption, StockMovement, Variant
from catalog.services import BulkEditRefused, PriceChange
from catalog.tests.factories import OptionValueFactory, ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db

BULK = reverse("admin:catalog_variant_bulk_edit")
VARIANTS = reverse("admin:catalog_variant_changelist")
PRODUCTS = reverse("admin:catalog_product_changelist")
D = Decimal


def _shirt(prices=("10.00", "12.00"), stock=5):
    shirt = ProductFactory(name="Shirt", variants=False)
    colours = ["Red", "Blue", "Green"]
    variants = [
        VariantFactory(
            product=shirt,
            sku=f"SHIRT-{colours[i]}",
            price=D(price),
            stock=stock,
            option_values=[OptionValueFactory(value=colours[i])],
        )
        for i, price in enumerate(prices)
    ]
    return shirt, variants


def _fresh(variants):
    return {
        v.pk: (v.price, v.stock) for v in Variant.objects.filter(pk__in=[x.pk for x in variants])
    }


# --- The service ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "value", "after"),
    [
        ("set", "15.00", ["15.00", "15.00"]),
        ("percent", "-10", ["9.00", "10.80"]),
        ("percent", "33.333", ["13.33", "16.00"]),
        ("amount", "2.50", ["12.50", "14.50"]),
        ("amount", "-10", ["0.00", "2.00"]),
    ],
)
def test_edit_variants_changes_prices_and_the_products_from_price(mode, value, after):
    shirt, variants = _shirt()
    services.edit_variants(
        variant_ids=[v.pk for v in variants], price=PriceChange(mode=mode, value=D(value))
    )
    assert [p for p, _s in _fresh(variants).values()] == [D(a) for a in after]
    shirt.refresh_from_db()
    assert shirt.price == min(D(a) for a in after)


def test_edit_variants_adjusts_stock_only_as_movements_with_reason_and_note():
    shirt, variants = _shirt(stock=5)
    actor = UserFactory(is_staff=True)
    services.edit_variants(
        variant_ids=[v.pk for v in variants],
        price=None,
        stock_delta=12,
        reason=StockMovement.Reason.RECEIVED,
        note="Delivery 42",
        actor=actor,
    )
    assert [s for _p, s in _fresh(variants).values()] == [17, 17]
    moves = StockMovement.objects.filter(reason=StockMovement.Reason.RECEIVED)
    assert sorted(moves.values_list("quantity", "stock_after", "note")) == [
        (12, 17, "Delivery 42"),
        (12, 17, "Delivery 42"),
    ]
    assert set(moves.values_list("actor", flat=True)) == {actor.pk}
    shirt.refresh_from_db()
    assert shirt.stock == 34


def test_one_variant_going_below_zero_refuses_the_whole_edit_and_changes_nothing():
    _product, variants = _shirt(stock=5)
    services.adjust_stock(variant_id=variants[1].pk, delta=-3, reason="correction")
    before = _fresh(variants)
    movements = StockMovement.objects.count()
    with pytest.raises(BulkEditRefused) as refused:
        services.edit_variants(
            variant_ids=[v.pk for v in variants],
            price=PriceChange(mode="amount", value=D("1")),
            stock_delta=-4,
        )
    assert refused.value.problems == [
        "SHIRT-Blue has 2 in stock: removing 4 would take it below zero."
    ]
    assert _fresh(variants) == before
    assert StockMovement.objects.count() == movements


def test_a_negative_price_refuses_the_whole_edit():
    _product, variants = _shirt(prices=("3.00", "20.00"))
    before = _fresh(variants)
    with pytest.raises(BulkEditRefused) as refused:
        services.edit_variants(
            variant_ids=[v.pk for v in variants],
            price=PriceChange(mode="amount", value=D("-5")),
            stock_delta=1,
        )
    assert "SHIRT-Red: the price would be -$2.00" in refused.value.problems[0]
    assert _fresh(variants) == before


def test_a_price_changed_since_the_preview_refuses_the_edit():
    _product, variants = _shirt()
    seen = {v.pk: v.price for v in variants}
    Variant.objects.filter(pk=variants[0].pk).update(price=D("11.00"))
    with pytest.raises(BulkEditRefused, match="SHIRT-Red changed since the preview"):
        services.edit_variants(
            variant_ids=list(seen),
            price=PriceChange(mode="percent", value=D("10")),
            expected_prices=seen,
        )


def test_a_price_edit_bumps_the_cached_pages_on_commit(django_capture_on_commit_callbacks):
    shirt, variants = _shirt()
    scope = cache.product_scope(shirt.pk)
    before = cache.versions([scope, cache.CATALOG])
    with django_capture_on_commit_callbacks(execute=True):
        services.edit_variants(
            variant_ids=[variants[0].pk], price=PriceChange(mode="set", value=D("8.00"))
        )
    after = cache.versions([scope, cache.CATALOG])
    assert after[scope] != before[scope] and after[cache.CATALOG] != before[cache.CATALOG]


def test_listings_follow_a_bulk_edit_of_price_and_of_stock_to_zero():
    shirt, variants = _shirt(stock=2)
    in_category = {"category_ids": (shirt.category_id,)}
    assert facets.answer(facets.Question(**in_category, in_stock=True)).page == [shirt.pk]
    services.edit_variants(
        variant_ids=[v.pk for v in variants],
        price=PriceChange(mode="set", value=D("7.00")),
        stock_delta=-2,
    )
    rows = ProductOption.objects.filter(product=shirt)
    assert {row.in_stock_variants for row in rows} == {0}
    assert Product.objects.get(pk=shirt.pk).stock == 0
    # The listing index (each worker's) follows: sold out, and at the new price.
    assert facets.answer(facets.Question(**in_category, in_stock=True)).total == 0
    cheap = facets.Question(**in_category, price_max=D("7.00"))
    assert facets.answer(cheap).page == [shirt.pk]


# --- The admin page -------------------------------------------------------------------------


def _url(variants, back="variants"):
    return f"{BULK}?ids={','.join(str(v.pk) for v in variants)}&back={back}"


def _post(client, variants, **data):
    payload = {
        "ids": ",".join(str(v.pk) for v in variants),
        "price_mode": "",
        "price_value": "",
        "stock_delta": "",
        "stock_reason": "correction",
        "note": "",
        **data,
    }
    return client.post(BULK, payload)


def test_the_variant_list_action_opens_the_page_for_the_selected_variants(admin_client):
    _product, variants = _shirt()
    response = admin_client.post(
        f"{VARIANTS}?level=all",
        {"action": "bulk_edit", "_selected_action": [variants[0].pk], "index": "0"},
    )
    assert response.status_code == 302
    assert response.url == f"{BULK}?ids={variants[0].pk}&back=variants"


def test_the_product_list_action_takes_all_variants_of_the_selected_products(admin_client):
    shirt, variants = _shirt()
    ProductFactory(name="Other")
    response = admin_client.post(
        PRODUCTS, {"action": "edit_variants", "_selected_action": [shirt.pk], "index": "0"}
    )
    assert response.status_code == 302
    assert response.url == _url(variants, back="products").replace(",", "%2C")


@pytest.mark.parametrize("count", [2, 40])
def test_the_page_lists_the_variants_in_a_fixed_number_of_queries(
    admin_client, django_assert_max_num_queries, count
):
    shirt = ProductFactory(variants=False)
    variants = [VariantFactory(product=shirt, sku=f"V-{i}") for i in range(count)]
    # The session and user, the variants with their products, their option values.
    with django_assert_max_num_queries(4):
        response = admin_client.get(_url(variants))
    assert response.status_code == 200
    assert response.content.decode().count('<th scope="row">V-') == count


def test_preview_shows_before_and_after_and_changes_nothing(admin_client):
    _product, variants = _shirt()
    before = _fresh(variants)
    response = _post(
        admin_client, variants, price_mode="percent", price_value="10", stock_delta="3"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert '$10.00 <span aria-hidden="true">→</span>' in html
    assert "<strong>$11.00</strong>" in html and "<strong>$13.20</strong>" in html
    assert "<strong>8</strong>" in html
    assert 'name="apply"' in html
    assert _fresh(variants) == before


def test_apply_writes_and_returns_to_the_list(admin_client):
    shirt, variants = _shirt()
    response = _post(
        admin_client,
        variants,
        price_mode="set",
        price_value="9.99",
        stock_delta="-1",
        apply="1",
        expected=",".join(f"{v.pk}:{v.price}" for v in variants),
    )
    assert response.status_code == 302
    assert response.url == f"{VARIANTS}?level=all"
    assert list(_fresh(variants).values()) == [(D("9.99"), 4), (D("9.99"), 4)]
    shirt.refresh_from_db()
    assert (shirt.price, shirt.stock) == (D("9.99"), 8)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"price_mode": "set", "price_value": "abc"}, "Enter a number."),
        ({"price_mode": "set", "price_value": "-1"}, "A price cannot be negative."),
        ({"price_mode": "set", "price_value": ""}, "Enter the new price, the percentage"),
        ({"price_mode": "percent", "price_value": "-150"}, "by more than 100 %"),
        ({"price_mode": "amount", "price_value": "-10.50"}, "the price would be -$0.50"),
        ({"stock_delta": "x"}, "Enter a whole number."),
        ({"stock_delta": "1.5"}, "Enter a whole number."),
        ({"stock_delta": "-6"}, "removing 6 would take it below zero"),
        ({"stock_delta": "-1", "stock_reason": "received"}, "Received units are a positive"),
        ({"stock_delta": "2", "stock_reason": "sale"}, "Select a valid choice."),
        ({"price_mode": "bogus", "price_value": "1"}, "Select a valid choice."),
        ({}, "Nothing to change"),
    ],
)
def test_bad_input_gets_a_message_and_changes_nothing(admin_client, data, message):
    _product, variants = _shirt(prices=("10.00", "12.00"), stock=5)
    before = _fresh(variants)
    for step in ({}, {"apply": "1"}):  # refused at the preview, and if posted straight to apply
        response = _post(admin_client, variants, **data, **step)
        assert response.status_code == 400
        assert message in response.content.decode()
        assert _fresh(variants) == before
    assert not StockMovement.objects.exclude(reason="opening").exists()


def test_apply_refused_when_stock_moved_below_what_the_edit_takes(admin_client):
    _product, variants = _shirt(stock=5)
    services.take_stock(quantities={variants[0].pk: 4})  # a sale after the preview
    response = _post(admin_client, variants, stock_delta="-2", apply="1")
    assert response.status_code == 400
    assert "SHIRT-Red has 1 in stock: removing 2 would take it below zero." in (
        response.content.decode()
    )
    assert [s for _p, s in _fresh(variants).values()] == [1, 5]


@pytest.mark.parametrize(
    "ids",
    ["", "abc", "0", ",".join(["1"] * 2 + [str(BULK_EDIT_MAX + i) for i in range(BULK_EDIT_MAX)])],
)
def test_bad_or_too_many_ids_lead_back_to_the_list_with_a_message(admin_client, ids):
    response = admin_client.get(BULK, {"ids": ids}, follow=True)
    assert response.status_code == 200
    assert "Choose between 1 and" in response.content.decode()


def test_too_many_selected_variants_are_refused_on_the_list(admin_client, monkeypatch):
    monkeypatch.setattr(bulk_edit, "BULK_EDIT_MAX", 1)
    _product, variants = _shirt()
    response = admin_client.post(
        f"{VARIANTS}?level=all",
        {"action": "bulk_edit", "_selected_action": [v.pk for v in variants], "index": "0"},
        follow=True,
    )
    assert response.redirect_chain == [(f"{VARIANTS}?level=all", 302)]  # the list, not the page
    assert "2 variants selected: edit at most 1 at a time." in response.content.decode()


def test_a_staff_user_without_change_variant_is_refused(client):
    _product, variants = _shirt()
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_variant", "view_product"])
    )
    client.force_login(viewer)
    assert client.get(_url(variants)).status_code == 403
    before = _fresh(variants)
    response = _post(client, variants, price_mode="set", price_value="1", apply="1")
    assert response.status_code == 403
    assert _fresh(variants) == before
    # Nor is the action offered on the list.
    page = client.get(f"{VARIANTS}?level=all").content.decode()
    assert "bulk_edit" not in page


def test_the_page_and_the_product_list_read_in_chinese(admin_client):
    _product, variants = _shirt()
    page = admin_client.get(_url(variants), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "编辑价格和库存" in page and "按百分比调整" in page
    listing = admin_client.get(PRODUCTS, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "2 个规格，库存 10" in listing and "$10.00 起" in listing


@pytest.mark.parametrize("expected", ["", "x:y", "{pk}:sNaN", "{pk}:NaN", "{pk}:9.99,{pk}:1e999"])
def test_a_price_change_applied_without_its_preview_is_refused(admin_client, expected):
    _product, variants = _shirt(prices=("10.00",))
    pk = variants[0].pk
    response = _post(
        admin_client,
        variants,
        price_mode="percent",
        price_value="10",
        apply="1",
        expected=expected.format(pk=pk),
    )
    assert response.status_code == 400
    assert "changed since the preview" in response.content.decode()
    assert _fresh(variants) == {pk: (D("10.00"), 5)}


def test_a_stock_only_edit_needs_no_prices_from_the_preview(admin_client):
    _product, variants = _shirt(prices=("10.00",))
    response = _post(admin_client, variants, stock_delta="2", apply="1")
    assert response.status_code == 302
    assert _fresh(variants) == {variants[0].pk: (D("10.00"), 7)}
