"""seed_demo for a yuan shop (`SHOP_CURRENCY=CNY make run`): prices as shops in China write
them, shipping in yuan, and parcels with a timeline on the order page right away. The whole
command is run by test_commands.py; here its pieces, fast."""

from decimal import Decimal

import pytest

from catalog.demo import local_price
from orders import services
from orders.models import ShippingMethod, TrackingEvent
from orders.tests.factories import order_of
from payments.demo import ship_demo_parcels


@pytest.mark.parametrize(
    ("dollars", "yuan"),
    [("8.00", "59"), ("15.00", "109"), ("39.99", "279"), ("180.00", "1299"), ("1400", "9899")],
)
def test_a_yuan_shop_prices_in_whole_yuan_ending_in_nine(settings, dollars, yuan):
    settings.SHOP_CURRENCY = "CNY"
    assert local_price(Decimal(dollars)) == Decimal(yuan)
    settings.SHOP_CURRENCY = "USD"
    assert local_price(Decimal(dollars)) == Decimal(dollars)


@pytest.mark.django_db
def test_a_yuan_shops_demo_shipping_is_in_yuan(settings):
    settings.SHOP_CURRENCY = "CNY"
    assert services.ensure_demo_shipping_methods() == 2
    standard, express = ShippingMethod.objects.order_by("position")
    assert (standard.price, standard.free_above, express.price) == (
        Decimal("8.00"),
        Decimal("99.00"),
        Decimal("23.00"),
    )
    assert standard.name_zh_hans == "标准快递"


@pytest.mark.django_db
def test_demo_parcels_show_a_timeline_at_once():
    for _i in range(3):
        order, _variant = order_of(1)
        services.record_payment(order=order, amount=order.total)
    shipped = ship_demo_parcels()
    assert len(shipped) == 2
    first, second = (order.shipments.get() for order in shipped)
    # Shipped an hour ago: delivered, waiting for the shopper; two minutes ago: on its way.
    assert first.delivered_at is not None and second.delivered_at is None
    assert TrackingEvent.objects.filter(shipment=second).exists()
    assert ship_demo_parcels() == []  # once
