"""CSV import and export of products: one row per variant, idempotent by SKU, all or nothing."""

import csv
import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from catalog import csv_io, services
from catalog.csv_io import COLUMNS, ImportFileError, export_products, import_products
from catalog.models import Brand, OptionValue, Product, StockMovement, Tag, Variant
from catalog.tests.factories import (
    BrandFactory,
    CategoryFactory,
    OptionValueFactory,
    ProductFactory,
    TagFactory,
    VariantFactory,
)

pytestmark = pytest.mark.django_db


def _csv(rows: list[dict], columns=COLUMNS, newline: str = "\n") -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator=newline, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode()


def _row(**values) -> dict:
    row = {
        "product_slug": "linen-shirt",
        "product_name": "Linen Shirt",
        "category_slug": "shirts",
        "brand": "Fjell",
        "description": "Cool in summer.",
        "published": "yes",
        "featured": "no",
        "tags": "New;Summer",
        "sku": "SHIRT-RED-M",
        "options": "Colour=Red;Size=M",
        "price": "30.00",
        "compare_at_price": "",
        "stock": "4",
        "weight_grams": "250",
        "active": "yes",
    }
    row.update(values)
    return row


def _import(rows: list[dict], **kwargs) -> csv_io.ImportReport:
    return import_products(file=io.BytesIO(_csv(rows)), **kwargs)


@pytest.fixture
def shirts():
    return CategoryFactory(name="Shirts", slug="shirts")


def _export() -> str:
    return "".join(export_products())


# --- Import ---------------------------------------------------------------------------------


def test_import_creates_products_variants_brand_tags_and_options(shirts):
    report = _import(
        [
            _row(),
            _row(sku="SHIRT-BLUE-L", options="Colour=Blue;Size=L", price="25.50", stock="6"),
        ]
    )
    assert report.ok and report.imported
    assert (report.created_products, report.created_variants) == (1, 2)
    product = Product.objects.get(slug="linen-shirt")
    assert product.brand.name == "Fjell" and product.is_published and not product.is_featured
    assert sorted(product.tags.values_list("name", flat=True)) == ["New", "Summer"]
    assert (product.price, product.stock) == (Decimal("25.50"), 10)  # summary refreshed
    blue = Variant.objects.get(sku="SHIRT-BLUE-L")
    assert blue.options_label == "Blue / L"
    assert blue.weight_grams == 250


def test_import_updates_an_existing_sku_and_refreshes_the_product_summary(shirts):
    _import([_row()])
    report = _import([_row(price="19.99", stock="12", featured="yes")])
    assert (report.created_variants, report.updated_variants) == (0, 1)
    assert report.updated_products == 1
    product = Product.objects.get()
    assert product.is_featured
    assert (product.price, product.stock) == (Decimal("19.99"), 12)


def test_reimporting_the_same_file_changes_nothing(shirts):
    data = _csv([_row(), _row(sku="SHIRT-BLUE-L", options="Colour=Blue;Size=L")])
    import_products(file=io.BytesIO(data))
    before = Product.objects.get().updated_at
    report = import_products(file=io.BytesIO(data))
    assert report.ok
    assert (report.created_products, report.updated_products) == (0, 0)
    assert (report.created_variants, report.updated_variants, report.unchanged_variants) == (
        0,
        0,
        2,
    )
    assert Product.objects.get().updated_at == before
    assert (Variant.objects.count(), OptionValue.objects.count(), Tag.objects.count()) == (2, 4, 2)


def test_import_matches_brands_tags_and_options_by_name_whatever_the_case(shirts):
    BrandFactory(name="Fjell")
    TagFactory(name="New")
    red = OptionValueFactory(value="Red")
    _import([_row(brand="FJELL", tags="new", options="colour=red")])
    variant = Variant.objects.get()
    assert Brand.objects.count() == 1 and Tag.objects.count() == 1
    assert list(variant.option_values.all()) == [red]


def test_bad_rows_are_reported_by_line_number_and_nothing_is_imported(shirts):
    report = _import(
        [
            _row(),
            _row(sku="B", price="12,50"),
            _row(sku="C", stock="-1"),
        ]
    )
    assert not report.imported
    assert [e.line for e in report.errors] == [3, 4]
    assert "price" in report.errors[0].message and "12,50" in report.errors[0].message
    assert "stock" in report.errors[1].message
    assert str(report.errors[0]).startswith("line 3:")
    assert not Product.objects.exists() and not Brand.objects.exists()


def test_skip_invalid_imports_the_good_rows_and_reports_the_bad(shirts):
    report = _import([_row(), _row(sku="BAD", price="abc")], skip_invalid=True)
    assert report.imported
    assert [e.line for e in report.errors] == [3]
    assert list(Variant.objects.values_list("sku", flat=True)) == ["SHIRT-RED-M"]


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("price", "12,50", "not a number"),
        ("price", "1.234", "2 decimal places"),
        ("price", "-1", "negative"),
        ("price", "NaN", "not a number"),
        ("price", "", "price is required"),
        ("compare_at_price", "x", "not a number"),
        ("stock", "2.5", "whole number"),
        ("stock", "-3", "whole number"),
        ("weight_grams", "heavy", "whole number"),
        ("published", "maybe", "yes or no"),
        ("active", "2", "yes or no"),
        ("sku", "", "sku is required"),
        ("product_name", "", "product_name is required"),
        ("product_slug", "not a slug!", "product_slug"),
        ("options", "Colour", "Colour=Red;Size=M"),
        ("options", "Colour=Red;colour=Blue", "given twice"),
    ],
)
def test_each_bad_value_is_a_row_error_with_a_clear_message(shirts, column, value, message):
    report = _import([_row(**{column: value})])
    [error] = report.errors
    assert error.line == 2
    assert message in error.message
    assert not Product.objects.exists()


def test_unknown_category_is_a_row_error(shirts):
    report = _import([_row(category_slug="no-such-category")])
    [error] = report.errors
    assert 'unknown category "no-such-category"' in error.message
    assert not Product.objects.exists()


def test_a_sku_cannot_move_to_another_product(shirts):
    VariantFactory(sku="TAKEN", product__slug="other")
    report = _import([_row(sku="TAKEN")])
    assert 'belongs to product "other"' in report.errors[0].message


def test_a_sku_twice_in_one_file_is_an_error(shirts):
    report = _import([_row(), _row()])
    assert [e.line for e in report.errors] == [3]
    assert "also on line 2" in report.errors[0].message


def test_rows_of_one_product_must_agree_on_product_columns(shirts):
    report = _import([_row(), _row(sku="OTHER", product_name="Another name")])
    assert "product_name differ from line 2" in report.errors[0].message


def test_missing_required_columns_are_a_file_error_and_nothing_is_imported(shirts):
    data = _csv([_row()], columns=[c for c in COLUMNS if c not in ("price", "stock")])
    with pytest.raises(ImportFileError, match="missing required columns: price, stock"):
        import_products(file=io.BytesIO(data))
    assert not Product.objects.exists()


def test_unknown_column_is_a_file_error(shirts):
    data = _csv([_row()], columns=[*COLUMNS, "colour"])
    with pytest.raises(ImportFileError, match="unknown columns: colour"):
        import_products(file=io.BytesIO(data))


@pytest.mark.parametrize(
    "content",
    [b"", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", b'{"products": []}\n', b"\xff\xfe\x00a"],
    ids=["empty", "png", "json", "utf16"],
)
def test_a_file_that_is_not_csv_is_a_clear_error(shirts, content):
    with pytest.raises(ImportFileError):
        import_products(file=io.BytesIO(content))


def test_utf8_bom_and_windows_line_endings_are_read(shirts):
    data = "\ufeff".encode() + _csv(
        [_row(description="Line one\r\nline two", product_name="Chemise en lin, été")],
        newline="\r\n",
    )
    report = import_products(file=io.BytesIO(data))
    assert report.ok, report.errors
    product = Product.objects.get()
    assert product.name == "Chemise en lin, été"
    assert product.description == "Line one\r\nline two"


def test_optional_columns_left_out_keep_existing_values(shirts):
    _import([_row(compare_at_price="40.00", weight_grams="300")])
    columns = list(csv_io.REQUIRED_COLUMNS)
    report = import_products(file=io.BytesIO(_csv([_row(stock="9")], columns=columns)))
    assert report.ok
    variant = Variant.objects.get()
    assert (variant.stock, variant.compare_at_price, variant.weight_grams) == (
        9,
        Decimal("40.00"),
        300,
    )
    assert Product.objects.get().brand.name == "Fjell"


def test_dry_run_writes_nothing_but_reports_what_would_change(shirts):
    report = _import([_row()], dry_run=True)
    assert report.ok and not report.imported and report.created_products == 1
    assert not Product.objects.exists() and not Brand.objects.exists()


def test_import_from_rows_numbers_lines_after_a_header(shirts):
    report = import_products(rows=[_row(), _row(sku="X", price="-2")])
    assert [e.line for e in report.errors] == [3]


# --- Export ---------------------------------------------------------------------------------


def _catalog():
    red = OptionValueFactory(value="Red")
    size_m = OptionValueFactory(option_type__name="Size", value="M")
    product = ProductFactory(
        slug="tee",
        name='Tee "Classic", soft',
        description="Two\nlines",
        brand=BrandFactory(name="Northwind"),
        category=CategoryFactory(slug="tees"),
        is_featured=True,
        variants=False,
    )
    product.tags.set([TagFactory(name="New"), TagFactory(name="Gift idea")])
    VariantFactory(
        product=product,
        sku="TEE-RED-M",
        option_values=[red, size_m],
        price=Decimal("12.50"),
        compare_at_price=Decimal("15.00"),
        weight_grams=180,
    )
    VariantFactory(product=product, sku="TEE-OLD", is_active=False, stock=0, position=1)
    ProductFactory(slug="plain", category=product.category, is_published=False)
    return product


def test_export_writes_one_row_per_variant_with_the_documented_columns():
    _catalog()
    rows = list(csv.DictReader(io.StringIO(_export())))
    assert list(rows[0]) == list(COLUMNS)
    tee = rows[0]
    assert tee["sku"] == "TEE-RED-M"
    assert tee["options"] == "Colour=Red;Size=M"
    assert tee["tags"] == "Gift idea;New"
    assert (tee["price"], tee["compare_at_price"], tee["featured"]) == ("12.50", "15.00", "yes")
    assert [r["sku"] for r in rows] == ["TEE-RED-M", "TEE-OLD", rows[2]["sku"]]
    assert rows[1]["active"] == "no" and rows[2]["published"] == "no"


def test_export_round_trip_imports_back_to_the_same_data():
    _catalog()
    first = _export()
    Product.objects.all().delete()
    report = import_products(file=io.BytesIO(first.encode()))
    assert report.ok, report.errors
    assert (report.created_products, report.created_variants) == (2, 3)
    assert _export() == first
    assert Product.objects.get(slug="tee").price == Decimal("12.50")


def test_export_is_a_stream_reading_products_in_chunks(monkeypatch, django_assert_max_num_queries):
    monkeypatch.setattr(csv_io, "EXPORT_CHUNK", 10)
    category = CategoryFactory()
    for _ in range(25):
        ProductFactory(category=category)
    lines = export_products()
    assert iter(lines) is lines  # a generator: nothing is read before it is consumed
    # Per chunk of 10: products (category, brand joined), their tags, variants, options.
    with django_assert_max_num_queries(3 * 4):
        assert sum(1 for _ in lines) == 26


# --- Commands -------------------------------------------------------------------------------


def test_import_command_imports_a_file(tmp_path, shirts, capsys):
    path = tmp_path / "products.csv"
    path.write_bytes(_csv([_row()]))
    call_command("import_products", str(path))
    assert Variant.objects.get().sku == "SHIRT-RED-M"
    assert "1 variants created" in capsys.readouterr().out


def test_import_command_fails_with_line_numbers_and_imports_nothing(tmp_path, shirts, capsys):
    path = tmp_path / "products.csv"
    path.write_bytes(_csv([_row(), _row(sku="B", stock="lots")]))
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_products", str(path))
    assert "line 3: stock" in capsys.readouterr().err
    assert not Product.objects.exists()


def test_import_command_skip_invalid_imports_good_rows(tmp_path, shirts, capsys):
    path = tmp_path / "products.csv"
    path.write_bytes(_csv([_row(), _row(sku="B", stock="lots")]))
    call_command("import_products", str(path), "--skip-invalid")
    assert list(Variant.objects.values_list("sku", flat=True)) == ["SHIRT-RED-M"]
    assert "line 3" in capsys.readouterr().err


def test_import_command_dry_run_writes_nothing(tmp_path, shirts, capsys):
    path = tmp_path / "products.csv"
    path.write_bytes(_csv([_row()]))
    call_command("import_products", str(path), "--dry-run")
    assert not Product.objects.exists()
    assert "Dry run" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content", [b"just some text\nwithout the columns\n", b"\x89PNG\r\n\x1a\n\x00\xff"]
)
def test_import_command_rejects_a_file_that_is_not_product_csv(tmp_path, shirts, content):
    path = tmp_path / "products.csv"
    path.write_bytes(content)
    with pytest.raises(CommandError, match="Nothing was imported") as raised:
        call_command("import_products", str(path))
    assert raised.value.returncode == 1
    assert not Product.objects.exists()


def test_import_command_with_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_products", str(tmp_path / "nope.csv"))


def test_export_command_writes_to_stdout_and_to_a_file(tmp_path, capsys):
    _catalog()
    call_command("export_products")
    printed = capsys.readouterr().out
    assert printed == _export()
    target = tmp_path / "out.csv"
    call_command("export_products", "--output", str(target))
    assert target.read_text(encoding="utf-8") == printed
    assert "3 variants written" in capsys.readouterr().err


def test_export_command_output_reimports_with_the_import_command(tmp_path):
    _catalog()
    target = tmp_path / "out.csv"
    call_command("export_products", "--output", str(target))
    Product.objects.all().delete()
    call_command("import_products", str(target))
    assert Variant.objects.count() == 3


def test_new_option_types_keep_the_order_the_file_names_them(shirts):
    _import([_row(options="Size=M;Colour=Red")])
    _import([_row(sku="X", options="Size=S;Colour=Blue")])
    assert Variant.objects.get(sku="X").options_label == "S / Blue"
    assert "Size=M;Colour=Red" in _export()


# --- Stock: movements, never clobbering sales (issue 12, item 8) ----------------------------


def _ledger(sku: str) -> list[tuple[str, int, str]]:
    return list(
        StockMovement.objects.filter(variant__sku=sku)
        .order_by("pk")
        .values_list("reason", "quantity", "reference")
    )


def _ledger_adds_up() -> bool:
    return all(
        variant.stock == sum(variant.stock_movements.values_list("quantity", flat=True))
        for variant in Variant.objects.all()
    )


def test_a_new_sku_starts_its_ledger_with_an_opening_movement(shirts):
    _import([_row(stock="4"), _row(sku="SHIRT-BLUE-L", options="Colour=Blue;Size=L", stock="0")])
    assert _ledger("SHIRT-RED-M") == [("opening", 4, "CSV import")]
    assert _ledger("SHIRT-BLUE-L") == [("opening", 0, "CSV import")]


def test_a_known_skus_stock_without_stock_at_export_is_a_count(shirts):
    _import([_row(stock="4")])
    report = _import([_row(stock="9")])
    assert report.ok and report.updated_variants == 1
    assert Variant.objects.get().stock == 9
    assert _ledger("SHIRT-RED-M") == [("opening", 4, "CSV import"), ("count", 5, "CSV import")]
    assert _ledger_adds_up()


def _exported_rows() -> list[dict]:
    return list(csv.DictReader(io.StringIO(_export())))


def test_reimporting_an_export_keeps_the_sales_made_since(shirts):
    _import([_row(stock="10", price="30.00")])
    rows = _exported_rows()
    assert (rows[0]["stock"], rows[0]["stock_at_export"]) == ("10", "10")
    variant = Variant.objects.get()
    services.take_stock(quantities={variant.pk: 3})  # sold while the file was edited
    rows[0]["price"] = "28.00"
    report = import_products(rows=rows)
    assert report.ok, report.errors
    variant.refresh_from_db()
    assert (variant.stock, variant.price) == (7, Decimal("28.00"))
    assert Product.objects.get().stock == 7
    assert [reason for reason, _q, _r in _ledger(variant.sku)] == ["opening", "sale"]


def test_a_stock_changed_in_an_export_is_counted(shirts):
    _import([_row(stock="10")])
    rows = _exported_rows()
    rows[0]["stock"] = "14"
    assert import_products(rows=rows).ok
    assert Variant.objects.get().stock == 14
    assert _ledger("SHIRT-RED-M")[-1] == ("count", 4, "CSV import")


def test_a_stock_changed_in_an_export_made_before_a_sale_is_refused(shirts):
    _import([_row(stock="10"), _row(sku="SHIRT-BLUE-L", options="Colour=Blue;Size=L")])
    rows = _exported_rows()
    red = Variant.objects.get(sku="SHIRT-RED-M")
    services.take_stock(quantities={red.pk: 2})
    rows[0]["stock"], rows[1]["price"] = "14", "26.00"
    report = import_products(rows=rows)
    assert not report.imported
    [error] = report.errors
    assert error.line == 2
    assert "had 10 in stock when the file was exported and has 8 now" in error.message
    assert Variant.objects.get(sku="SHIRT-BLUE-L").price == Decimal("30.00")  # nothing imported
    report = import_products(rows=rows, skip_invalid=True)
    assert report.imported and len(report.errors) == 1
    assert Variant.objects.get(sku="SHIRT-BLUE-L").price == Decimal("26.00")
    assert Variant.objects.get(sku="SHIRT-RED-M").stock == 8


def test_stock_moved_between_the_check_and_the_write_imports_nothing(shirts, monkeypatch):
    _import([_row(stock="10")])
    red = Variant.objects.get()

    def sold_meanwhile(**kwargs):
        raise services.StockChangedSinceLoaded(changed={red.pk: (10, 9)}, skus={red.pk: red.sku})

    monkeypatch.setattr(services, "count_stocks", sold_meanwhile)
    report = _import([_row(stock="12", price="20.00")])
    assert not report.imported
    assert [(e.line, "from 10 to 9" in e.message) for e in report.errors] == [(2, True)]
    red.refresh_from_db()
    assert (red.stock, red.price) == (10, Decimal("30.00"))


def test_a_dry_run_counts_but_writes_no_movement(shirts):
    _import([_row(stock="4")])
    report = _import([_row(stock="9")], dry_run=True)
    assert report.updated_variants == 1 and not report.imported
    assert Variant.objects.get().stock == 4 and StockMovement.objects.count() == 1
