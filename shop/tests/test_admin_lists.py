"""Every changelist of every app costs a fixed number of queries, whatever its rows: the
admin joins what its columns show (list_select_related), computes the rest in the list's
own query, and never asks the database once per row.

One shop is built with a few rows of everything, every registered changelist is opened and
its queries counted; then more of everything is added and each list is opened again. A
column that reads a related row per line would make the second count larger.
"""

from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.tests.factories import AddressFactory, UserFactory
from cart.tests.factories import CartFactory, CartLineFactory
from catalog import services as catalog_services
from catalog.models import Specification
from catalog.tests.factories import (
    BrandFactory,
    OptionValueFactory,
    ProductFactory,
    ProductImageFactory,
    TagFactory,
    VariantFactory,
)
from orders.models import FapiaoRequest, ReturnRequest
from orders.tests.factories import cart_with, place
from payments import services as payment_services
from payments.models import PaymentEvent, Refund
from promotions.tests.factories import CouponFactory, MembershipTierFactory, OfferFactory
from reviews.tests.factories import ReviewFactory
from taxes.tests.factories import TaxRateFactory

#: Queries a changelist may make, whatever its rows: the session and the user, the page of
#: rows with what its columns show, the paginator's count, the choices of filters over
#: related tables or distinct values (a few), and a date hierarchy's years. The longest
#: list today needs 7; one row more or less must not change it.
ADMIN_LIST_BUDGET = 8

#: Rows of everything in the first shop, and rows added for the second count.
FEW, MORE = 1, 4

ADMINS = sorted(
    admin.site._registry.items(), key=lambda item: (item[0]._meta.app_label, item[0].__name__)
)


def _add_rows(count: int, *, serial: int) -> None:
    """`count` of every kind of row the admin lists: catalog, customers, carts, orders with
    payments, refunds, returns and fapiao requests, promotions, reviews and tax rates."""
    for n in range(serial, serial + count):
        colour = OptionValueFactory(value=f"Colour {n}")
        product = ProductFactory(name=f"Product {n}", brand=BrandFactory(), variants=False)
        product.tags.add(TagFactory())
        variants = [
            VariantFactory(product=product, option_values=[colour], stock=20) for _ in range(2)
        ]
        Specification.objects.create(product=product, name="Weight", value="1 kg")
        ProductImageFactory(product=product)
        catalog_services.adjust_stock(variant_id=variants[0].pk, delta=-1, reason="correction")
        user = UserFactory()
        AddressFactory(user=user)
        CartLineFactory(cart=CartFactory(user=user), variant=variants[1])
        order = place(cart_with((variants[0], 1)), user=user, email=user.email)
        payment = payment_services.record_manual_payment(order=order, actor=None)
        PaymentEvent.objects.create(provider="sandbox", event_id=f"evt-{n}", payment=payment)
        Refund.objects.create(payment=payment, amount=Decimal("1.00"), reason="test")
        ReturnRequest.objects.create(order=order, reason=ReturnRequest.Reason.DAMAGED)
        FapiaoRequest.objects.create(order=order, kind=FapiaoRequest.Kind.PERSONAL, title="Ada")
        CouponFactory()
        OfferFactory().products.add(product)
        MembershipTierFactory(min_spend=Decimal(1000 + n))
        ReviewFactory(product=product, user=user)
        TaxRateFactory(country=f"D{chr(65 + n % 26)}", valid_from=f"20{10 + n}-01-01")


def _count(client: Client) -> dict[str, tuple[int, int, int]]:
    """Per changelist: (status code, queries, rows listed)."""
    found = {}
    for model, _model_admin in ADMINS:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        # Variants open on the low-stock list; every variant here is in stock: list them all.
        url += "?level=all" if model._meta.model_name == "variant" else ""
        client.get(url)  # warm what every page reads once (session, translations)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        rows = len(response.context["cl"].result_list) if response.status_code == 200 else 0
        found[model._meta.label] = (response.status_code, len(queries), rows)
    return found


class _Measured(Exception):
    def __init__(self, counts):
        super().__init__("rolled back")
        self.counts = counts


@pytest.fixture(scope="module")
def counts(django_db_setup, django_db_blocker, tmp_path_factory):
    """Both counts of every changelist, measured once for the module inside a transaction
    that is rolled back (a shop of this size takes a while to build)."""
    media = tmp_path_factory.mktemp("media")
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media):
        try:
            with transaction.atomic():
                _add_rows(FEW, serial=0)
                client = Client()
                client.force_login(UserFactory(is_staff=True, is_superuser=True))
                few = _count(client)
                _add_rows(MORE, serial=FEW)
                raise _Measured((few, _count(client)))
        except _Measured as measured:
            return measured.counts


# Marked although the counts are taken by the module's fixture: pytest-django sets up the
# test database only for a run holding tests that use it.
@pytest.mark.django_db
@pytest.mark.parametrize(
    "label", [model._meta.label for model, _model_admin in ADMINS], ids=lambda label: label
)
def test_every_changelist_costs_the_same_few_queries_for_few_and_many_rows(counts, label):
    few, many = counts
    status, queries, rows = few[label]
    status_many, queries_many, rows_many = many[label]
    assert (status, status_many) == (200, 200)
    assert queries <= ADMIN_LIST_BUDGET, f"{label}: {queries} queries"
    assert queries_many == queries, (
        f"{label}: {queries} queries for {rows}, {queries_many} for {rows_many}"
    )
