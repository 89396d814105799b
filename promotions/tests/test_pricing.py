"""price_cart() against the database: every rule, its boundaries and the query budget."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from catalog import cache as catalog_cache
from catalog.tests.factories import CategoryFactory, ProductFactory
from promotions import services
from promotions.errors import CouponRejected
from promotions.models import Coupon
from promotions.pricing import ZERO
from promotions.selectors import offers_version
from promotions.tests.factories import (
    CouponFactory,
    MembershipTierFactory,
    OfferFactory,
    spend_offer,
)
from promotions.tests.helpers import NOW, line, line_of
from taxes import selectors as tax_selectors

pytestmark = pytest.mark.django_db
D = Decimal
SECOND = timedelta(seconds=1)


def price(lines, **kwargs):
    kwargs.setdefault("now", NOW)
    return services.price_cart(lines=lines, **kwargs)


def test_without_promotions_the_total_is_the_subtotal_plus_shipping():
    result = price([line(1, "10.00", 2), line(2, "0.99", 3)], shipping=D("4.50"))
    assert (result.subtotal, result.discount, result.total) == (D("22.97"), ZERO, D("27.47"))
    assert result.applied == () and result.coupon_error == ""


def test_shipping_is_free_from_the_threshold_on_the_subtotal_before_discounts():
    CouponFactory(code="TEN", value=D("10"))
    below = price([line(price="38.00")], shipping=D("5.00"), free_shipping_from=D("50.00"))
    assert (below.shipping, below.total) == (D("5.00"), D("43.00"))
    assert (below.free_shipping_remaining, below.free_shipping_percent) == (D("12.00"), 76)
    # At the threshold shipping is free, even when a coupon brings the total under it.
    at = price(
        [line(price="25.00", quantity=2)],
        shipping=D("5.00"),
        free_shipping_from=D("50.00"),
        coupon_code="TEN",
    )
    assert (at.shipping, at.total, at.free_shipping_remaining) == (ZERO, D("45.00"), ZERO)
    # Before a method is chosen (the cart), the bar is there and nothing is charged.
    cart = price([line(price="10.00")], free_shipping_from=D("50.00"))
    assert (cart.shipping, cart.free_shipping_remaining) == (None, D("40.00"))
    assert price([line()], shipping=D("5.00")).free_shipping_remaining is None


def test_a_percent_coupon_rounds_to_the_cent_half_up():
    CouponFactory(code="FIFTEEN", value=D("15"))
    result = price([line(price="3.33", quantity=3)], coupon_code="FIFTEEN")
    assert (result.discount, result.total) == (D("1.50"), D("8.49"))
    assert result.applied[0].code == "FIFTEEN" and result.coupon_code == "FIFTEEN"


def test_a_coupon_code_is_case_insensitive():
    CouponFactory(code="Summer10", value=D("10"))
    assert price([line(price="50.00")], coupon_code="  sUMMER10 ").discount == D("5.00")


def test_a_fixed_coupon_never_takes_the_total_below_shipping():
    CouponFactory(code="FIFTY", kind=Coupon.Kind.AMOUNT, value=D("50"))
    result = price([line(price="30.00")], coupon_code="fifty", shipping=D("5.00"))
    assert (result.discount, result.total) == (D("30.00"), D("5.00"))


def test_an_unknown_or_inactive_coupon_says_so():
    CouponFactory(code="OFF", is_active=False)
    for code in ("NOPE", "off"):
        result = price([line()], coupon_code=code)
        assert result.coupon_error == f"“{code}” is not a valid coupon code."
        assert result.discount == ZERO and result.coupon_code == ""


def test_a_coupon_is_valid_from_its_start_included_to_its_end_excluded():
    CouponFactory(code="WINDOW", valid_from=NOW, valid_until=NOW + timedelta(days=1))
    assert (
        "can be used from" in price([line()], coupon_code="WINDOW", now=NOW - SECOND).coupon_error
    )
    assert price([line()], coupon_code="WINDOW", now=NOW).coupon_code == "WINDOW"
    last = NOW + timedelta(days=1) - SECOND
    assert price([line()], coupon_code="WINDOW", now=last).coupon_code == "WINDOW"
    end = NOW + timedelta(days=1)
    assert "expired on" in price([line()], coupon_code="WINDOW", now=end).coupon_error


def test_a_coupon_minimum_is_met_exactly_at_the_minimum():
    CouponFactory(code="MIN50", minimum_subtotal=D("50.00"))
    assert price([line(price="50.00")], coupon_code="MIN50").discount == D("5.00")
    below = price([line(price="49.99")], coupon_code="MIN50")
    assert below.coupon_error == "This coupon needs a subtotal of at least $50.00."


def test_a_used_up_coupon_says_so():
    CouponFactory(code="GONE", max_uses=2, used_count=2)
    assert price([line()], coupon_code="GONE").coupon_error == "This coupon has been used up."


def test_a_coupon_for_a_category_discounts_only_its_lines_and_its_subcategories():
    shoes = CategoryFactory(name="Shoes")
    boots = CategoryFactory(name="Boots", parent=shoes)
    hats = CategoryFactory(name="Hats")
    boot = ProductFactory(category=boots, variants__price=D("80.00")).variants.get()
    hat = ProductFactory(category=hats, variants__price=D("20.00")).variants.get()
    coupon = CouponFactory(code="SHOES", value=D("25"))
    coupon.categories.add(shoes)
    result = price([line_of(boot), line_of(hat)], coupon_code="shoes")
    assert [x.discount for x in result.lines] == [D("20.00"), ZERO]
    only_hat = price([line_of(hat)], coupon_code="shoes")
    assert only_hat.coupon_error == "This coupon does not apply to the items in your cart."


def test_a_coupon_for_products_discounts_only_those_products():
    coupon = CouponFactory(code="ONE", kind=Coupon.Kind.AMOUNT, value=D("5"))
    product = ProductFactory(variants__price=D("12.00"))
    coupon.products.add(product)
    other = ProductFactory(variants__price=D("12.00"))
    result = price(
        [line_of(product.variants.get()), line_of(other.variants.get())], coupon_code="ONE"
    )
    assert [x.total for x in result.lines] == [D("7.00"), D("12.00")]


def test_a_free_shipping_coupon_zeroes_the_shipping():
    CouponFactory(code="SHIPFREE", kind=Coupon.Kind.FREE_SHIPPING, value=ZERO)
    result = price([line(price="40.00")], coupon_code="SHIPFREE", shipping=D("6.90"))
    assert (result.shipping_discount, result.total) == (D("6.90"), D("40.00"))
    assert result.applied[0].kind == "shipping"


def test_the_best_spend_tier_applies_from_exactly_its_threshold():
    spend_offer({"200": "20", "500": "60"}, name="Spend more, save more")
    cases = {"199.99": ZERO, "200.00": D("20"), "499.99": D("20"), "500.00": D("60")}
    for subtotal, discount in cases.items():
        result = price([line(price=subtotal)])
        assert result.discount == discount, subtotal
    assert price([line(price="500.00")]).applied[0].name == "Spend more, save more"


def test_a_sale_runs_from_its_start_included_to_its_end_excluded():
    category = CategoryFactory()
    variant = ProductFactory(category=category, variants__price=D("25.00")).variants.get()
    sale = OfferFactory(
        name="Summer sale", percent=D("20"), valid_from=NOW, valid_until=NOW + timedelta(hours=2)
    )
    sale.categories.add(category)
    lines = [line_of(variant, quantity=2)]
    assert price(lines, now=NOW - SECOND).discount == ZERO
    at_start = price(lines, now=NOW)
    assert at_start.lines[0].total == D("40.00") and at_start.applied[0].kind == "line"
    assert price(lines, now=NOW + timedelta(hours=2) - SECOND).discount == D("10.00")
    assert price(lines, now=NOW + timedelta(hours=2)).discount == ZERO


def test_a_non_stacking_coupon_beaten_by_an_offer_says_why():
    spend_offer({"100": "30"})
    CouponFactory(code="TEN", value=D("10"))
    result = price([line(price="150.00")], coupon_code="TEN")
    assert result.discount == D("30.00") and result.coupon_code == ""
    assert "does not combine" in result.coupon_error
    # Where the coupon gives more, it wins instead.
    result = price([line(price="400.00")], coupon_code="TEN")
    assert result.discount == D("40.00") and result.coupon_code == "TEN"


def test_a_stacking_coupon_adds_to_the_best_offer():
    spend_offer({"100": "30"})
    CouponFactory(code="PLUS", value=D("10"), stacks=True)
    result = price([line(price="150.00")], coupon_code="PLUS")
    # 150 - 30 = 120, then 10% of 120.
    assert result.discount == D("42.00") and result.total == D("108.00")
    assert [a.amount for a in result.applied] == [D("30.00"), D("12.00")]


def test_a_members_tier_percent_applies_by_lifetime_spend(user):
    MembershipTierFactory(name="Silver", min_spend=D("1000.00"), percent=D("5"))
    MembershipTierFactory(name="Gold", min_spend=D("5000.00"), percent=D("10"))
    assert price([line(price="100.00")], user=user).discount == ZERO
    services.record_paid_spend(user=user, amount=D("1000.00"))
    silver = price([line(price="100.00")], user=user)
    assert silver.discount == D("5.00") and silver.applied[0].name == "Silver member discount"
    services.record_paid_spend(user=user, amount=D("4000.00"))
    assert price([line(price="100.00")], user=user).discount == D("10.00")
    assert price([line(price="100.00")]).discount == ZERO  # a guest has no tier


def test_record_paid_spend_adds_up_and_never_goes_below_zero(user):
    assert services.record_paid_spend(user=user, amount=D("120.50")) == D("120.50")
    assert services.record_paid_spend(user=user, amount=D("-20.50")) == D("100.00")
    assert services.record_paid_spend(user=user, amount=D("-500")) == ZERO


def test_check_coupon_raises_the_typed_reason():
    CouponFactory(code="MIN", minimum_subtotal=D("100"))
    with pytest.raises(CouponRejected) as caught:
        services.check_coupon(code="min", lines=[line()], now=NOW)
    assert caught.value.reason == CouponRejected.MINIMUM_NOT_MET
    assert services.check_coupon(code="min", lines=[line(price="100")], now=NOW).code == "MIN"


def _everything_running(user):
    """One of each promotion, with categories and products, and a per-customer limit."""
    category = CategoryFactory()
    sale = OfferFactory(percent=D("10"))
    sale.categories.add(category)
    offer = spend_offer({"10": "1", "100": "5"}, stacks=True)
    offer.categories.add(category)
    MembershipTierFactory(min_spend=ZERO, percent=D("5"), stacks=True)
    coupon = CouponFactory(code="ALL", max_uses_per_customer=3, stacks=True)
    coupon.categories.add(category)
    return category


@pytest.mark.parametrize("count", [1, 50])
def test_price_cart_makes_a_fixed_number_of_queries_and_never_writes(
    user, count, django_assert_max_num_queries
):
    category = _everything_running(user)
    variants = [
        ProductFactory(category=category, variants__price=D("9.99")).variants.get()
        for _ in range(count)
    ]
    lines = [line_of(variant) for variant in variants]
    with CaptureQueriesContext(connection) as queries:
        result = services.price_cart(lines=lines, coupon_code="all", user=user)
    assert len(queries) <= services.PRICE_CART_MAX_QUERIES
    assert all(q["sql"].lstrip().upper().startswith("SELECT") for q in queries.captured_queries)
    assert {a.source.split(":")[0] for a in result.applied} == {"offer", "tier", "coupon"}


def test_the_cart_checkout_order_and_invoice_show_the_same_numbers(user):
    """The cart prices without shipping; checkout, place_order and the order's snapshot all
    call price_cart() with the same lines, so the numbers can only agree."""
    from shop.templatetags.shop_tags import money

    spend_offer({"50": "5"}, stacks=True)
    CouponFactory(code="WELCOME", value=D("10"), max_uses=1)
    lines = [line(1, "19.99", 2), line(2, "35.00")]
    cart = price(lines, coupon_code="welcome", user=user)
    checkout = price(lines, coupon_code="welcome", user=user, shipping=D("4.95"))
    assert [x.total for x in cart.lines] == [x.total for x in checkout.lines]
    assert checkout.total == cart.total + D("4.95")
    # place_order: price, then redeem the coupon the price used, in one transaction.
    order = price(lines, coupon_code="welcome", user=user, shipping=D("4.95"))
    services.redeem_coupon(
        code=order.coupon_code,
        user=user,
        email=user.email,
        order_number="A-1",
        subtotal=order.subtotal,
        lines=lines,
        now=NOW,
    )
    assert order == checkout
    # The invoice adds up the order's stored line totals: the same total to the cent.
    invoice_total = sum(x.total for x in order.lines) + order.shipping - order.shipping_discount
    assert money(invoice_total) == money(checkout.total) == "$67.93"  # (74.98 - 5.00) - 7.00 + 4.95


def test_a_shop_in_yen_prices_in_whole_yen(settings):
    settings.SHOP_CURRENCY = "JPY"
    CouponFactory(code="FIFTEEN", value=D("15"))
    result = price(
        [line(1, "333", 3), line(2, "1001", 1)], coupon_code="FIFTEEN", shipping=D("500")
    )
    # 15% of ¥2,000 is ¥300 (whole yen), spread over the lines in whole yen.
    assert (result.subtotal, result.discount, result.total) == (D("2000"), D("300"), D("2200"))
    for priced in result.lines:
        assert priced.total == priced.total.to_integral_value()
        assert priced.discount == priced.discount.to_integral_value()
    CouponFactory(code="ODD", value=D("7"))
    odd = price([line(1, "333", 3), line(2, "1001", 1)], coupon_code="ODD")
    assert odd.discount == D("140")  # 7% of 2,000
    assert [x.discount for x in odd.lines] == [D("69"), D("71")]


def test_a_committed_change_of_an_offer_reprices_at_once(django_capture_on_commit_callbacks):
    """The offers' schedule is kept per version (selectors.offer_schedule): a saved offer,
    its tiers or its scope move the version when the write commits."""
    category = CategoryFactory()
    variant = ProductFactory(category=category, variants__price=D("25.00")).variants.get()
    lines = [line_of(variant, quantity=2)]
    assert price(lines, now=NOW).discount == ZERO  # the schedule is held from here on
    with django_capture_on_commit_callbacks(execute=True):
        sale = OfferFactory(name="Summer sale", percent=D("20"), valid_from=NOW - SECOND)
        sale.categories.add(CategoryFactory())
    assert price(lines, now=NOW).discount == ZERO  # another category's sale
    with django_capture_on_commit_callbacks(execute=True):
        sale.categories.add(category)
    assert price(lines, now=NOW).discount == D("10.00")
    with django_capture_on_commit_callbacks(execute=True):
        sale.percent = D("10")
        sale.save()
    assert price(lines, now=NOW).discount == D("5.00")
    with django_capture_on_commit_callbacks(execute=True):
        services.set_offers_active(offer_ids=[sale.pk], active=False)
    assert price(lines, now=NOW).discount == ZERO


def test_an_offer_saved_in_a_transaction_that_rolls_back_is_never_kept():
    """A schedule read inside the writing transaction must not outlive its rollback."""
    variant = ProductFactory(variants__price=D("25.00")).variants.get()
    lines = [line_of(variant, quantity=2)]
    assert price(lines, now=NOW).discount == ZERO
    with pytest.raises(RuntimeError), transaction.atomic():
        OfferFactory(name="Ghost sale", percent=D("20"), valid_from=NOW - SECOND)
        price(lines, now=NOW)
        raise RuntimeError
    assert price(lines, now=NOW).discount == ZERO


def test_the_offers_version_comes_with_a_requests_first_read_of_versions(monkeypatch):
    """Every priced page (checkout, review, placing the order) reads the offers' version: it
    comes in the request's first round trip for versions, not in one of its own."""
    reads = []
    get_many = catalog_cache._get_many
    monkeypatch.setattr(
        catalog_cache, "_get_many", lambda keys: reads.append(keys) or get_many(keys)
    )
    catalog_cache.request_started()
    try:
        catalog_cache.versions([catalog_cache.CATALOG_EXCEPT_STOCK])  # the layout's first read
        offers_version()
    finally:
        catalog_cache.request_finished()
    assert len(reads) == 1, reads


def test_the_tax_rates_version_comes_with_a_requests_first_read_of_versions(monkeypatch):
    """Every priced page taxes: the rates' version comes in the request's first round trip
    for versions (kept where taxes keep it), not in a GET of its own."""
    reads = []
    get_many, cache = catalog_cache._get_many, tax_selectors.cache

    class TaxesOwnReads:
        def __getattr__(self, name):
            return getattr(cache, name)

        def get(self, key, *args, **kwargs):
            reads.append(key)
            return cache.get(key, *args, **kwargs)

    monkeypatch.setattr(
        catalog_cache, "_get_many", lambda keys: reads.append(keys) or get_many(keys)
    )
    monkeypatch.setattr(tax_selectors, "cache", TaxesOwnReads())
    catalog_cache.versions([catalog_cache.CATALOG_EXCEPT_STOCK])  # every version started
    reads.clear()
    catalog_cache.request_started()
    try:
        catalog_cache.versions([catalog_cache.CATALOG_EXCEPT_STOCK])  # the layout's first read
        version = tax_selectors.version()
        assert tax_selectors.version() == version
    finally:
        catalog_cache.request_finished()
    assert len(reads) == 1 and tax_selectors.VERSION_KEY in reads[0], reads
    tax_selectors.rates_changed()  # a change moves the version the next request reads
    assert tax_selectors.version() != version
