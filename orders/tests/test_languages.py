"""Shipping methods in the shopper's language (the merchant translates them in the admin)."""

import re
from decimal import Decimal

import pytest

from catalog.tests.factories import VariantFactory
from orders.tests.factories import ShippingMethodFactory
from orders.tests.test_views import CHECKOUT_BUDGET, add

pytestmark = pytest.mark.django_db


def test_checkout_names_shipping_methods_in_chinese_or_else_in_english(
    client, django_assert_max_num_queries
):
    ShippingMethodFactory(
        name="Standard",
        name_zh_hans="标准快递",
        delivery_estimate="3–5 working days",
        delivery_estimate_zh_hans="3–5 个工作日",
        price=Decimal("4.95"),
    )
    ShippingMethodFactory(name="Courier", price=Decimal("12.00"))
    add(client, VariantFactory(price=Decimal("20.00")))
    with django_assert_max_num_queries(CHECKOUT_BUDGET):
        response = client.get("/zh-hans/checkout/")
    text = re.sub(r"<[^>]+>", " ", response.content.decode())
    assert "标准快递" in text and "3–5 个工作日" in text and "US$4.95" in text
    assert "Standard" not in text
    assert "Courier" in text  # no Chinese name: the English one
    english = client.get("/checkout/").content.decode()
    assert "Standard" in english and "标准快递" not in english
