"""Coupon uses are counted only when an order is placed, atomically, and given back on a
cancellation or refund."""

import threading
from decimal import Decimal

import pytest
from django.db import connections, transaction

from catalog.tests.factories import ProductFactory
from promotions import services
from promotions.errors import CouponRejected
from promotions.models import Coupon, CouponRedemption, PromotionUse
from promotions.tests.factories import CouponFactory, MembershipTierFactory, spend_offer
from promotions.tests.helpers import NOW, line

D = Decimal


def redeem(code="SAVE", order="A-1", user=None, email="guest@example.com", **kwargs):
    kwargs.setdefault("subtotal", D("100.00"))
    return services.redeem_coupon(
        code=code, user=user, email=email, order_number=order, now=NOW, **kwargs
    )


@pytest.mark.django_db
def test_pricing_a_cart_never_counts_a_use():
    coupon = CouponFactory(code="SAVE", max_uses=1)
    for _ in range(3):
        services.price_cart(lines=[line()], coupon_code="SAVE", now=NOW)
    coupon.refresh_from_db()
    assert coupon.used_count == 0 and not CouponRedemption.objects.exists()


@pytest.mark.django_db
def test_redeeming_counts_one_use_and_records_the_order(user):
    coupon = CouponFactory(code="SAVE", max_uses=5)
    redemption = redeem(code="save", user=user, email="ADA@example.com")
    coupon.refresh_from_db()
    assert coupon.used_count == 1 and coupon.remaining_uses == 4
    assert (redemption.order_number, redemption.user, redemption.coupon) == ("A-1", user, coupon)


@pytest.mark.django_db
def test_redeeming_again_for_the_same_order_changes_nothing():
    coupon = CouponFactory(code="SAVE")
    assert redeem() == redeem()
    coupon.refresh_from_db()
    assert coupon.used_count == 1


@pytest.mark.django_db
def test_redeeming_judges_every_rule_again():
    CouponFactory(code="SAVE", max_uses=1, used_count=1)
    with pytest.raises(CouponRejected) as caught:
        redeem()
    assert caught.value.reason == CouponRejected.USED_UP
    CouponFactory(code="MIN", minimum_subtotal=D("50"))
    with pytest.raises(CouponRejected) as caught:
        redeem(code="MIN", subtotal=D("49.99"))
    assert caught.value.reason == CouponRejected.MINIMUM_NOT_MET
    with pytest.raises(CouponRejected) as caught:
        redeem(code="NOPE")
    assert caught.value.reason == CouponRejected.UNKNOWN


@pytest.mark.django_db
def test_redeeming_checks_the_items_when_given_lines():
    coupon = CouponFactory(code="SAVE")
    coupon.products.add(ProductFactory())
    with pytest.raises(CouponRejected) as caught:
        redeem(lines=[line(product_id=999_999)])
    assert caught.value.reason == CouponRejected.NOT_FOR_THESE_ITEMS


@pytest.mark.django_db
def test_a_guests_per_customer_limit_counts_by_email_in_any_case():
    CouponFactory(code="SAVE", max_uses_per_customer=1)
    redeem(order="A-1", email="Guest@Example.com")
    with pytest.raises(CouponRejected) as caught:
        redeem(order="A-2", email="guest@example.COM")
    assert caught.value.reason == CouponRejected.ALREADY_USED
    redeem(order="A-3", email="someone.else@example.com")
    result = services.price_cart(
        lines=[line()], coupon_code="SAVE", email="GUEST@example.com", now=NOW
    )
    assert result.coupon_error == "You have already used this coupon."


@pytest.mark.django_db
def test_a_signed_in_customers_limit_counts_by_user(user):
    CouponFactory(code="SAVE", max_uses_per_customer=1)
    redeem(order="A-1", user=user, email="first@example.com")
    with pytest.raises(CouponRejected) as caught:
        redeem(order="A-2", user=user, email="second@example.com")
    assert caught.value.reason == CouponRejected.ALREADY_USED
    result = services.price_cart(lines=[line()], coupon_code="SAVE", user=user, now=NOW)
    assert result.coupon_error == "You have already used this coupon."


@pytest.mark.django_db
def test_a_guests_use_counts_against_the_signed_in_customer_with_that_email(user):
    """Used once as a guest, a once-per-customer coupon cannot be used again signed in."""
    CouponFactory(code="ONCE", max_uses_per_customer=1)
    redeem(code="ONCE", order="G-1", user=None, email="  Ada@Example.COM ")
    # The cart prices with the user alone: their account's address names them.
    result = services.price_cart(lines=[line()], coupon_code="ONCE", user=user, now=NOW)
    assert result.coupon_error == "You have already used this coupon."
    with pytest.raises(CouponRejected) as caught:
        redeem(code="ONCE", order="S-1", user=user, email="ada@example.com")
    assert caught.value.reason == CouponRejected.ALREADY_USED
    # Signed in with another order address, the account's own address still counts.
    with pytest.raises(CouponRejected):
        redeem(code="ONCE", order="S-2", user=user, email="ada.work@example.com")


@pytest.mark.django_db
def test_a_signed_in_use_counts_against_a_guest_with_the_accounts_email(user):
    """... nor the other way round: used signed in, not again as a guest with the address of
    the account, nor with the address the signed-in order gave."""
    CouponFactory(code="ONCE", max_uses_per_customer=1)
    redeem(code="ONCE", order="S-1", user=user, email="ada.work@example.com")
    for address in ("ADA@example.com", "Ada.Work@Example.com"):
        with pytest.raises(CouponRejected) as caught:
            redeem(code="ONCE", order="G-1", user=None, email=address)
        assert caught.value.reason == CouponRejected.ALREADY_USED
        result = services.price_cart(lines=[line()], coupon_code="ONCE", email=address, now=NOW)
        assert result.coupon_error == "You have already used this coupon."


@pytest.mark.django_db
def test_other_customers_keep_their_own_per_customer_uses(user):
    from accounts.tests.factories import UserFactory

    CouponFactory(code="ONCE", max_uses_per_customer=1)
    redeem(code="ONCE", order="G-1", user=None, email="ada@example.com")
    redeem(code="ONCE", order="G-2", user=None, email="grace@example.com")
    redeem(code="ONCE", order="S-1", user=UserFactory(email="kim@example.com"), email="")
    assert CouponRedemption.objects.count() == 3


@pytest.mark.django_db
def test_a_cancellation_gives_the_use_back_once():
    coupon = CouponFactory(code="SAVE", max_uses=1)
    redeem(order="A-1")
    assert services.release_coupon(order_number="A-1") is True
    assert services.release_coupon(order_number="A-1") is False
    coupon.refresh_from_db()
    assert coupon.used_count == 0
    assert CouponRedemption.objects.get().released_at is not None
    redeem(order="A-2")  # the use is free again
    coupon.refresh_from_db()
    assert coupon.used_count == 1


@pytest.mark.django_db
def test_offer_and_tier_uses_are_recorded_per_order_and_released(user):
    offer = spend_offer({"10": "2"}, stacks=True)
    tier = MembershipTierFactory(min_spend=D("0"), percent=D("5"), stacks=True)
    price = services.price_cart(lines=[line(price="40.00")], user=user, now=NOW)
    assert services.record_order_promotions(order_number="A-1", price=price) == 2
    assert services.record_order_promotions(order_number="A-1", price=price) == 0
    assert offer.uses.get().amount == D("2.00") and tier.uses.get().amount == D("1.90")
    assert services.release_order_promotions(order_number="A-1") == 2
    assert not PromotionUse.objects.filter(released_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_orders_redeem_a_coupon_with_five_uses_left_exactly_five_times(
    postgres_only,
):
    coupon = CouponFactory(code="RUSH", max_uses=10, used_count=5)
    threads_count = 50
    barrier = threading.Barrier(threads_count)
    placed, rejected, errors = [], [], []

    def place_order(n):
        try:
            barrier.wait()
            with transaction.atomic():  # place_order's transaction
                redeem(code="rush", order=f"R-{n}", email=f"shopper{n}@example.com")
            placed.append(n)
        except CouponRejected as exc:
            rejected.append(exc.reason)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=place_order, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(placed) == 5 and rejected == [CouponRejected.USED_UP] * 45
    coupon.refresh_from_db()
    assert coupon.used_count == 10
    assert CouponRedemption.objects.filter(coupon=coupon).count() == 5
    assert Coupon.objects.get(pk=coupon.pk).remaining_uses == 0
