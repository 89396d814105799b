"""The flash sales' schedule, held per version in each process: a saved sale and a changed
price reach every page at once, and a cached page reads it without a round trip of its own."""

import re
from decimal import Decimal

import pytest
from django.test import Client

from catalog import services as catalog_services
from catalog.models import Variant
from promotions import flash
from promotions.tests.test_flash import flash_sale

pytestmark = pytest.mark.django_db


def flash_block(html: str) -> str:
    start = html.find('<section class="flash-block"')
    return html[start : html.find("</section>", start)] if start >= 0 else ""


def published(sale):
    product = sale.variant.product
    product.is_published = True
    product.save()
    return product


def test_a_price_change_reaches_the_flash_block_at_once(client, django_capture_on_commit_callbacks):
    """The block shows the variant's own price struck through beside the flash price: the
    schedule holding it follows the catalog's version, which a price change moves."""
    sale = flash_sale()
    product = published(sale)
    assert re.search(
        r"was </span>\$100\.00",
        flash_block(client.get(product.get_absolute_url()).content.decode()),
    )
    with django_capture_on_commit_callbacks(execute=True):
        Variant.objects.filter(pk=sale.variant_id).update(price=Decimal("80.00"))
        catalog_services.refresh_products(product_ids=[product.pk])
    block = flash_block(client.get(product.get_absolute_url()).content.decode())
    assert re.search(r"was </span>\$80\.00", block) and "$9.90" in block


def test_a_saved_sale_reaches_the_product_page_and_the_header_at_once(
    client, django_capture_on_commit_callbacks
):
    sale = flash_sale(name="Dawn deal")
    product = published(sale)
    home = Client()
    assert "Dawn deal" in client.get(product.get_absolute_url()).content.decode()
    assert 'class="flash-link"' in home.get("/").content.decode()  # the schedule is held
    with django_capture_on_commit_callbacks(execute=True):
        sale.name = "Dusk deal"
        sale.save()
        flash.schedule_changed()  # as the admin does on save
    html = client.get(product.get_absolute_url()).content.decode()
    assert "Dusk deal" in html and "Dawn deal" not in html
    with django_capture_on_commit_callbacks(execute=True):
        sale.delete()
        flash.schedule_changed()
    assert not flash_block(client.get(product.get_absolute_url()).content.decode())
    assert 'class="flash-link"' not in home.get("/").content.decode()


def test_a_schedule_read_before_a_change_commits_is_not_held_after_it(
    django_capture_on_commit_callbacks,
):
    """A process that read the old rows before the commit holds them under the old version,
    which nobody reads after the commit (a deleted key could be written back old)."""
    sale = flash_sale(name="Dawn deal")
    before = flash.schedule()
    with django_capture_on_commit_callbacks(execute=True):
        flash.FlashSale.objects.filter(pk=sale.pk).update(name="Dusk deal")
        assert flash.schedule() is before  # not committed yet: the version stands
        flash.schedule_changed()
    assert [s.name for s in flash.schedule()] == ["Dusk deal"]
