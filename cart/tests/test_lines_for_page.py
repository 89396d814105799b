"""cart.selectors.lines_for_page and cart_to_buy_from: statements built once (shop.prepared)
read what the cart and checkout show, each variant's options as its own `option_values.all()`."""

import pytest
from django.contrib.auth.models import AnonymousUser

from cart import selectors
from cart.tests.factories import CartFactory, CartLineFactory
from catalog.models import OptionValue
from catalog.selectors import first_image
from catalog.tests.factories import (
    OptionTypeFactory,
    OptionValueFactory,
    ProductImageFactory,
    VariantFactory,
)

pytestmark = pytest.mark.django_db


def test_each_line_has_its_own_options_in_option_order_in_two_queries(
    django_assert_num_queries,
):
    size = OptionTypeFactory(name="Size", position=2)
    colour = OptionTypeFactory(name="Colour", position=1)
    red, navy = (
        OptionValueFactory(option_type=colour, value="Red"),
        OptionValueFactory(option_type=colour, value="Navy"),
    )
    medium = OptionValueFactory(option_type=size, value="M")
    cart = CartFactory()
    red_m = CartLineFactory(cart=cart, variant=VariantFactory(option_values=[medium, red])).pk
    navy_line = CartLineFactory(cart=cart, variant=VariantFactory(option_values=[navy])).pk
    plain = CartLineFactory(cart=cart, variant=VariantFactory(option_values=[])).pk
    # Another cart's variant with more options: never mixed in.
    CartLineFactory(variant=VariantFactory(option_values=[red, medium]))
    with django_assert_num_queries(2):
        lines = {line.pk: line for line in selectors.lines_for_page(cart=cart)}
        labels = {pk: line.variant.options_label for pk, line in lines.items()}
        assert {pk: list(line.variant.option_values.all()) for pk, line in lines.items()} == {
            red_m: [red, medium],
            navy_line: [navy],
            plain: [],
        }
        assert lines[red_m].variant.option_values.all()[0].option_type.name == "Colour"
    assert labels == {red_m: "Red / M", navy_line: "Navy", plain: ""}
    assert set(lines) == {red_m, navy_line, plain}
    assert OptionValue.objects.count() == 3


def test_lines_come_in_the_order_they_were_added_with_their_first_picture(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    cart = CartFactory()
    first = CartLineFactory(cart=cart)
    second = CartLineFactory(cart=cart)
    image = ProductImageFactory(product=second.variant.product)
    lines = selectors.lines_for_page(cart=cart)
    assert [line.pk for line in lines] == [first.pk, second.pk]
    assert first_image(lines[0], "small") is None
    assert lines[1].first_image_name == image.image.name
    assert lines[1].variant.product.category.pk == second.variant.product.category_id


def test_a_cart_without_lines_or_another_carts_id_reads_nothing():
    CartLineFactory()
    assert selectors.lines_for_page(cart=CartFactory()) == []


def test_a_cart_has_a_ticked_line_only_while_one_is_ticked(django_assert_num_queries):
    cart = CartFactory()
    session = {selectors.CART_SESSION_KEY: cart.pk}

    def ticked():
        found = selectors.cart_to_buy_from(user=AnonymousUser(), session=session)
        assert found == cart
        return found.ticked_line_id

    assert ticked() is None
    line = CartLineFactory(cart=cart, is_selected=False)
    CartLineFactory(is_selected=True)  # another cart's
    with django_assert_num_queries(1):
        assert ticked() is None
    kept = CartLineFactory(cart=cart, is_selected=True)
    line.delete()
    assert ticked() == kept.pk


def test_the_cart_to_buy_from_is_the_visitors_only(django_user_model):
    user = django_user_model.objects.create_user(email="s@example.com", password="pw")
    own, shoppers = CartFactory(), CartFactory(user=user)
    assert selectors.cart_to_buy_from(user=AnonymousUser(), session={}) is None
    # A guest's session naming a shopper's cart gives them nothing (cart_owner's rule).
    guest = {selectors.CART_SESSION_KEY: shoppers.pk}
    assert selectors.cart_to_buy_from(user=AnonymousUser(), session=guest) is None
    assert selectors.cart_to_buy_from(user=user, session={}) == shoppers
    assert (
        selectors.cart_to_buy_from(
            user=AnonymousUser(), session={selectors.CART_SESSION_KEY: own.pk}
        )
        == own
    )
