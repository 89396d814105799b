"""Races on PostgreSQL: threads with their own connections around a barrier.

Control: without the cart's row lock in add_line (cart.locks) two adds of a variant not yet
in the cart both create its line, and the second dies on the unique (cart, variant)
constraint with an IntegrityError, a 500 for the shopper who pressed "add" twice.
"""

import pytest

from cart import services
from cart.models import CartLine
from cart.tests.factories import CartFactory
from catalog.tests.factories import VariantFactory
from shop.tests.concurrency import race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres_only"),
]

ADDS = 8


def test_adding_a_new_variant_several_times_at_once_makes_one_line_with_every_unit():
    cart, variant = CartFactory(), VariantFactory(stock=50)
    results, errors = race(
        ADDS, lambda i: services.add_line(cart=cart, variant=variant, quantity=1)
    )
    assert errors == [] and len(results) == ADDS
    line = CartLine.objects.get(cart=cart, variant=variant)
    assert line.quantity == ADDS


def test_adding_at_once_never_puts_more_than_the_stock_in_one_line():
    cart, variant = CartFactory(), VariantFactory(stock=3)
    results, errors = race(
        ADDS, lambda i: services.add_line(cart=cart, variant=variant, quantity=1)
    )
    assert all(isinstance(error, services.OutOfStock) for error in errors)
    assert len(results) == 3 and len(errors) == ADDS - 3
    assert CartLine.objects.get(cart=cart, variant=variant).quantity == 3
