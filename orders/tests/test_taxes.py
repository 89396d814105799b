"""Taxes on orders (issue 15): the snapshot, the fingerprint, business buyers, fapiao requests,
invoices numbered when paid, printable and as a PDF."""

import re
import shutil
import subprocess
from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse

from accounts.tests.factories import UserFactory
from catalog.tests.factories import ProductFactory, VariantFactory
from orders import services
from orders.errors import PriceChanged
from orders.models import FapiaoRequest, Invoice, Order, OrderLine
from orders.selectors import guest_key
from orders.tests.factories import ShippingMethodFactory, cart_with, place
from orders.tests.test_views import add, details, review_fields
from taxes.calculation import split_refund
from taxes.models import TaxClass, TaxRate
from taxes.tests.factories import TaxClassFactory, rates

pytestmark = pytest.mark.django_db
D = Decimal

#: The order page: session, user, order (with invoice and fapiao), lines, tax rows,
#: discounts, events with actors, shipments; a constant for any number of lines.
ORDER_BUDGET = 10
#: The invoice page: the same reads as the order page.
INVOICE_BUDGET = 10

FRANCE = services.ShippingAddress(
    full_name="Marie Curie",
    line1="1 rue Pierre et Marie Curie",
    city="Paris",
    postcode="75005",
    country="FR",
)
CHINA = services.ShippingAddress(
    full_name="李雷", line1="建国门外大街 1 号", city="北京", region="北京市", postcode="100004",
    country="CN",
)  # fmt: skip


@pytest.fixture
def germany(settings):
    """A German shop: prices include VAT; France and Germany taxed."""
    settings.TAX_PRICES_INCLUDE_TAX = True
    settings.TAX_SELLER_COUNTRY = "DE"
    settings.SELLER_NAME = "Beispiel GmbH"
    settings.SELLER_ADDRESS = "Hauptstraße 1|10115 Berlin|Germany"
    settings.SELLER_TAX_ID = "DE136695976"
    settings.SHOP_CURRENCY = "EUR"
    rates(
        ("DE", "", "standard", "19"),
        ("DE", "", "reduced", "7"),
        ("FR", "", "standard", "20"),
        ("FR", "", "reduced", "5.5"),
        ("GB", "", "standard", "20"),
    )


@pytest.fixture
def us(settings):
    settings.TAX_PRICES_INCLUDE_TAX = False
    settings.TAX_SELLER_COUNTRY = "US"
    settings.TAX_SELLER_REGION = "CA"
    rates(("US", "CA", "standard", "7.25", "Sales tax"), ("US", "NY", "standard", "4", "Sales tax"))


def _two_rate_cart():
    standard = TaxClassFactory(code="standard")
    reduced = TaxClassFactory(code="reduced")
    shirt = VariantFactory(
        product=ProductFactory(variants=False, tax_class=standard), price=D("119.00")
    )
    book = VariantFactory(
        product=ProductFactory(variants=False, tax_class=reduced), price=D("21.40")
    )
    return cart_with((shirt, 1), (book, 2))


def test_the_order_snapshots_each_lines_net_tax_gross_rate_and_class(germany):
    method = ShippingMethodFactory(price=D("5.95"))
    order = place(_two_rate_cart(), method=method, address=FRANCE)
    shirt, book = order.lines.all()
    # France: 119.00 x 20/120 = 19.83; 42.80 x 5.5/105.5 = 2.23; shipping 5.95 x 20/120 = 0.99.
    assert (shirt.net, shirt.tax, shirt.total, shirt.tax_rate) == (
        D("99.17"),
        D("19.83"),
        D("119.00"),
        D("20"),
    )
    assert (book.net, book.tax, book.total, book.tax_rate) == (
        D("40.57"),
        D("2.23"),
        D("42.80"),
        D("5.5"),
    )
    # The classes' names as the shop has them (a flushed test database lost the migration's).
    names = dict(TaxClass.objects.values_list("code", "name"))
    assert (shirt.tax_class, book.tax_class) == (names["standard"], names["reduced"])
    assert (order.total, order.tax, order.shipping_tax) == (D("167.75"), D("23.05"), D("0.99"))
    assert order.prices_include_tax and order.tax_country == "FR"
    rows = [(row.rate, row.net, row.tax) for row in order.tax_lines.all()]
    assert rows == [(D("20"), D("104.13"), D("20.82")), (D("5.5"), D("40.57"), D("2.23"))]
    assert sum(row[2] for row in rows) == order.tax
    # Nothing is worked out again from today's rates.
    TaxRate.objects.filter(country="FR").update(rate=D("25"))
    order.refresh_from_db()
    assert order.tax == D("23.05") and OrderLine.objects.get(pk=shirt.pk).tax == D("19.83")


def test_a_rate_changed_between_review_and_placing_is_caught(germany):
    cart = _two_rate_cart()
    method = ShippingMethodFactory()
    quote = services.quote_checkout(
        cart=cart, user=None, email="a@example.com", country="FR", shipping_method=method
    )
    rate = TaxRate.objects.get(country="FR", tax_class__code="standard")
    rate.rate = D("21")
    rate.save()  # the cached table follows (taxes.receivers)
    with pytest.raises(PriceChanged):
        services.place_order(
            cart=cart,
            user=None,
            email="a@example.com",
            address=FRANCE,
            shipping_method_id=method.pk,
            payment_method="manual",
            idempotency_key=services.new_idempotency_key(),
            fingerprint=quote.fingerprint,
        )
    assert not Order.objects.exists()


def test_a_french_business_pays_no_german_vat_and_the_order_says_reverse_charge(germany):
    cart = _two_rate_cart()
    method = ShippingMethodFactory(price=D("0.00"))
    buyer = services.Buyer(company="Curie SARL", vat_number="FR 40 303 265 045")
    quote = services.quote_checkout(
        cart=cart,
        user=None,
        email="a@example.com",
        country="FR",
        vat_number=buyer.vat_number,
        shipping_method=method,
    )
    order = services.place_order(
        cart=cart,
        user=None,
        email="a@example.com",
        address=FRANCE,
        shipping_method_id=method.pk,
        payment_method="manual",
        idempotency_key=services.new_idempotency_key(),
        fingerprint=quote.fingerprint,
        buyer=buyer,
    )
    # 119.00 / 1.19 = 100.00; 42.80 / 1.07 = 40.00.
    assert order.reverse_charge and order.buyer_vat_number == "FR40303265045"
    assert (order.tax, order.tax_removed, order.total) == (D("0.00"), D("21.80"), D("140.00"))
    assert [line.total for line in order.lines.all()] == [D("100.00"), D("40.00")]


def test_us_sales_tax_is_added_for_the_address_state(us):
    variant = VariantFactory(price=D("20.00"))
    order = place(
        cart_with((variant, 2)),
        method=ShippingMethodFactory(price=D("5.00")),
        address=services.ShippingAddress(
            full_name="Ada",
            line1="1 Main St",
            city="Albany",
            region="New York",
            postcode="12207",
            country="US",
        ),
    )
    # 45.00 x 4 % = 1.80 (lines 1.60, shipping 0.20).
    assert (order.subtotal, order.tax, order.total) == (D("40.00"), D("1.80"), D("46.80"))
    line = order.lines.get()
    assert (line.net, line.tax, line.total) == (D("40.00"), D("1.60"), D("41.60"))


def test_a_partial_refund_gives_back_exactly_its_tax(germany):
    order = place(_two_rate_cart(), address=FRANCE)
    book = order.lines.get(quantity=2)  # 42.80 = 40.57 + 2.23
    first = split_refund(net=book.net, tax=book.tax, gross=book.total, units=1, quantity=2)
    second = split_refund(
        net=book.net, tax=book.tax, gross=book.total, units=1, quantity=2, units_refunded_before=1
    )
    assert (first.gross, first.tax) == (D("21.40"), D("1.12"))
    assert (second.gross, second.tax) == (D("21.40"), D("1.11"))
    assert first.tax + second.tax == book.tax


# --- Invoices ---------------------------------------------------------------------------


def _paid(order):
    return services.record_payment(order=order, amount=order.total)


def test_paying_issues_invoices_numbered_without_gaps_once_per_order(germany):
    orders = [place(cart_with((VariantFactory(), 1)), address=FRANCE) for _ in range(3)]
    for order in orders:
        _paid(order)
    numbers = list(Invoice.objects.order_by("sequence").values_list("number", flat=True))
    assert numbers == ["INV-000001", "INV-000002", "INV-000003"]
    invoice = services.issue_invoice(order=orders[0])
    assert invoice.number == "INV-000001" and Invoice.objects.count() == 3
    assert invoice.seller["name"] == "Beispiel GmbH" and invoice.seller["tax_id"] == "DE136695976"
    assert invoice.buyer["name"] == "Marie Curie"


def test_a_part_payment_issues_no_invoice(germany):
    order = place(cart_with((VariantFactory(price=D("50.00")), 1)), address=FRANCE)
    services.record_payment(order=order, amount=D("10.00"))
    assert not Invoice.objects.exists()


def test_a_rolled_back_payment_gives_its_invoice_number_back(germany):
    first = place(cart_with((VariantFactory(), 1)), address=FRANCE)
    second = place(cart_with((VariantFactory(), 1)), address=FRANCE)
    with pytest.raises(RuntimeError), transaction.atomic():
        _paid(first)
        raise RuntimeError("the payment's transaction failed")
    _paid(second)
    assert Invoice.objects.get().number == "INV-000001"


def _order_url(order, name="orders:detail"):
    return f"{reverse(name, kwargs={'number': order.number})}?key={guest_key(number=order.number)}"


@pytest.mark.parametrize("lines", [1, 20])
def test_order_and_invoice_pages_stay_within_budget(
    client, germany, lines, django_assert_max_num_queries
):
    variants = [(VariantFactory(), 1) for _ in range(lines)]
    order = place(cart_with(*variants), address=FRANCE)
    _paid(order)
    with django_assert_max_num_queries(ORDER_BUDGET):
        page = client.get(_order_url(order))
    assert page.status_code == 200
    with django_assert_max_num_queries(INVOICE_BUDGET):
        invoice = client.get(_order_url(order, "orders:invoice"))
    with django_assert_max_num_queries(INVOICE_BUDGET):
        assert client.get(_order_url(order, "orders:invoice-pdf")).status_code == 200
    html = invoice.content.decode().replace("\xa0", " ")
    assert "INV-000001" in html and "Beispiel GmbH" in html and "Tax by rate" in html
    assert "VAT 20 %" in html


def test_the_order_page_shows_vat_included_by_rate(client, germany):
    order = place(_two_rate_cart(), address=FRANCE)
    html = client.get(_order_url(order)).content.decode().replace("\xa0", " ")
    assert "incl. VAT 20 %" in html and "incl. VAT 5.5 %" in html
    assert "Pro forma invoice" in html and "invoice.pdf" not in html


def test_the_pdf_is_downloaded_only_once_issued_and_only_by_its_shopper(client, germany):
    order = place(cart_with((VariantFactory(price=D("119.00")), 1)), address=FRANCE)
    pdf_url = _order_url(order, "orders:invoice-pdf")
    assert client.get(pdf_url).status_code == 404  # not paid: no invoice yet
    _paid(order)
    stranger = reverse("orders:invoice-pdf", kwargs={"number": order.number})
    assert client.get(stranger).status_code == 404
    assert client.get(stranger + "?key=forged").status_code == 404
    response = client.get(pdf_url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert 'filename="INV-000001.pdf"' in response["Content-Disposition"]


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs pdftotext (poppler-utils)")
def test_the_pdf_reads_back_with_its_number_parties_and_tax_by_rate(client, germany, tmp_path):
    order = place(_two_rate_cart(), method=ShippingMethodFactory(price=D("5.95")), address=FRANCE)
    _paid(order)
    path = tmp_path / "invoice.pdf"
    path.write_bytes(client.get(_order_url(order, "orders:invoice-pdf")).content)
    text = subprocess.run(
        [shutil.which("pdftotext"), "-layout", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.replace("\xa0", " ")
    expected = ["Invoice", "INV-000001", order.number, "Beispiel GmbH", "DE136695976"]
    expected += ["Marie Curie", "VAT 20 %", "VAT 5.5 %", "€20.82", "€2.23", "€167.75"]
    for wanted in expected:
        assert wanted in text, wanted


def test_a_signed_in_shopper_reaches_their_invoice_and_nobody_elses(client, germany):
    owner = UserFactory()
    order = place(cart_with((VariantFactory(), 1)), address=FRANCE, user=owner)
    _paid(order)
    client.force_login(UserFactory())
    assert client.get(reverse("orders:invoice", kwargs={"number": order.number})).status_code == 404
    client.force_login(owner)
    assert (
        client.get(reverse("orders:invoice-pdf", kwargs={"number": order.number})).status_code
        == 200
    )


def test_mails_list_the_tax_by_rate(germany, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        place(_two_rate_cart(), address=FRANCE)
    assert "incl. VAT 20 %" in mail.outbox[0].body.replace(
        "\xa0", " "
    ) and "incl. VAT 5.5 %" in mail.outbox[0].body.replace("\xa0", " ")


def test_a_us_mail_adds_sales_tax_before_the_total(us, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        place(
            cart_with((VariantFactory(price=D("100.00")), 1)),
            method=ShippingMethodFactory(price=D("0.00")),
            address=services.ShippingAddress(
                full_name="Ada",
                line1="1 Main St",
                city="LA",
                region="CA",
                postcode="90001",
                country="US",
            ),
        )
    assert re.search(
        r"Sales tax 7.25 %: \$7.25\nTotal: \$107.25", mail.outbox[0].body.replace("\xa0", " ")
    )


# --- Checkout: business buyers and fapiao --------------------------------------------------

FRENCH_ADDRESS = {
    "ship-full_name": "Marie Curie",
    "ship-phone": "+33142345678",
    "ship-line1": "1 rue Pierre et Marie Curie",
    "ship-city": "Paris",
    "ship-postcode": "75005",
    "ship-country": "FR",
}


def test_a_wrong_vat_number_is_explained_and_nothing_typed_is_lost(client, germany):
    add(client, VariantFactory())
    method = ShippingMethodFactory()
    response = details(
        client, method, **FRENCH_ADDRESS, company="Curie SARL", vat_number="FR40303265046"
    )
    assert response.status_code == 400
    html = response.content.decode().replace("\xa0", " ")
    assert "check digits are wrong" in html
    assert 'value="Curie SARL"' in html and 'value="FR40303265046"' in html
    assert '<details class="card checkout-section checkout-business" open>' in html


def test_a_vat_number_outside_the_eu_address_is_refused(client, germany):
    add(client, VariantFactory())
    response = details(client, ShippingMethodFactory(), vat_number="DE136695976")  # a GB address
    assert response.status_code == 400
    assert "applies to addresses in the EU" in response.content.decode().replace("\xa0", " ")


def test_the_review_page_shows_the_reverse_charge_before_placing(client, germany):
    add(client, VariantFactory(price=D("119.00")))
    method = ShippingMethodFactory(price=D("0.00"))
    response = details(client, method, **FRENCH_ADDRESS, vat_number="FR40303265045")
    assert response.status_code == 302
    fields, html = review_fields(client)
    html = html.replace("\xa0", " ")
    assert "VAT not charged (reverse charge)" in html and "€100.00" in html
    assert "Reverse charge: no VAT is charged." in html
    client.post(reverse("orders:place"), fields)
    order = Order.objects.get()
    assert order.reverse_charge and order.total == D("100.00")


def test_the_review_page_shows_the_addresss_rates(client, germany):
    add(client, VariantFactory(price=D("120.00")))
    details(client, ShippingMethodFactory(price=D("0.00")), **FRENCH_ADDRESS)
    _fields, html = review_fields(client)
    html = html.replace("\xa0", " ")
    assert "incl. VAT 20 %" in html and "€20.00" in html and "Tax for delivery to France" in html


@pytest.fixture
def china(settings):
    settings.TAX_PRICES_INCLUDE_TAX = True
    settings.TAX_SELLER_COUNTRY = "CN"
    settings.FAPIAO_ENABLED = True
    settings.SHOP_CURRENCY = "CNY"
    rates(("CN", "", "standard", "13", "增值税"), ("CN", "", "reduced", "9", "增值税"))


CHINESE_ADDRESS = {
    "ship-full_name": "李雷",
    "ship-phone": "+8613800138000",
    "ship-line1": "建国门外大街 1 号",
    "ship-city": "北京",
    "ship-region": "北京市",
    "ship-postcode": "100004",
    "ship-country": "CN",
}


def test_a_company_fapiao_needs_a_valid_taxpayer_number(client, china):
    add(client, VariantFactory())
    method = ShippingMethodFactory()
    response = details(
        client, method, **CHINESE_ADDRESS, fapiao_kind="company", fapiao_title="示例科技有限公司",
        fapiao_taxpayer_number="91110000600037341X",
    )  # fmt: skip
    assert response.status_code == 400
    assert "18-character taxpayer number" in response.content.decode().replace("\xa0", " ")
    response = details(client, method, fapiao_kind="personal", fapiao_title="Grace")  # GB address
    assert "mainland China only" in response.content.decode().replace("\xa0", " ")
    response = details(client, method, **CHINESE_ADDRESS, fapiao_kind="personal")
    assert "Enter the fapiao’s title" in response.content.decode().replace("\xa0", " ")


def test_a_fapiao_request_is_placed_with_the_order_and_shown_on_its_page(
    client, china, admin_client
):
    add(client, VariantFactory(price=D("113.00")))
    details(
        client, ShippingMethodFactory(price=D("0.00")), **CHINESE_ADDRESS, fapiao_kind="company",
        fapiao_title="示例科技有限公司", fapiao_taxpayer_number="91110000600037341L",
    )  # fmt: skip
    fields, html = review_fields(client)
    html = html.replace("\xa0", " ")
    assert "示例科技有限公司" in html and "incl. 增值税 13 %" in html
    client.post(reverse("orders:place"), fields)
    order = Order.objects.get()
    fapiao = order.fapiao
    assert (fapiao.kind, fapiao.taxpayer_number, fapiao.status) == (
        "company",
        "91110000600037341L",
        "requested",
    )
    assert order.tax == D("13.00")
    page = client.get(_order_url(order)).content.decode().replace("\xa0", " ")
    assert "Requested: we issue it once the order is paid." in page

    # The merchant finds it with the filter and records the number.
    listing = admin_client.get(reverse("admin:orders_order_changelist"), {"fapiao": "requested"})
    assert order.number in listing.content.decode().replace("\xa0", " ")
    url = reverse("admin:orders_fapiaorequest_change", args=[fapiao.pk])
    assert admin_client.post(url, {"issue_number": ""}).status_code == 200  # a message, no change
    response = admin_client.post(url, {"issue_number": "044031900111 12345678"})
    assert response.status_code == 302
    fapiao.refresh_from_db()
    assert (fapiao.status, fapiao.number) == ("issued", "044031900111 12345678")
    assert fapiao.issued_by is not None
    page = client.get(_order_url(order)).content.decode().replace("\xa0", " ")
    assert "number 044031900111 12345678" in page
    assert FapiaoRequest.objects.filter(status="issued").count() == 1


def test_the_merchant_prints_and_downloads_the_invoice_from_the_admin(admin_client, germany):
    order = place(cart_with((VariantFactory(), 1)), address=FRANCE)
    change = (
        admin_client.get(reverse("admin:orders_order_change", args=[order.pk]))
        .content.decode()
        .replace("\xa0", " ")
    )
    assert "Pro forma invoice" in change
    _paid(order)
    change = (
        admin_client.get(reverse("admin:orders_order_change", args=[order.pk]))
        .content.decode()
        .replace("\xa0", " ")
    )
    assert "INV-000001" in change
    page = admin_client.get(reverse("admin:orders_order_invoice", args=[order.pk]))
    assert page.status_code == 200 and "INV-000001" in page.content.decode().replace("\xa0", " ")
    pdf = admin_client.get(reverse("admin:orders_order_invoice_pdf", args=[order.pk]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert admin_client.get(reverse("admin:orders_order_invoice", args=[999999])).status_code == 404
    listing = admin_client.get(reverse("admin:orders_invoice_changelist"))
    assert "INV-000001" in listing.content.decode().replace("\xa0", " ")


@pytest.mark.parametrize("count", [1, 20])
def test_the_fapiao_request_list_queries_do_not_grow(
    admin_client, china, count, django_assert_max_num_queries
):
    for _i in range(count):
        order = place(cart_with((VariantFactory(), 1)), address=CHINA)
        FapiaoRequest.objects.create(order=order, kind="personal", title="李雷")
    url = reverse("admin:orders_fapiaorequest_changelist")
    with django_assert_max_num_queries(6):
        response = admin_client.get(url, {"status": "requested"})
    assert response.status_code == 200 and response.content.decode().count("李雷") >= count
