"""Invoice and credit note numbers stay gap-free under concurrent payments and refunds
(PostgreSQL, threads with their own connections around a barrier).

Control: with the counter read without select_for_update (orders.locks.counter_for_update),
concurrent payments read the same last number and all but one fail on the unique sequence,
or, without that constraint, share a number."""

from decimal import Decimal

import pytest
from django.db import connection, transaction

from catalog.tests.factories import VariantFactory
from orders import services
from orders.models import CreditNote, Invoice, Order
from orders.tests.factories import cart_with, place
from orders.tests.test_concurrency import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PAYMENTS = 50


@pytest.fixture(autouse=True)
def _postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run with DATABASE_URL=postgres://...)")


def test_fifty_concurrent_payments_get_invoice_numbers_one_to_fifty():
    variant = VariantFactory(price=Decimal("10.00"), stock=PAYMENTS)
    orders = [place(cart_with((variant, 1))) for _ in range(PAYMENTS)]

    def pay(index):
        order = Order.objects.get(pk=orders[index].pk)
        return services.record_payment(order=order, amount=order.total).number

    results, errors = race(PAYMENTS, pay)
    assert errors == [] and len(results) == PAYMENTS
    sequences = sorted(Invoice.objects.values_list("sequence", flat=True))
    assert sequences == list(range(1, PAYMENTS + 1))
    assert Invoice.objects.values("order").distinct().count() == PAYMENTS


#: Twenty refunds at once: enough to queue on the counter, few enough to stay quick.
REFUNDS = 20


def test_concurrent_refunds_get_credit_note_numbers_without_gaps():
    # A variant each: refunds restocking one variant would queue on its row, not the counter.
    orders = [place(cart_with((VariantFactory(price=Decimal("10.00")), 1))) for _ in range(REFUNDS)]
    for order in orders:
        services.record_payment(order=order, amount=order.total)

    def refund(index):
        order = Order.objects.get(pk=orders[index].pk)
        plan = services.plan_refund(order=order, quantities={order.lines.get().pk: 1})
        with transaction.atomic():
            return services.refund_lines(plan=plan).pk

    results, errors = race(REFUNDS, refund)
    assert errors == [] and len(results) == REFUNDS
    sequences = sorted(CreditNote.objects.values_list("sequence", flat=True))
    assert sequences == list(range(1, REFUNDS + 1))
