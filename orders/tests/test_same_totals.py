"""The shopper sees one set of numbers from the cart to the invoice (issue "Promotions")."""

from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.tests.factories import VariantFactory
from orders.models import Order
from orders.selectors import guest_key
from orders.tests.factories import ShippingMethodFactory
from orders.tests.test_views import add, details, review_fields
from promotions.tests.factories import CouponFactory


@pytest.mark.django_db
def test_cart_checkout_order_and_invoice_show_the_same_discounted_total(client):
    # 3 x 19.99 = 59.97; 15% off = 8.9955 -> 9.00 (half up); + 4.95 shipping = 55.92
    variant = VariantFactory(price=Decimal("19.99"), stock=10)
    method = ShippingMethodFactory(price=Decimal("4.95"))
    CouponFactory(code="SPRING15", value=Decimal("15.00"))
    add(client, variant, 3)
    client.post(reverse("cart:coupon"), {"code": "spring15"})
    cart = client.get(reverse("cart:detail")).content.decode()
    assert "-$9.00" in cart
    assert "$50.97" in cart  # before shipping, which the cart does not know yet

    checkout = client.get(reverse("orders:checkout")).content.decode()
    assert 'value="spring15"' in checkout  # the cart's coupon comes along, as typed
    details(client, method, coupon_code="spring15")
    fields, review = review_fields(client)
    assert "-$9.00" in review and "$55.92" in review
    client.post(reverse("orders:place"), fields)

    order = Order.objects.get()
    assert (order.subtotal, order.discount, order.shipping, order.total) == (
        Decimal("59.97"),
        Decimal("9.00"),
        Decimal("4.95"),
        Decimal("55.92"),
    )
    key = {"key": guest_key(number=order.number)}
    page = client.get(reverse("orders:detail", kwargs={"number": order.number}), key)
    invoice = client.get(reverse("orders:invoice", kwargs={"number": order.number}), key)
    for html in (page.content.decode(), invoice.content.decode()):
        assert "-$9.00" in html or "$9.00" in html
        assert "$55.92" in html
