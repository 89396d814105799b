from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from cart import selectors, services
from cart.models import Cart, CartLine
from cart.services import MAX_LINE_QUANTITY, LineChange
from cart.tests.factories import CartFactory, CartLineFactory
from catalog import services as catalog_services
from catalog.models import Variant
from catalog.tests.factories import VariantFactory


@pytest.fixture
def shopper(django_user_model):
    return django_user_model.objects.create_user(email="ann@example.com", password="pw-ann-123")


@pytest.mark.django_db
def test_adding_the_same_variant_twice_adds_up_the_quantity():
    cart, variant = CartFactory(), VariantFactory(stock=10)
    services.add_line(cart=cart, variant=variant, quantity=2)
    services.add_line(cart=cart, variant=variant, quantity=3)
    assert cart.lines.get().quantity == 5


@pytest.mark.django_db
def test_adding_more_than_the_stock_adds_what_there_is_and_says_so():
    cart, variant = CartFactory(), VariantFactory(stock=3)
    notice = services.add_line(cart=cart, variant=variant, quantity=5)
    assert cart.lines.get().quantity == 3
    assert "Only 3" in notice
    with pytest.raises(services.OutOfStock):
        services.add_line(cart=cart, variant=variant, quantity=1)
    assert cart.lines.get().quantity == 3


@pytest.mark.django_db
def test_a_guests_first_add_makes_their_cart_with_the_line_as_an_add_to_a_cart_would():
    variant = VariantFactory(stock=3, price=Decimal("12.50"))
    before = timezone.now()
    cart_id, notice = services.add_to_new_guest_cart(variant=variant, quantity=5)
    cart = Cart.objects.get(pk=cart_id)
    assert (cart.user, cart.coupon_code) == (None, "")
    assert before <= cart.created_at <= cart.updated_at <= timezone.now()
    line = cart.lines.get()
    assert (line.variant, line.quantity, line.seen_price) == (variant, 3, Decimal("12.50"))
    assert (line.is_selected, line.group_id) == (True, None)
    assert before <= line.added_at <= timezone.now()
    assert "Only 3" in notice
    # Each guest's first add makes a cart of its own.
    other_id, _notice = services.add_to_new_guest_cart(variant=variant, quantity=1)
    assert other_id != cart_id
    assert Cart.objects.get(pk=other_id).lines.get().quantity == 1


@pytest.mark.django_db
def test_a_line_never_holds_more_than_the_line_maximum():
    cart, variant = CartFactory(), VariantFactory(stock=1000)
    notice = services.add_line(cart=cart, variant=variant, quantity=MAX_LINE_QUANTITY + 5)
    assert cart.lines.get().quantity == MAX_LINE_QUANTITY
    assert f"at most {MAX_LINE_QUANTITY}" in notice


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"stock": 0}, services.OutOfStock),
        ({"is_active": False}, services.Unavailable),
        ({"product__is_published": False}, services.Unavailable),
    ],
)
def test_unsellable_variants_cannot_be_added(change, error):
    variant = VariantFactory(stock=5)
    if "product__is_published" in change:
        variant.product.is_published = False
        variant.product.save()
    else:
        Variant.objects.filter(pk=variant.pk).update(**change)
        variant.refresh_from_db()
    cart = CartFactory()
    with pytest.raises(error):
        services.add_line(cart=cart, variant=variant, quantity=1)
    assert not cart.lines.exists()


def asked(changes: dict[int, LineChange]):
    """What update_lines asks for the posted form: these changes, whatever the lines."""
    return lambda _line_ids: changes


@pytest.mark.django_db
def test_update_is_all_or_nothing_when_one_quantity_is_too_high():
    cart = CartFactory()
    small = CartLineFactory(cart=cart, variant__stock=2)
    large = CartLineFactory(cart=cart, variant__stock=50)
    with pytest.raises(services.InvalidQuantities) as caught:
        services.update_lines(
            cart=cart,
            changes=asked({small.pk: LineChange(5, True), large.pk: LineChange(7, False)}),
        )
    assert caught.value.errors == {small.pk: "Only 2 left in stock."}
    assert {line.pk: (line.quantity, line.is_selected) for line in cart.lines.all()} == {
        small.pk: (1, True),
        large.pk: (1, True),
    }
    services.update_lines(
        cart=cart, changes=asked({small.pk: LineChange(2, True), large.pk: LineChange(7, False)})
    )
    assert {line.pk: (line.quantity, line.is_selected) for line in cart.lines.all()} == {
        small.pk: (2, True),
        large.pk: (7, False),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("kinds", [1, 2, 5])
def test_update_writes_every_changed_line_and_leaves_the_others(
    kinds, django_assert_max_num_queries
):
    """Changed lines are written whatever their new (quantity, tick) (one statement on
    PostgreSQL, one bulk_update elsewhere): each line ends as asked, unchanged lines stay."""
    cart = CartFactory()
    other = CartLineFactory(variant__stock=50)  # another cart's line, never written
    lines = [CartLineFactory(cart=cart, variant__stock=50) for _ in range(kinds + 2)]
    wanted = {line.pk: (2 + n % kinds, n % 2 == 0) for n, line in enumerate(lines[:-1])}
    wanted[lines[-1].pk] = (1, True)  # as it is
    before = Cart.objects.get(pk=cart.pk).updated_at
    # Lock the lines, write them and mark the cart (PostgreSQL: one statement), and the
    # savepoint with its release (tests run inside a transaction).
    with django_assert_max_num_queries(4 if connection.vendor == "postgresql" else 5):
        services.update_lines(
            cart=cart,
            changes=asked(
                {
                    **{pk: LineChange(*change) for pk, change in wanted.items()},
                    other.pk: LineChange(7, False),
                }
            ),
        )
    assert {line.pk: (line.quantity, line.is_selected) for line in cart.lines.all()} == wanted
    assert Cart.objects.get(pk=cart.pk).updated_at > before
    other.refresh_from_db()
    assert (other.quantity, other.is_selected) == (1, True)


@pytest.mark.django_db
def test_lines_of_another_cart_cannot_be_changed_or_removed():
    mine, theirs = CartFactory(), CartFactory()
    their_line = CartLineFactory(cart=theirs)
    services.update_lines(cart=mine, changes=asked({their_line.pk: LineChange(9, False)}))
    assert not services.remove_line(cart=mine, line_id=their_line.pk)
    their_line.refresh_from_db()
    assert (their_line.quantity, their_line.is_selected) == (1, True)


@pytest.mark.django_db
def test_merge_adds_quantities_caps_them_and_says_what_was_capped(shopper):
    guest, mine = CartFactory(), CartFactory(user=shopper)
    both = VariantFactory(stock=4)
    only_guest = VariantFactory(stock=10)
    CartLineFactory(cart=guest, variant=both, quantity=3)
    CartLineFactory(cart=mine, variant=both, quantity=2)
    CartLineFactory(cart=guest, variant=only_guest, quantity=2)
    notices = services.merge_carts(source=guest, target=mine)
    assert {line.variant_id: line.quantity for line in mine.lines.all()} == {
        both.pk: 4,
        only_guest.pk: 2,
    }
    assert len(notices) == 1 and "you had 5 in your carts, 4 can be bought" in notices[0]
    assert not Cart.objects.filter(pk=guest.pk).exists()


@pytest.mark.django_db
def test_reconcile_marks_price_changes_stock_shortfalls_and_unsold_products():
    cart = CartFactory()
    repriced = CartLineFactory(cart=cart, variant__price=Decimal("10.00"))
    short = CartLineFactory(cart=cart, variant__stock=5, quantity=4)
    gone = CartLineFactory(cart=cart)
    Variant.objects.filter(pk=repriced.variant_id).update(price=Decimal("12.50"))
    catalog_services.adjust_stock(variant_id=short.variant_id, delta=-3, reason="correction")
    gone.variant.product.is_published = False
    gone.variant.product.save()
    lines = selectors.lines_for_page(cart=cart)
    notices = services.reconcile_lines(lines=lines)
    assert any("changed from $10.00 to $12.50" in n for n in notices)
    assert any("Only 2" in n for n in notices)
    assert any("no longer sold" in n for n in notices)
    by_id = {line.pk: line for line in lines}
    assert by_id[gone.pk].problem == "No longer sold"
    assert CartLine.objects.get(pk=short.pk).quantity == 2
    assert CartLine.objects.get(pk=repriced.pk).seen_price == Decimal("12.50")
    # Seen once, said once.
    assert services.reconcile_lines(lines=selectors.lines_for_page(cart=cart)) == [
        f"“{gone.variant.product.name}” is no longer sold."
    ]


@pytest.mark.django_db
def test_totals_take_only_ticked_lines_that_can_be_bought():
    cart = CartFactory()
    CartLineFactory(cart=cart, variant__price=Decimal("10.00"), quantity=3)
    CartLineFactory(cart=cart, variant__price=Decimal("99.99"), is_selected=False)
    lines = selectors.lines_for_page(cart=cart)
    services.reconcile_lines(lines=lines)
    price = selectors.price_lines(cart=cart, lines=lines, user=AnonymousUser())
    assert price.subtotal == Decimal("30.00") and price.total == Decimal("30.00")


@pytest.mark.django_db
def test_clear_stale_carts_removes_only_old_guest_carts(shopper, capsys):
    old_guest, fresh_guest, old_shopper = CartFactory(), CartFactory(), CartFactory(user=shopper)
    long_ago = timezone.now() - timedelta(days=45)
    Cart.objects.filter(pk__in=[old_guest.pk, old_shopper.pk]).update(updated_at=long_ago)
    call_command("clear_stale_carts", "--days", "30")
    assert set(Cart.objects.values_list("pk", flat=True)) == {fresh_guest.pk, old_shopper.pk}
    assert "Deleted 1" in capsys.readouterr().out


@pytest.mark.django_db
def test_a_flash_line_is_the_only_ticked_line_of_a_cart_made_on_the_spot(
    shopper, django_assert_max_num_queries
):
    variant = VariantFactory(price=Decimal("20.00"), stock=5)
    # Made, the other lines unticked, the line made: in one transaction of three statements.
    with django_assert_max_num_queries(5):  # + the test's savepoint and its release
        services.put_flash_line(user=shopper, variant=variant, quantity=1)
    cart = Cart.objects.get(user=shopper)
    line = cart.lines.get()
    assert (line.variant, line.quantity, line.is_selected, line.seen_price) == (
        variant,
        1,
        True,
        Decimal("20.00"),
    )


@pytest.mark.django_db
def test_a_flash_line_takes_over_the_variants_line_and_unticks_the_others(shopper):
    cart = CartFactory(user=shopper)
    other = CartLineFactory(cart=cart, quantity=2)
    variant = VariantFactory(price=Decimal("20.00"), stock=5)
    was = CartLineFactory(cart=cart, variant=variant, quantity=3, is_selected=False, group_id=7)
    before = Cart.objects.get(pk=cart.pk).updated_at
    services.put_flash_line(user=shopper, variant=variant, quantity=1)
    line = CartLine.objects.get(pk=was.pk)  # the same line, where it was in the cart
    assert (line.quantity, line.is_selected, line.group_id, line.added_at) == (
        1,
        True,
        None,
        was.added_at,
    )
    other.refresh_from_db()
    assert not other.is_selected and other.quantity == 2
    assert Cart.objects.get(pk=cart.pk).updated_at > before  # marked changed (the page cache)
    assert Cart.objects.filter(user=shopper).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"is_active": False}, services.Unavailable),
        ({"stock": 0}, services.OutOfStock),
    ],
)
def test_a_flash_line_of_a_variant_not_sold_or_out_of_stock_is_refused_and_writes_nothing(
    shopper, change, error
):
    variant = VariantFactory(**change)
    with pytest.raises(error):
        services.put_flash_line(user=shopper, variant=variant, quantity=1)
    assert not Cart.objects.filter(user=shopper).exists()


@pytest.mark.django_db
def test_bought_lines_leave_their_cart_with_its_coupon_and_nothing_else_moves(
    django_assert_num_queries,
):
    cart = CartFactory(coupon_code="SAVE10")
    bought, kept = CartLineFactory(cart=cart), CartLineFactory(cart=cart)
    other = CartLineFactory(cart=CartFactory(coupon_code="MINE"))
    before = Cart.objects.get(pk=cart.pk).updated_at
    # One statement on PostgreSQL (the lines and the cart), the ORM's two elsewhere. A line
    # of another cart among the ids (a stale or forged list) is never deleted.
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 2):
        services.remove_bought_lines(cart=cart, line_ids=[bought.pk, other.pk])
    assert list(CartLine.objects.filter(cart=cart)) == [kept]
    assert CartLine.objects.filter(pk=other.pk).exists()
    cart.refresh_from_db()
    assert cart.coupon_code == "" and cart.updated_at > before
    assert Cart.objects.get(pk=other.cart_id).coupon_code == "MINE"
