"""A US shop (prices plus sales tax) and a German one (prices incl. VAT) checked out side by
side: product page label, cart estimate, the review page's rates for the address, the order,
its invoice and the PDF read back with pdftotext; axe on every page, screenshots at 1366 and
390 px."""

import shutil
import subprocess
from datetime import date
from decimal import Decimal

import pytest
from PIL import Image
from playwright.sync_api import expect

from catalog.tests.factories import ProductFactory, VariantFactory
from e2e.conftest import ARTIFACTS, PHONE, assert_accessible
from orders import services
from orders.models import Order, ShippingMethod
from orders.selectors import guest_key
from orders.tests.factories import ShippingMethodFactory
from taxes.models import TaxClass, TaxRate

WIDE = {"width": 1366, "height": 900}

MARKETS = {
    "us": {
        "settings": {
            "TAX_PRICES_INCLUDE_TAX": False,
            "TAX_SELLER_COUNTRY": "US",
            "TAX_SELLER_REGION": "CA",
            "SHOP_CURRENCY": "USD",
            "SELLER_NAME": "Example Goods Inc.",
            "SELLER_ADDRESS": "1 Market Street|San Francisco, CA 94105|United States",
            "SELLER_TAX_ID": "EIN 12-3456789",
        },
        "rates": [
            ("US", "CA", "standard", "7.25", "Sales tax"),
            ("US", "NY", "standard", "4", "Sales tax"),
        ],
        "price_note": "plus tax",
        "cart_note": "Tax estimated for California, United States",
        "address": {
            "Country": "US",
            "Full name": "Ada Lovelace",
            "Phone number": "+12125550123",
            "Address line 1": "350 Fifth Avenue",
            "City or town": "New York",
            "State": "NY",
            "ZIP code": "10118",
        },
        # 2 x 25.00 + 5.00 shipping = 55.00; 4 % NY sales tax = 2.20.
        "review": ["Sales tax 4 %", "$2.20", "$57.20"],
        "total": "$57.20",
        "pdf": ["Example Goods Inc.", "Sales tax 4 %", "$2.20", "$57.20", "Ada Lovelace"],
    },
    "de": {
        "settings": {
            "TAX_PRICES_INCLUDE_TAX": True,
            "TAX_SELLER_COUNTRY": "DE",
            "TAX_SELLER_REGION": "",
            "SHOP_CURRENCY": "EUR",
            "SELLER_NAME": "Beispiel GmbH",
            "SELLER_ADDRESS": "Hauptstraße 1|10115 Berlin|Germany",
            "SELLER_TAX_ID": "DE136695976",
        },
        "rates": [("DE", "", "standard", "19", "VAT"), ("DE", "", "reduced", "7", "VAT")],
        "price_note": "incl. VAT",
        "cart_note": "Tax estimated for Germany",
        "address": {
            "Country": "DE",
            "Full name": "Emmy Noether",
            "Phone number": "+4930123456",
            "Address line 1": "Unter den Linden 6",
            "City or town": "Berlin",
            "Postcode": "10117",
        },
        # 2 x 25.00 + 5.00 = 55.00 incl. 19 % VAT = 8.78.
        "review": ["incl. VAT 19 %", "€8.78", "€55.00"],
        "total": "€55.00",
        "pdf": ["Beispiel GmbH", "DE136695976", "VAT 19 %", "€8.78", "€55.00", "Emmy Noether"],
    },
}


def _shop(code: str, market: dict):
    standard, _ = TaxClass.objects.get_or_create(
        code="standard", defaults={"name": "Standard rate"}
    )
    reduced, _ = TaxClass.objects.get_or_create(code="reduced", defaults={"name": "Reduced rate"})
    classes = {"standard": standard, "reduced": reduced}
    for country, region, class_code, rate, name in market["rates"]:
        TaxRate.objects.create(
            country=country,
            region=region,
            tax_class=classes[class_code],
            rate=Decimal(rate),
            name=name,
            valid_from=date(2020, 1, 1),
        )
    product = ProductFactory(name=f"Linen Shirt {code.upper()}", variants=False, tax_class=standard)
    VariantFactory(product=product, price=Decimal("25.00"), stock=10)
    if not ShippingMethod.objects.exists():
        ShippingMethodFactory(name="Standard", price=Decimal("5.00"), delivery_estimate="3–5 days")
    return product


def _shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size(WIDE)
    page.screenshot(path=ARTIFACTS / f"taxes-{name}-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=ARTIFACTS / f"taxes-{name}-phone.png", full_page=True)
    page.set_viewport_size(WIDE)


def _checkout(page, base: str, code: str, market: dict, product) -> Order:
    page.set_viewport_size(WIDE)
    page.goto(base + product.get_absolute_url())
    expect(page.locator(".price__tax")).to_have_text(market["price_note"])
    page.locator("#quantity").fill("2")
    page.get_by_role("button", name="Add to cart", exact=True).click()
    expect(page.get_by_role("dialog")).to_contain_text("Quantity in your cart: 2")
    page.goto(base + "/cart/")
    expect(page.get_by_text(market["cart_note"])).to_be_visible()
    assert_accessible(page)
    _shoot(page, f"{code}-cart")

    page.get_by_role("link", name="Go to checkout").click()
    page.get_by_label("Email address").fill(f"{code}@example.com")
    for label, value in market["address"].items():
        field = page.locator(label) if label.startswith("#") else page.get_by_label(label)
        if label == "Country":  # first: the fields follow it (in place, address.js)
            field.select_option(value)
            row = page.locator('[data-address-row="region"]')
            expect(row).to_have_attribute("data-country", value)
        elif label == "State":
            field.select_option(value)
        else:
            field.fill(value)
    page.get_by_label("Standard").check()
    page.get_by_label("Bank transfer").check()
    page.locator(".checkout-business summary").click()  # the business details open
    expect(page.get_by_label("EU VAT number")).to_be_visible()
    assert_accessible(page)
    _shoot(page, f"{code}-checkout")
    page.get_by_role("button", name="Continue to review").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Review your order")
    totals = page.locator(".checkout__summary .totals")
    for text in market["review"]:
        expect(totals).to_contain_text(text)
    expect(page.locator(".totals__total dd")).to_have_text(market["total"])
    assert_accessible(page)
    _shoot(page, f"{code}-review")
    page.get_by_role("button", name=f"Place order and pay {market['total']}").click()
    return Order.objects.get(email=f"{code}@example.com")


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs pdftotext (poppler-utils)")
def test_a_us_and_a_german_checkout_side_by_side(live_server, page, settings, transactional_db):
    reviews = []
    for code, market in MARKETS.items():
        for name, value in market["settings"].items():
            setattr(settings, name, value)
        TaxRate.objects.all().delete()
        product = _shop(code, market)
        order = _checkout(page, live_server.url, code, market, product)
        assert order.total == Decimal(market["total"][1:])
        services.record_payment(order=order, amount=order.total)  # the bank transfer arrived

        key = guest_key(number=order.number)
        page.goto(f"{live_server.url}{order.get_absolute_url()}?key={key}")
        expect(page.get_by_role("heading", level=1)).to_contain_text(order.number)
        assert_accessible(page)
        _shoot(page, f"{code}-order")

        invoice = order.invoice
        page.get_by_role("link", name=f"Invoice {invoice.number}").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Invoice")
        expect(page.locator(".invoice__facts")).to_contain_text(invoice.number)
        assert_accessible(page)
        _shoot(page, f"{code}-invoice")

        with page.expect_download() as download:
            page.get_by_role("link", name="Download PDF").click()
        pdf = ARTIFACTS / f"taxes-{code}-{invoice.number}.pdf"
        download.value.save_as(pdf)
        text = subprocess.run(  # noqa: S603 (pdftotext on our own file)
            [shutil.which("pdftotext"), "-layout", str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.replace("\xa0", " ")
        for wanted in ["Invoice", invoice.number, order.number, *market["pdf"]]:
            assert wanted in text, (code, wanted)
        reviews.append(ARTIFACTS / f"taxes-{code}-review-desktop.png")
        page.context.clear_cookies()

    # The two review pages side by side, for a person to compare.
    images = [Image.open(path) for path in reviews]
    width = sum(image.width for image in images)
    side = Image.new("RGB", (width, max(image.height for image in images)), "white")
    x = 0
    for image in images:
        side.paste(image, (x, 0))
        x += image.width
    side.save(ARTIFACTS / "taxes-us-de-review-side-by-side.png")


def test_a_chinese_shopper_asks_for_a_company_fapiao(
    live_server, browser, settings, transactional_db
):
    """In Chinese: the fapiao fields at checkout, the request on the review and order pages."""
    settings.TAX_PRICES_INCLUDE_TAX = True
    settings.TAX_SELLER_COUNTRY = "CN"
    settings.FAPIAO_ENABLED = True
    settings.SHOP_CURRENCY = "CNY"
    standard, _ = TaxClass.objects.get_or_create(
        code="standard", defaults={"name": "Standard rate"}
    )
    TaxRate.objects.create(
        country="CN", tax_class=standard, rate=Decimal("13"), name="增值税",
        valid_from=date(2020, 1, 1),
    )  # fmt: skip
    product = ProductFactory(name="真丝围巾", slug="silk-scarf", variants=False, tax_class=standard)
    VariantFactory(product=product, price=Decimal("113.00"), stock=5)
    ShippingMethodFactory(name="顺丰", price=Decimal("0.00"))
    context = browser.new_context(locale="zh-CN", viewport=WIDE)
    page = context.new_page()
    base = live_server.url + "/zh-hans"  # the Chinese shop's URLs
    page.goto(base + product.get_absolute_url())
    expect(page.locator(".price__tax")).to_have_text("含增值税")
    page.locator(".buy-form button[type=submit]").click()
    expect(page.get_by_role("dialog")).to_be_visible()  # the mini cart: it is added
    page.goto(base + "/checkout/")
    page.locator("#id_email").fill("lilei@example.com")
    page.locator("#id_ship-country").select_option("CN")  # first: the fields follow it
    expect(page.locator('[data-address-row="region"]')).to_have_attribute("data-country", "CN")
    for name, value in {
        "full_name": "李雷", "phone": "+8613800138000", "line1": "建国门外大街 1 号",
        "city": "北京", "postcode": "100004",
    }.items():  # fmt: skip
        page.locator(f"#id_ship-{name}").fill(value)
    page.locator("#id_ship-region").select_option("北京市")  # the province list
    page.locator("#id_shipping_method_0").check()
    page.locator("#id_payment_method_0").check()
    page.locator(".checkout-business summary").click()
    page.locator("#id_fapiao_kind_2").check()
    page.locator("#id_fapiao_title").fill("示例科技有限公司")
    page.locator("#id_fapiao_taxpayer_number").fill("91110000600037341X")  # wrong check character
    page.locator(".checkout__form button[type=submit]").last.click()
    expect(page.get_by_text("请填写单位的 18 位税号（统一社会信用代码）。")).to_be_visible()
    expect(page.locator("#id_fapiao_title")).to_have_value("示例科技有限公司")  # nothing lost
    assert_accessible(page)
    _shoot(page, "cn-checkout-error")
    page.locator("#id_fapiao_taxpayer_number").fill("91110000600037341L")
    page.locator(".checkout__form button[type=submit]").last.click()

    summary = page.locator(".checkout__summary .totals")
    expect(summary).to_contain_text("含增值税 13")
    expect(summary).to_contain_text("¥13.00")
    expect(page.locator(".review-facts")).to_contain_text("示例科技有限公司")
    assert_accessible(page)
    _shoot(page, "cn-review")
    page.locator(".place-order-form button").click()

    order = Order.objects.get()
    assert order.fapiao.taxpayer_number == "91110000600037341L"
    page.goto(f"{base}{order.get_absolute_url()}?key={guest_key(number=order.number)}")
    expect(page.locator(".fapiao-status")).to_contain_text("已申请")
    assert_accessible(page)
    _shoot(page, "cn-order")
    context.close()
