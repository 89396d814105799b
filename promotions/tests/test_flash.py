"""Flash sales (秒杀): pricing, taking units, limits, sold out, expiry, Redis down, pages."""

from datetime import timedelta
from decimal import Decimal
from functools import partial

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from cart.models import Cart, CartLine
from cart.tests.factories import CartLineFactory
from catalog.tests.factories import VariantFactory
from orders import services as order_services
from orders.errors import FlashUnavailable, OrderError
from orders.models import Order, OrderStatus
from orders.tests.factories import ADDRESS, ShippingMethodFactory, cart_with, place
from promotions import flash, services
from promotions.admin import FlashSaleForm
from promotions.models import FlashClaim, FlashSale
from promotions.tests.factories import CouponFactory, OfferFactory
from promotions.tests.helpers import line_of

pytestmark = pytest.mark.django_db

#: An unreachable Redis (nothing listens on port 1): the sale must go on without it.
DEAD_REDIS = "redis://127.0.0.1:1/0"


def flash_sale(variant=None, *, starts_in=timedelta(minutes=-1), hours=1, **fields) -> FlashSale:
    variant = variant or VariantFactory(price=Decimal("100.00"), stock=100)
    now = timezone.now()
    values = {"name": "Morning flash", "price": Decimal("9.90"), "cap": 3, "per_customer": 1}
    values.update(fields)
    return FlashSale.objects.create(
        variant=variant,
        starts_at=now + starts_in,
        ends_at=now + starts_in + timedelta(hours=hours),
        **values,
    )


def shopper(email="ada@example.com"):
    """The signed-in shopper of `email` (flash sales sell to signed-in shoppers only)."""
    return User.objects.filter(email=email).first() or UserFactory(email=email)


def buy(sale, *, email="ada@example.com", user=None, quantity=1):
    """A signed-in shopper (of `email` unless `user`) places an order of the flash line."""
    user = user or shopper(email)
    cart = Cart.objects.filter(user=user).first()
    if cart is None:
        cart = cart_with((sale.variant, quantity), user=user)
    else:  # a signed-in shopper has one cart
        CartLine.objects.filter(cart=cart).delete()
        CartLineFactory(cart=cart, variant=sale.variant, quantity=quantity)
    return place(cart, user=user, email=email)


def quoted_order_of(sale):
    """A shopper's cart of the sale's variant, quoted as the review page does; returns what
    places it (the tests change the sale in between)."""
    user = shopper()
    cart = cart_with((sale.variant, 1), user=user)
    method = ShippingMethodFactory()
    quote = order_services.quote_checkout(
        cart=cart,
        user=user,
        email=user.email,
        country=ADDRESS.country,
        region=ADDRESS.region,
        shipping_method=method,
    )
    return partial(
        order_services.place_order,
        cart=cart,
        user=user,
        email=user.email,
        address=ADDRESS,
        shipping_method_id=method.pk,
        payment_method="manual",
        idempotency_key=order_services.new_idempotency_key(),
        fingerprint=quote.fingerprint,
    )


# --- Pricing ----------------------------------------------------------------------------


def test_price_cart_charges_the_flash_price_only_while_the_sale_runs():
    sale = flash_sale()
    later = flash_sale(starts_in=timedelta(hours=2))
    running = services.price_cart(lines=[line_of(sale.variant)])
    assert running.lines[0].unit_price == Decimal("9.90")
    waiting = services.price_cart(lines=[line_of(later.variant)])
    assert waiting.lines[0].unit_price == Decimal("100.00")


def test_the_flash_price_is_final_no_sale_or_coupon_takes_more_off_it(
    django_capture_on_commit_callbacks,
):
    sale = flash_sale()
    lines = [line_of(sale.variant, key=1), line_of(VariantFactory(price=Decimal("50.00")), key=2)]
    CouponFactory(code="TEN", value=Decimal("10.00"))
    with_coupon = services.price_cart(lines=lines, coupon_code="TEN")
    # Committed, as the admin's save is: the offers' schedule moves on commit.
    with django_capture_on_commit_callbacks(execute=True):
        OfferFactory(name="Storewide", percent=Decimal("20.00"))
    in_a_sale = services.price_cart(lines=lines)
    for price, other_total in ((with_coupon, Decimal("45.00")), (in_a_sale, Decimal("40.00"))):
        flash_line, other_line = price.lines
        assert (flash_line.total, flash_line.discount) == (Decimal("9.90"), Decimal("0.00"))
        assert other_line.total == other_total


def test_an_order_of_a_flash_line_is_at_the_flash_price_with_a_short_deadline():
    sale = flash_sale()
    order = buy(sale)
    assert order.lines.get().unit_price == Decimal("9.90")
    assert order.payment_deadline <= order.created_at + timedelta(minutes=15)
    sale.refresh_from_db()
    assert sale.taken == 1
    claim = FlashClaim.objects.get()
    assert claim.order_number == order.number and claim.email == "ada@example.com"


# --- Cap and limits ---------------------------------------------------------------------


def test_the_cap_is_never_passed_and_the_rest_are_told_sold_out():
    sale = flash_sale(cap=2)
    buy(sale, email="a@example.com")
    buy(sale, email="b@example.com")
    with pytest.raises(FlashUnavailable, match="Sold out"):
        buy(sale, email="c@example.com")
    sale.refresh_from_db()
    assert sale.taken == 2 and Order.objects.count() == 2


def test_a_guest_cannot_buy_in_a_flash_sale_and_is_told_to_sign_in():
    """Several guest emails would be several customers: flash sales sell to accounts."""
    sale = flash_sale(cap=5, per_customer=1)
    cart = cart_with((sale.variant, 1))
    with pytest.raises(FlashUnavailable, match="Sign in"):
        place(cart, user=None, email="ada@example.com")
    assert FlashSale.objects.get().taken == 0 and not Order.objects.exists()


def test_a_signed_in_shopper_is_limited_by_account_whatever_the_email():
    sale = flash_sale(cap=5, per_customer=2)
    user = UserFactory()
    buy(sale, user=user, email="one@example.com", quantity=2)
    with pytest.raises(FlashUnavailable, match="2 per customer"):
        buy(sale, user=user, email="two@example.com")


def test_more_than_the_limit_in_one_line_is_refused_before_anything_is_taken():
    sale = flash_sale(cap=5, per_customer=2)
    with pytest.raises(FlashUnavailable, match="2 per customer"):
        buy(sale, quantity=3)
    assert FlashSale.objects.get().taken == 0 and not FlashClaim.objects.exists()


def test_an_order_refused_after_the_gate_gives_its_reservation_back():
    """The Redis counter is compensated when place_order fails after reserve()."""
    sale = flash_sale(cap=1)
    user = shopper("a@example.com")
    cart = cart_with((sale.variant, 1), user=user)
    with pytest.raises(OrderError):  # no such shipping method
        order_services.place_order(
            cart=cart,
            user=user,
            email="a@example.com",
            address=order_services.ShippingAddress(
                full_name="A", line1="1 Road", city="London", country="GB"
            ),
            shipping_method_id=0,
            payment_method="manual",
            idempotency_key="k",
            fingerprint="wrong",
        )
    assert flash.remaining_of([flash.sale_of(sale)])[sale.pk] == 1
    buy(sale, email="b@example.com")  # the one unit is still there for the next shopper


# --- Giving units back ------------------------------------------------------------------


def test_an_unpaid_flash_order_gives_its_unit_back_when_it_expires(
    django_capture_on_commit_callbacks,
):
    sale = flash_sale(cap=1)
    order = buy(sale)
    with pytest.raises(FlashUnavailable):
        buy(sale, email="late@example.com")
    with django_capture_on_commit_callbacks(execute=True):  # Redis's counter follows on commit
        expired = order_services.expire_unpaid_orders(
            now=order.payment_deadline + timedelta(seconds=1)
        )
    assert expired == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    sale.refresh_from_db()
    assert sale.taken == 0
    assert FlashClaim.objects.get().released_at is not None
    # Expiry running twice gives nothing back twice.
    assert flash.release_claims(order_number=order.number) == 0
    assert buy(sale, email="late@example.com").lines.get().unit_price == Decimal("9.90")


# --- Redis ------------------------------------------------------------------------------


@override_settings(FLASH_REDIS_URL=DEAD_REDIS)
def test_an_order_priced_at_the_flash_price_as_the_sale_ends_has_its_claim(monkeypatch):
    """The sale ends while the order is being placed, between its pricing and its claim:
    the order is judged at one moment, so it is either at the flash price with its claim
    or refused, never at the flash price with no unit taken."""
    sale = flash_sale(cap=3)
    place_quoted = quoted_order_of(sale)
    real_now, priced = timezone.now, flash.flash_priced
    after_the_end = sale.ends_at + timedelta(milliseconds=1)
    clock = {"now": None}

    def now():
        return clock["now"] or real_now()

    def flash_priced(lines, *, now):
        result = priced(lines, now=now)
        clock["now"] = after_the_end  # the sale ends the moment the order is priced
        return result

    monkeypatch.setattr(timezone, "now", now)
    monkeypatch.setattr(flash, "flash_priced", flash_priced)
    try:
        order = place_quoted()
    except OrderError:
        assert not Order.objects.exists()
        return
    assert order.lines.get().unit_price == Decimal("9.90")
    assert FlashClaim.objects.get().order_number == order.number
    assert FlashSale.objects.get().taken == 1


def test_a_sale_switched_off_as_the_order_is_priced_leaves_no_flash_price_without_claim(
    monkeypatch, django_capture_on_commit_callbacks
):
    """The merchant switches the sale off between the order's pricing and its claim (the
    schedule is dropped on commit, so a second read no longer lists the sale): the order's
    gate, pricing and claim judge one schedule, so it is refused, never placed at the flash
    price with no unit taken."""
    sale = flash_sale(cap=3)
    place_quoted = quoted_order_of(sale)
    priced = flash.flash_priced

    def flash_priced(lines, *, now):
        result = priced(lines, now=now)
        FlashSale.objects.filter(pk=sale.pk).update(is_active=False)  # switched off now
        with django_capture_on_commit_callbacks(execute=True):
            flash.schedule_changed()  # as the admin's save does, on its commit
        return result

    monkeypatch.setattr(flash, "flash_priced", flash_priced)
    with pytest.raises(OrderError):
        place_quoted()
    assert not Order.objects.exists() and not FlashClaim.objects.exists()


def test_with_redis_down_the_sale_goes_on_in_the_database_and_never_oversells():
    sale = flash_sale(cap=2)
    buy(sale, email="a@example.com")
    buy(sale, email="b@example.com")
    with pytest.raises(FlashUnavailable, match="Sold out"):
        buy(sale, email="c@example.com")
    assert FlashSale.objects.get().taken == 2
    assert flash.remaining_of([flash.sale_of(sale)])[sale.pk] == 0


def test_redis_counters_that_drift_from_the_database_are_dropped_and_reloaded(postgres_only):
    if not flash._redis():
        pytest.skip("needs Redis (REDIS_URL)")
    sale = flash_sale(cap=3)
    buy(sale, email="a@example.com")
    client = flash._redis()
    taken_key = flash._keys(sale.pk)[0]
    client.set(taken_key, 3)  # a process died between reserve and commit, twice
    assert flash.remaining_of([flash.sale_of(sale)])[sale.pk] == 0
    assert flash.reconcile_counters() == 0  # seen once: it may be orders being placed
    assert flash.reconcile_counters() == 1  # seen again a minute later: dropped
    assert flash.remaining_of([flash.sale_of(sale)])[sale.pk] == 2
    buy(sale, email="b@example.com")
    assert int(client.get(taken_key)) == 2


# --- The merchant's form ----------------------------------------------------------------


def _form(variant, **overrides):
    day = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%d")
    data = {
        "name": "Noon flash",
        "variant": variant.pk,
        "price": "9.90",
        "starts_at": f"{day} 12:00:00",
        "ends_at": f"{day} 13:00:00",
        "cap": "50",
        "per_customer": "1",
        "is_active": "on",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"ends_at": "2020-01-01 11:00:00"}, "ends_at", "The end must be after the start."),
        ({"price": "100.00"}, "price", "must be below the variant"),
        ({"price": "-1"}, "price", "greater than or equal to 0"),
        ({"cap": "0"}, "cap", "greater than or equal to 1"),
        ({"per_customer": "0"}, "per_customer", "greater than or equal to 1"),
        ({"variant": "999999"}, "variant", "Select a valid choice"),
        ({"starts_at": "tomorrow"}, "starts_at", "Enter a valid date/time"),
        ({"price": "abc"}, "price", "Enter a number"),
    ],
)
def test_the_flash_sale_form_explains_bad_input(overrides, field, message):
    variant = VariantFactory(price=Decimal("100.00"))
    form = FlashSaleForm(data={**_form(variant), **overrides})
    assert not form.is_valid()
    assert message in " ".join(form.errors[field])


def test_a_variant_is_in_one_flash_sale_at_a_time():
    """Two sales of one variant at once would block a unit of one for a hold's time when
    the other claims the order (each counts the variant's buyers apart): refused."""
    variant = VariantFactory(price=Decimal("100.00"))
    form = FlashSaleForm(data=_form(variant))
    assert form.is_valid(), form.errors
    noon = form.save()
    overlapping = FlashSaleForm(data={**_form(variant), "name": "Later"})
    assert not overlapping.is_valid()
    assert "“Noon flash” sells this variant in these hours" in overlapping.errors["variant"][0]
    day = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%d")  # as _form()
    assert FlashSaleForm(  # right after it
        data={**_form(variant), "starts_at": f"{day} 13:00:00", "ends_at": f"{day} 14:00:00"}
    ).is_valid()
    assert FlashSaleForm(data={**_form(VariantFactory(price=Decimal("100.00")))}).is_valid()
    assert FlashSaleForm(data=_form(variant), instance=noon).is_valid()  # itself, edited
    FlashSale.objects.filter(pk=noon.pk).update(is_active=False)
    assert FlashSaleForm(data=_form(variant)).is_valid()  # the other is switched off


def test_the_cap_cannot_go_below_the_units_taken():
    sale = flash_sale(cap=3)
    buy(sale)
    buy(sale, email="b@example.com")
    sale.refresh_from_db()
    form = FlashSaleForm(data={**_form(sale.variant), "cap": "1"}, instance=sale)
    assert not form.is_valid() and "2 units are already taken" in form.errors["cap"][0]


def test_the_admin_saves_a_flash_sale_and_pricing_follows_at_once(
    admin_client, django_capture_on_commit_callbacks
):
    variant = VariantFactory(price=Decimal("100.00"))
    assert flash.schedule() == []  # cached: empty
    data = _form(variant)
    start = timezone.localtime() - timedelta(minutes=1)
    end = start + timedelta(hours=2)
    del data["starts_at"], data["ends_at"]
    data.update(  # the admin splits date and time
        starts_at_0=start.strftime("%Y-%m-%d"),
        starts_at_1=start.strftime("%H:%M:%S"),
        ends_at_0=end.strftime("%Y-%m-%d"),
        ends_at_1=end.strftime("%H:%M:%S"),
        **{"claims-TOTAL_FORMS": "0", "claims-INITIAL_FORMS": "0"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:promotions_flashsale_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert services.price_cart(lines=[line_of(variant)]).lines[0].unit_price == Decimal("9.90")
    bad = admin_client.post(reverse("admin:promotions_flashsale_add"), {**data, "cap": "0"})
    assert bad.status_code == 200 and FlashSale.objects.count() == 1
    # An edit never writes back the units taken it read: orders placed meanwhile count.
    sale = FlashSale.objects.get()
    edit_page = admin_client.get(reverse("admin:promotions_flashsale_change", args=[sale.pk]))
    assert edit_page.status_code == 200
    buy(sale, email="meanwhile@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:promotions_flashsale_change", args=[sale.pk]), {**data, "cap": "40"}
        )
    assert response.status_code == 302
    sale.refresh_from_db()
    assert sale.cap == 40 and sale.taken == 1


# --- Pages ------------------------------------------------------------------------------

#: /flash/: session-less guest, the sales with product and first picture in one query; the
#: header's cart count and menu come from the cache.
FLASH_PAGE_BUDGET = 4


@pytest.mark.parametrize("count", [1, 8])
def test_the_flash_page_lists_running_and_coming_sales_in_a_fixed_number_of_queries(
    client, django_assert_max_num_queries, count
):
    for _i in range(count):
        flash_sale(name="On now")
        flash_sale(name="Later", starts_in=timedelta(hours=3))
    with django_assert_max_num_queries(FLASH_PAGE_BUDGET):
        response = client.get(reverse("promotions:flash"))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("flash-sale--running") == count
    assert html.count("flash-sale--upcoming") == count
    assert "$9.90" in html and "3 of 3 left" in html
    assert "data-flash-countdown" in html and "js/flash.js" in html


def test_the_flash_page_says_so_when_there_is_none(client):
    html = client.get(reverse("promotions:flash")).content.decode()
    assert "No flash sale is on at the moment." in html


def test_the_flash_page_answers_only_get(client):
    assert client.post(reverse("promotions:flash")).status_code == 405


#: The product page with its flash block (a hole: rendered on every request): what the
#: product page costs (catalog's tests) plus the schedule and what is left, at most 2.
PRODUCT_PAGE_BUDGET = 14


def test_the_product_page_counts_down_then_sells_then_says_sold_out(
    client, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    sale = flash_sale(starts_in=timedelta(minutes=30), cap=1)
    product = sale.variant.product
    product.is_published = True
    product.save()
    url = product.get_absolute_url()
    with django_assert_max_num_queries(PRODUCT_PAGE_BUDGET):
        html = client.get(url).content.decode()
    # Without JavaScript the start time is shown; flash.js counts down to it.
    assert "Flash sale · coming soon" in html and "Starts" in html
    assert 'data-flash-countdown="' in html and "Buy now" not in html
    FlashSale.objects.filter(pk=sale.pk).update(starts_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        flash.schedule_changed()  # as the admin does on save
    with django_assert_max_num_queries(PRODUCT_PAGE_BUDGET):
        html = client.get(url).content.decode()  # the rest of the page comes from the cache
    assert "1 of 1 left" in html and "Buy now" in html
    buy(sale)
    html = client.get(url).content.decode()
    assert "Flash sale · sold out" in html and "Buy now" not in html


def test_the_flash_page_speaks_chinese(client):
    flash_sale(name="早场秒杀")
    html = client.get("/zh-hans/flash/").content.decode()
    assert "秒杀" in html and "正在进行" in html
    assert "剩余 3 / 3 件" in html and "每人限购 1 件。" in html
