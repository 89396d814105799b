"""Refunds give back exactly the tax of what they refund, and each refund of an invoiced order
gets a credit note (issue 15): numbered without gaps, as a page and a PDF for the shopper and
the merchant."""

import shutil
import subprocess
from decimal import Decimal

import pytest
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from catalog.tests.factories import VariantFactory
from orders import documents, services
from orders.models import CreditNote, Order, OrderRefundLine
from orders.selectors import guest_key
from orders.tests.factories import ShippingMethodFactory, cart_with, place
from orders.tests.test_taxes import FRANCE, _two_rate_cart, germany  # noqa: F401 (a fixture)

#: Every test runs in the German shop of test_taxes (prices include VAT, France taxed).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("germany")]
ZERO = Decimal("0.00")
D = Decimal

#: The credit note page: session, order (with invoice), credit note with its refund, refund
#: lines with their order lines, tax rows; the same for any number of lines.
CREDIT_NOTE_BUDGET = 6


def _paid_two_rate_order():
    """Shirt 119.00 (VAT 20 %: 99.17 + 19.83), 2 books 42.80 (5.5 %: 40.57 + 2.23), shipping
    5.95 (20 %: 4.96 + 0.99), shipped to France from a German shop; paid, so invoiced."""
    order = place(_two_rate_cart(), method=ShippingMethodFactory(price=D("5.95")), address=FRANCE)
    services.record_payment(order=order, amount=order.total)
    return order


def _refund(order, *, quantities=None, shipping=ZERO):
    plan = services.plan_refund(
        order=Order.objects.get(pk=order.pk), quantities=quantities or {}, shipping=shipping
    )
    with transaction.atomic():
        return services.refund_lines(plan=plan)


def _lines(order):
    shirt = order.lines.get(quantity=1)
    book = order.lines.get(quantity=2)
    return shirt, book


def test_a_partial_refund_of_a_two_rate_order_gives_back_exactly_its_tax():
    order = _paid_two_rate_order()
    shirt, book = _lines(order)
    refund = _refund(order, quantities={shirt.pk: 1, book.pk: 1})
    rows = {row.line_id: row for row in refund.lines.all()}
    assert (rows[shirt.pk].net, rows[shirt.pk].tax, rows[shirt.pk].amount) == (
        D("99.17"),
        D("19.83"),
        D("119.00"),
    )
    assert (rows[book.pk].net, rows[book.pk].tax, rows[book.pk].amount) == (
        D("20.28"),
        D("1.12"),
        D("21.40"),
    )
    assert refund.tax == D("20.95") and refund.amount == D("140.40")


def test_refunding_every_unit_in_steps_gives_back_exactly_the_lines_tax():
    order = _paid_two_rate_order()
    _shirt, book = _lines(order)
    _refund(order, quantities={book.pk: 1})
    _refund(order, quantities={book.pk: 1})
    rows = OrderRefundLine.objects.filter(line=book)
    assert [row.tax for row in rows] == [D("1.12"), D("1.11")]
    assert sum(row.tax for row in rows) == book.tax
    assert sum(row.net for row in rows) == book.net
    assert sum(row.amount for row in rows) == book.total


def test_refunded_shipping_gives_back_its_share_of_the_shipping_tax():
    order = _paid_two_rate_order()
    assert order.shipping_tax == D("0.99")
    first = _refund(order, shipping=D("2.00"))
    second = _refund(order, shipping=D("3.95"))
    assert (first.shipping_tax, second.shipping_tax) == (D("0.33"), D("0.66"))
    assert first.tax == D("0.33") and first.shipping_tax + second.shipping_tax == D("0.99")


def test_each_refund_of_an_invoiced_order_gets_a_credit_note_numbered_without_gaps():
    order = _paid_two_rate_order()
    shirt, book = _lines(order)
    first = _refund(order, quantities={book.pk: 1})
    second = _refund(order, quantities={shirt.pk: 1}, shipping=D("5.95"))
    numbers = list(CreditNote.objects.values_list("number", "refund_id", "invoice_number"))
    assert numbers == [
        ("CN-000001", first.pk, "INV-000001"),
        ("CN-000002", second.pk, "INV-000001"),
    ]
    note = first.credit_note
    assert note.seller["name"] == "Beispiel GmbH" and note.buyer["name"] == "Marie Curie"


def test_a_refund_of_an_order_never_invoiced_needs_no_credit_note():
    order = place(cart_with((VariantFactory(price=D("5.00")), 2)), address=FRANCE)
    services.record_payment(order=order, amount=D("6.00"))  # part paid: no invoice
    _refund(order, quantities={order.lines.get().pk: 1})
    assert not CreditNote.objects.exists()


def test_a_rolled_back_refund_gives_its_credit_note_number_back():
    order = _paid_two_rate_order()
    shirt, book = _lines(order)
    plan = services.plan_refund(order=order, quantities={book.pk: 1})
    with pytest.raises(RuntimeError), transaction.atomic():
        services.refund_lines(plan=plan)
        raise RuntimeError("the provider refused the refund")
    _refund(order, quantities={shirt.pk: 1})
    assert CreditNote.objects.get().number == "CN-000001"


def _url(credit_note, name="orders:credit-note", key=True):
    url = reverse(
        name, kwargs={"number": credit_note.order.number, "credit_note": credit_note.number}
    )
    return f"{url}?key={guest_key(number=credit_note.order.number)}" if key else url


def test_the_credit_note_page_lists_what_was_refunded_with_its_tax_by_rate(
    client, django_assert_max_num_queries
):
    order = _paid_two_rate_order()
    shirt, book = _lines(order)
    note = _refund(order, quantities={shirt.pk: 1, book.pk: 1}, shipping=D("5.95")).credit_note
    with django_assert_max_num_queries(CREDIT_NOTE_BUDGET):
        page = client.get(_url(note))
    assert page.status_code == 200
    html = page.content.decode().replace("\xa0", " ")
    assert "Credit note CN-000001 for invoice INV-000001" in html
    for wanted in ["VAT 20 %", "VAT 5.5 %", "-€20.82", "-€1.12", "-€21.94", "-€146.35"]:
        assert wanted in html, wanted
    detail = client.get(f"{order.get_absolute_url()}?key={guest_key(number=order.number)}")
    assert _url(note).replace("&", "&amp;") in detail.content.decode()


def test_a_credit_note_is_shown_only_to_its_shopper(client):
    order = _paid_two_rate_order()
    note = _refund(order, quantities={_lines(order)[1].pk: 1}).credit_note
    for name in ("orders:credit-note", "orders:credit-note-pdf"):
        assert client.get(_url(note, name, key=False)).status_code == 404
        assert client.get(_url(note, name, key=False) + "?key=forged").status_code == 404
    other = reverse("orders:credit-note", kwargs={"number": order.number, "credit_note": "CN-9"})
    assert client.get(f"{other}?key={guest_key(number=order.number)}").status_code == 404


def test_the_credit_note_pdf_downloads_within_budget(client, django_assert_max_num_queries):
    order = _paid_two_rate_order()
    note = _refund(order, quantities={_lines(order)[1].pk: 1}).credit_note
    with django_assert_max_num_queries(CREDIT_NOTE_BUDGET):
        response = client.get(_url(note, "orders:credit-note-pdf"))
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert 'filename="CN-000001.pdf"' in response["Content-Disposition"]


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs pdftotext (poppler-utils)")
def test_the_credit_note_pdf_reads_back_with_its_numbers_and_tax(client, tmp_path):
    order = _paid_two_rate_order()
    shirt, book = _lines(order)
    note = _refund(order, quantities={shirt.pk: 1, book.pk: 1}).credit_note
    path = tmp_path / "credit-note.pdf"
    path.write_bytes(client.get(_url(note, "orders:credit-note-pdf")).content)
    text = subprocess.run(
        [shutil.which("pdftotext"), "-layout", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.replace("\xa0", " ")
    expected = ["Credit note CN-000001 for invoice INV-000001", order.number, "Beispiel GmbH"]
    expected += ["Marie Curie", "VAT 20 %", "VAT 5.5 %", "€19.83", "€1.12", "€140.40"]
    for wanted in expected:
        assert wanted in text, wanted


def test_the_merchant_prints_and_downloads_credit_notes_from_the_admin(admin_client):
    order = _paid_two_rate_order()
    note = _refund(order, quantities={_lines(order)[1].pk: 1}).credit_note
    change = admin_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    page_url = reverse("admin:orders_order_credit_note", args=[order.pk, note.pk])
    pdf_url = reverse("admin:orders_order_credit_note_pdf", args=[order.pk, note.pk])
    assert page_url in change.content.decode() and pdf_url in change.content.decode()
    page = admin_client.get(page_url)
    assert page.status_code == 200 and "CN-000001" in page.content.decode()
    pdf = admin_client.get(pdf_url)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    other = reverse("admin:orders_order_credit_note", args=[order.pk, note.pk + 1])
    assert admin_client.get(other).status_code == 404


def test_the_credit_note_reads_in_simplified_chinese():
    order = _paid_two_rate_order()
    note = _refund(order, quantities={_lines(order)[1].pk: 1}).credit_note
    with translation.override("zh-hans"):
        html = render_to_string(
            "orders/_credit_note_document.html",
            documents.credit_note_context(documents.credit_note_of(order, number=note.number)),
        )
    assert "发票 INV-000001 的贷项通知单 CN-000001" in html and "贷记合计" in html
