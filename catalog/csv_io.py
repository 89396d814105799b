"""Products in and out of the shop as CSV: one row per variant (SKU).

Columns, in this order on export (on import any order; `required` ones must be there):

=================  ========  ==========================================================
column             required  meaning
=================  ========  ==========================================================
product_slug       yes       the product's URL name; rows with the same slug are one product
product_name       yes       the product's name
category_slug      yes       slug of an existing category (unknown categories are errors)
brand                        brand name; created if missing; empty for none
description                  the product's description
published                    yes/no (also true/false, 1/0); empty means no
featured                     yes/no; empty means no
tags                         tag names separated by ";" ("New;Gift idea"); created if missing
sku                yes       the variant's SKU: the key of the import
options                      "Colour=Red;Size=M"; option types and values created if missing
price              yes       e.g. 12.50: a number >= 0 with at most 2 decimal places
compare_at_price             the "was" price, same format; empty for none
stock              yes       whole number >= 0: a new SKU's opening stock; for a known SKU
                             the quantity counted (see "Stock" below)
stock_at_export              the stock when the file was exported (export writes it)
weight_grams                 whole number >= 0; empty means 0
active                       yes/no; empty means yes
=================  ========  ==========================================================

Import is idempotent by SKU: a known SKU updates its variant and its product, an unknown one
creates it (and its product when the slug is new). Product columns repeat on every row of the
product and must agree. An optional column left out of the file leaves that field of existing
products and variants as it is. A SKU never moves between products.

Stock is never written back as a plain number: it moves by movements (catalog.stock). A new
SKU starts with an opening movement of its `stock`. For a known SKU, `stock` is a counted
quantity, written as a stocktake movement of the difference, unless it is what the file was
exported with: a file exported, edited (say, prices) and imported back keeps every sale made
in between. With `stock_at_export` (which the export writes), a `stock` the merchant changed
is refused, for that row, when the shop's stock moved since the export (the count no longer
says what to write: export again). Without that column the file's `stock` is taken as a
fresh count.

Every row is checked before anything is written, and errors name the file's line number. A
file with any bad row imports nothing (one transaction) unless `skip_invalid`, which imports
the good rows and reports the bad ones. Products whose rows changed anything get their
summary columns, search document and cached pages refreshed, in chunks.

Export streams: products are read in chunks of EXPORT_CHUNK with their variants prefetched,
so memory stays flat however big the catalog; its output imports back to the same data.
Products without any variant have no row (there is nothing to sell).
"""

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Prefetch, QuerySet
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _

from catalog import services
from catalog.models import (
    Brand,
    Category,
    OptionType,
    OptionValue,
    Product,
    Tag,
    Variant,
)

COLUMNS = (
    "product_slug",
    "product_name",
    "category_slug",
    "brand",
    "description",
    "published",
    "featured",
    "tags",
    "sku",
    "options",
    "price",
    "compare_at_price",
    "stock",
    "stock_at_export",
    "weight_grams",
    "active",
)
REQUIRED_COLUMNS = ("product_slug", "product_name", "category_slug", "sku", "price", "stock")
PRODUCT_COLUMNS = (
    "product_name",
    "category_slug",
    "brand",
    "description",
    "published",
    "featured",
    "tags",
)
#: Products refreshed per refresh_products() call: one statement's id list stays small and
#: each call's cache invalidation touches a bounded number of categories.
REFRESH_CHUNK = 500
#: Products read per query on export: big enough to amortise the prefetch queries (5 per
#: chunk), small enough that a chunk's rows stay a few megabytes at most.
EXPORT_CHUNK = 500
#: Rows per IN (...) lookup on import, under SQLite's parameter limit.
LOOKUP_CHUNK = 900

TRUE_WORDS = {"yes", "true", "1", "y"}
FALSE_WORDS = {"no", "false", "0", "n"}
MAX_MONEY = Decimal("9999999999.99")  # max_digits=12, decimal_places=2
MAX_INT = 2_147_483_647  # PositiveIntegerField on every database
_DIGITS = re.compile(r"^\d+$")
_SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")


#: The reference of the stock movements an import writes.
IMPORT_REFERENCE = "CSV import"


class _StockMoved(Exception):
    """Counts refused under the lock; the import's transaction rolls back."""

    def __init__(self, errors: list["RowError"]):
        super().__init__("stock moved during the import")
        self.errors = errors


class ImportFileError(Exception):
    """The file as a whole cannot be read: not UTF-8 CSV, empty, or columns missing."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return _("line %(line)d: %(message)s") % {"line": self.line, "message": self.message}


@dataclass
class ImportReport:
    rows: int = 0
    created_products: int = 0
    updated_products: int = 0
    created_variants: int = 0
    updated_variants: int = 0
    unchanged_variants: int = 0
    errors: list[RowError] = field(default_factory=list)
    #: False when nothing was written: bad rows without skip_invalid, or a dry run.
    imported: bool = False
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        return _(
            "%(rows)d rows: %(cp)d products created, %(up)d updated; %(cv)d variants created, "
            "%(uv)d updated, %(nv)d unchanged; %(errors)d rows with errors."
        ) % {
            "rows": self.rows,
            "cp": self.created_products,
            "up": self.updated_products,
            "cv": self.created_variants,
            "uv": self.updated_variants,
            "nv": self.unchanged_variants,
            "errors": len(self.errors),
        }


@dataclass
class _Row:
    line: int
    slug: str
    sku: str
    product: dict  # model field -> value, only for columns in the file
    variant: dict
    tags: list[str] | None = None
    options: list[tuple[str, str]] | None = None
    brand: str | None = None
    category_slug: str = ""
    raw_product: tuple = ()
    #: The stock the file was exported with (the `stock_at_export` column), when it says.
    stock_at_export: int | None = None
    #: For a known SKU whose stock the file changes: (counted, stock expected now or None).
    count: tuple[int, int | None] | None = None


# --- Reading --------------------------------------------------------------------------------


def _records(file) -> Iterator[tuple[int, list[str]]]:
    """(line number where the record starts, cells) for each CSV record of a file.

    Bytes are decoded as UTF-8 with or without a BOM; Windows line endings and quoted
    multi-line cells are handled by the csv module (newline="").
    """
    if isinstance(file.read(0), bytes):
        file = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    reader = csv.reader(file)
    next_line = 1
    try:
        for cells in reader:
            yield next_line, cells
            next_line = reader.line_num + 1
    except UnicodeDecodeError:
        raise ImportFileError(
            _("The file is not UTF-8 text near line %(line)d: save it as CSV UTF-8.")
            % {"line": next_line}
        ) from None
    except csv.Error as exc:
        raise ImportFileError(
            _("Line %(line)d is not valid CSV: %(error)s") % {"line": next_line, "error": exc}
        ) from None


def _header(cells: list[str]) -> list[str]:
    names = [cell.strip().lstrip("\ufeff").lower() for cell in cells]
    unknown = [n for n in names if n and n not in COLUMNS]
    missing = [n for n in REQUIRED_COLUMNS if n not in names]
    duplicated = sorted({n for n in names if n and names.count(n) > 1})
    problems = []
    if missing:
        problems.append(_("missing required columns: %(c)s") % {"c": ", ".join(missing)})
    if unknown:
        problems.append(_("unknown columns: %(c)s") % {"c": ", ".join(unknown)})
    if duplicated:
        problems.append(_("repeated columns: %(c)s") % {"c": ", ".join(duplicated)})
    if problems:
        raise ImportFileError(
            _("The first line must name the columns (%(problems)s). Expected: %(expected)s.")
            % {"problems": "; ".join(problems), "expected": ", ".join(COLUMNS)}
        )
    return names


def _dict_rows(file) -> Iterator[tuple[int, dict[str, str]]]:
    records = _records(file)
    first = next(records, None)
    if first is None:
        raise ImportFileError(_("The file is empty."))
    names = _header(first[1])
    for line, cells in records:
        if not any(cell.strip() for cell in cells):
            continue  # blank lines, e.g. at the end of a spreadsheet export
        if len(cells) != len(names):
            yield (
                line,
                {
                    "__error__": _("%(n)d values, but the header names %(m)d columns.")
                    % {"n": len(cells), "m": len(names)}
                },
            )
            continue
        yield line, {n: cell for n, cell in zip(names, cells, strict=True) if n}


# --- Checking one row -----------------------------------------------------------------------


def _bool(value: str, column: str, default: bool, problems: list[str]) -> bool:
    word = value.strip().lower()
    if not word:
        return default
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    problems.append(_('%(col)s must be yes or no, not "%(v)s"') % {"col": column, "v": value})
    return default


def _money(value: str, column: str, problems: list[str]) -> Decimal | None:
    value = value.strip()
    if not value:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        problems.append(
            _('%(col)s "%(v)s" is not a number (write it like 12.50)') % {"col": column, "v": value}
        )
        return None
    if amount < 0:
        problems.append(_("%(col)s cannot be negative") % {"col": column})
    elif amount.as_tuple().exponent < -2:
        problems.append(
            _('%(col)s "%(v)s" has more than 2 decimal places') % {"col": column, "v": value}
        )
    elif amount > MAX_MONEY:
        problems.append(_("%(col)s is too large") % {"col": column})
    else:
        return amount.quantize(Decimal("0.01"))
    return None


def _count(value: str, column: str, problems: list[str]) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not _DIGITS.match(value) or int(value) > MAX_INT:
        problems.append(
            _('%(col)s "%(v)s" must be a whole number, 0 or more') % {"col": column, "v": value}
        )
        return None
    return int(value)


def _name_list(value: str, column: str, problems: list[str]) -> list[str]:
    names = [part.strip() for part in value.split(";") if part.strip()]
    for name in names:
        if not slugify(name, allow_unicode=True) or len(name) > 60:
            problems.append(_('%(col)s: "%(v)s" is not a usable name') % {"col": column, "v": name})
    return list(dict.fromkeys(names))


def _options(value: str, problems: list[str]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for part in value.split(";"):
        if not part.strip():
            continue
        name, sep, option = (s.strip() for s in part.partition("="))
        if not sep or not slugify(name, allow_unicode=True) or not slugify(option, True):
            problems.append(
                _('options: "%(v)s" should read like Colour=Red;Size=M') % {"v": part.strip()}
            )
            continue
        if len(name) > 60 or len(option) > 60:
            problems.append(_("options: names and values are at most 60 characters"))
            continue
        if any(slugify(name, True) == slugify(n, True) for n, _v in pairs):
            problems.append(_('options: "%(name)s" is given twice') % {"name": name})
            continue
        pairs.append((name, option))
    return pairs


def _parse(line: int, data: dict[str, str]) -> tuple[_Row | None, list[str]]:
    problems: list[str] = []
    if "__error__" in data:
        return None, [data["__error__"]]
    data = {k: v if isinstance(v, str) else "" for k, v in data.items() if isinstance(k, str)}
    value = {k: v.strip() if k != "description" else v for k, v in data.items()}
    for column in REQUIRED_COLUMNS:
        if not value[column]:
            problems.append(_("%(col)s is required") % {"col": column})
    slug, sku, name = value["product_slug"], value["sku"], value["product_name"]
    if slug and (not _SLUG.match(slug) or len(slug) > 220):
        problems.append(
            _('product_slug "%(v)s" may hold only letters, digits, "-" and "_" (220 at most)')
            % {"v": slug}
        )
    if len(sku) > 64:
        problems.append(_("sku is longer than 64 characters"))
    if len(name) > 200:
        problems.append(_("product_name is longer than 200 characters"))
    price = _money(value["price"], "price", problems)
    stock = _count(value["stock"], "stock", problems)
    product: dict = {"name": name}
    variant: dict = {"price": price, "stock": stock}
    row = _Row(line=line, slug=slug, sku=sku, product=product, variant=variant)
    row.category_slug = value["category_slug"]
    if "brand" in value:
        row.brand = value["brand"]
        if len(row.brand) > 120 or (row.brand and not slugify(row.brand, allow_unicode=True)):
            problems.append(_('brand "%(v)s" is not a usable name') % {"v": row.brand})
    if "description" in value:
        product["description"] = value["description"]
    if "published" in value:
        product["is_published"] = _bool(value["published"], "published", False, problems)
    if "featured" in value:
        product["is_featured"] = _bool(value["featured"], "featured", False, problems)
    if "tags" in value:
        row.tags = _name_list(value["tags"], "tags", problems)
    if "options" in value:
        row.options = _options(value["options"], problems)
    if "compare_at_price" in value:
        variant["compare_at_price"] = _money(
            value["compare_at_price"], "compare_at_price", problems
        )
    if "stock_at_export" in value:
        row.stock_at_export = _count(value["stock_at_export"], "stock_at_export", problems)
    if "weight_grams" in value:
        variant["weight_grams"] = _count(value["weight_grams"], "weight_grams", problems) or 0
    if "active" in value:
        variant["is_active"] = _bool(value["active"], "active", True, problems)
    row.raw_product = tuple(value.get(c, "").strip() for c in PRODUCT_COLUMNS)
    return (None if problems else row), problems


# --- Import ---------------------------------------------------------------------------------


def import_products(
    *,
    rows: Iterable[dict[str, str]] | None = None,
    file=None,
    skip_invalid: bool = False,
    dry_run: bool = False,
) -> ImportReport:
    """Create or update products and variants from CSV rows (see the module docstring).

    Give `file` (binary or text, e.g. `open(path, "rb")`) or `rows` (dicts keyed by column
    name, as csv.DictReader gives; line numbers then count a header line). Raises
    ImportFileError when the file as a whole is unusable; row problems are in the report.

    Names in the file are English (tags, option types and values are matched by their
    English slugs), whatever the language of the merchant's admin.
    """
    with translation.override(settings.LANGUAGE_CODE):
        return _import_products(rows=rows, file=file, skip_invalid=skip_invalid, dry_run=dry_run)


def _import_products(*, rows, file, skip_invalid: bool, dry_run: bool) -> ImportReport:
    if (rows is None) == (file is None):
        raise TypeError("give exactly one of rows= or file=")
    if rows is not None:
        rows = list(rows)
        _header(list(rows[0]) if rows else list(REQUIRED_COLUMNS))
        numbered: Iterable = ((i, dict(r)) for i, r in enumerate(rows, start=2))
    else:
        numbered = _dict_rows(file)

    report = ImportReport(dry_run=dry_run)
    parsed: list[_Row] = []
    for line, data in numbered:
        report.rows += 1
        row, problems = _parse(line, data)
        if problems:
            report.errors.append(RowError(line, "; ".join(problems)))
        else:
            parsed.append(row)
    parsed, categories, existing = _check_against_catalog(parsed, report)
    report.errors.sort(key=lambda e: e.line)
    if report.errors and not skip_invalid:
        return report
    if not parsed:
        return report

    try:
        with transaction.atomic():
            changed = _apply(parsed, categories, existing, report)
            if dry_run:
                transaction.set_rollback(True)
            else:
                # Their cached pages are invalidated when this transaction commits.
                for start in range(0, len(changed), REFRESH_CHUNK):
                    services.refresh_products(product_ids=changed[start : start + REFRESH_CHUNK])
    except _StockMoved as moved:  # rolled back: nothing was imported
        report.errors = sorted([*report.errors, *moved.errors], key=lambda e: e.line)
        return report
    report.imported = not dry_run
    return report


def _chunks(items: list, size: int = LOOKUP_CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _check_against_catalog(parsed: list[_Row], report: ImportReport):
    """Checks that need the database or other rows: category, SKU owner, agreement."""
    slugs = sorted({r.category_slug for r in parsed})
    categories = {}
    for chunk in _chunks(slugs):
        categories.update({c.slug: c for c in Category.objects.filter(slug__in=chunk)})
    skus = sorted({r.sku for r in parsed})
    existing: dict[str, Variant] = {}
    for chunk in _chunks(skus):
        existing.update(
            {v.sku: v for v in Variant.objects.filter(sku__in=chunk).select_related("product")}
        )
    good: list[_Row] = []
    seen_sku: dict[str, int] = {}
    first_of_product: dict[str, _Row] = {}
    for row in parsed:
        problems = []
        if row.category_slug not in categories:
            problems.append(
                _('unknown category "%(slug)s" (create it in the admin first)')
                % {"slug": row.category_slug}
            )
        owner = existing.get(row.sku)
        if owner is not None and owner.product.slug != row.slug:
            problems.append(
                _('SKU "%(sku)s" belongs to product "%(other)s"; a SKU cannot move to another')
                % {"sku": row.sku, "other": owner.product.slug}
            )
        elif owner is not None:
            problems += _check_stock(row, owner)
        if row.sku in seen_sku:
            problems.append(
                _('SKU "%(sku)s" is also on line %(line)d')
                % {"sku": row.sku, "line": seen_sku[row.sku]}
            )
        first = first_of_product.get(row.slug)
        if first is not None and first.raw_product != row.raw_product:
            differing = [
                column
                for column, a, b in zip(
                    PRODUCT_COLUMNS, first.raw_product, row.raw_product, strict=True
                )
                if a != b
            ]
            problems.append(
                _("%(columns)s differ from line %(line)d, another row of product %(slug)s")
                % {"columns": ", ".join(differing), "line": first.line, "slug": row.slug}
            )
        if problems:
            report.errors.append(RowError(row.line, "; ".join(problems)))
            continue
        seen_sku[row.sku] = row.line
        first_of_product.setdefault(row.slug, row)
        good.append(row)
    return good, categories, existing


def _check_stock(row: _Row, variant: Variant) -> list[str]:
    """Decide what a known SKU's `stock` cell means (see the module docstring): sets
    `row.count` when it asks for a stocktake; returns the row's problems."""
    stock, exported = row.variant["stock"], row.stock_at_export
    if stock == variant.stock or (exported is not None and stock == exported):
        return []  # as it is, or as it was exported: the sales since are kept
    if exported is not None and exported != variant.stock:
        return [
            _(
                "stock: %(sku)s had %(exported)d in stock when the file was exported and has "
                "%(current)d now (orders or another change), so the count %(stock)d cannot "
                "be applied; export again, or write the stock as exported to leave it"
            )
            % {
                "sku": row.sku,
                "exported": exported,
                "current": variant.stock,
                "stock": stock,
            }
        ]
    row.count = (stock, exported)
    return []


def _by_name(model, names: Iterable[str], *, positioned: bool = False) -> dict[str, object]:
    """Name -> row of a named model (Brand, Tag, OptionType), created when missing.

    Matched by slug, so "apple" in a file finds the brand "Apple" rather than clashing
    with its slug. With `positioned`, new rows are placed after the existing ones in the
    order the file first names them (so "Colour=...;Size=..." keeps colour first).
    """
    names = list(dict.fromkeys(names))
    wanted = {slugify(n, allow_unicode=True): n for n in names}
    found = {}
    for chunk in _chunks(sorted(wanted)):
        found.update({obj.slug: obj for obj in model.objects.filter(slug__in=chunk)})
    position = 1 + (model.objects.aggregate(last=Max("position"))["last"] or 0) if positioned else 0
    for slug, name in wanted.items():
        if slug not in found:
            extra = {"position": position} if positioned else {}
            found[slug] = model.objects.create(name=name, slug=slug, **extra)
            position += 1
    return {n: found[slugify(n, allow_unicode=True)] for n in names}


def _apply(parsed: list[_Row], categories, existing, report: ImportReport) -> list[int]:
    """Write the checked rows; returns the ids of products whose data changed."""
    brands = _by_name(Brand, (r.brand for r in parsed if r.brand))
    tags = _by_name(Tag, (t for r in parsed for t in (r.tags or [])))
    option_types = _by_name(
        OptionType, (n for r in parsed for n, _v in (r.options or [])), positioned=True
    )
    option_values = _option_values(parsed, option_types)
    changed: set[int] = set()

    # Products: the first row of each slug carries its fields.
    firsts: dict[str, _Row] = {}
    for row in parsed:
        firsts.setdefault(row.slug, row)
    products: dict[str, Product] = {}
    for chunk in _chunks(sorted(firsts)):
        products.update({p.slug: p for p in Product.objects.filter(slug__in=chunk)})
    new_products, dirty_products, dirty_fields = [], [], set()
    now = timezone.now()
    for slug, row in firsts.items():
        # Compared and written by id: no query per product for its category or brand.
        fields = {**row.product, "category_id": categories[row.category_slug].pk}
        if row.brand is not None:
            fields["brand_id"] = brands[row.brand].pk if row.brand else None
        product = products.get(slug)
        if product is None:
            product = Product(slug=slug, **fields)
            products[slug] = product
            new_products.append(product)
            continue
        diff = {k for k, v in fields.items() if getattr(product, k) != v}
        if diff:
            for key in diff:
                setattr(product, key, fields[key])
            product.updated_at = now
            dirty_products.append(product)
            dirty_fields |= {k.removesuffix("_id") for k in diff} | {"updated_at"}
    Product.objects.bulk_create(new_products, batch_size=500)
    if dirty_products:
        Product.objects.bulk_update(dirty_products, sorted(dirty_fields), batch_size=500)
    report.created_products = len(new_products)
    changed |= {p.pk for p in new_products} | {p.pk for p in dirty_products}

    # Tags, where the file has the column.
    tag_rows = {
        products[s].pk: {tags[t].pk for t in r.tags}
        for s, r in firsts.items()
        if r.tags is not None
    }
    changed |= _sync_links(Product.tags.through, "product_id", "tag_id", tag_rows)

    # Variants. New ones go after a product's existing ones, in the file's order.
    positions: dict[str, int] = {}
    created_pks = {p.pk for p in new_products}
    known = {p.pk: s for s, p in products.items() if p.pk not in created_pks}
    for chunk in _chunks(sorted(known)):
        for product_id, last in (
            Variant.objects.filter(product_id__in=chunk)
            .values("product_id")
            .annotate(last=Max("position"))
            .values_list("product_id", "last")
        ):
            positions[known[product_id]] = last + 1
    new_variants, dirty_variants, variant_fields = [], [], set()
    variants: dict[str, Variant] = {}
    counts: dict[int, tuple[int, int | None]] = {}
    lines: dict[int, int] = {}
    for row in parsed:
        product = products[row.slug]
        variant = existing.get(row.sku)
        if variant is None:
            position = positions.get(row.slug, 0)
            positions[row.slug] = position + 1
            variant = Variant(product=product, sku=row.sku, position=position, **row.variant)
            new_variants.append(variant)
            changed.add(product.pk)
        else:
            # Stock is never written here: a count is a movement (below).
            diff = {k for k, v in row.variant.items() if k != "stock" and getattr(variant, k) != v}
            if diff:
                for key in diff:
                    setattr(variant, key, row.variant[key])
                dirty_variants.append(variant)
                variant_fields |= diff
                changed.add(product.pk)
            if row.count is not None:
                counts[variant.pk] = row.count
                lines[variant.pk] = row.line
                changed.add(product.pk)
        variants[row.sku] = variant
    Variant.objects.bulk_create(new_variants, batch_size=500)
    services.record_opening_stock(variants=new_variants, reference=IMPORT_REFERENCE)
    if dirty_variants:
        Variant.objects.bulk_update(dirty_variants, sorted(variant_fields), batch_size=500)
    try:
        services.count_stocks(
            counted={pk: counted for pk, (counted, _e) in counts.items()},
            expected={pk: expected for pk, (_c, expected) in counts.items()},
            reference=IMPORT_REFERENCE,
        )
    except services.StockChangedSinceLoaded as moved:
        # Checked before writing; moved by an order since, in the instant before the lock.
        raise _StockMoved(
            [
                RowError(
                    lines[pk],
                    _("stock: it changed from %(expected)d to %(current)d during the import")
                    % {"expected": expected, "current": current},
                )
                for pk, (expected, current) in moved.changed.items()
            ]
        ) from moved

    # Option values, where the file has the column.
    option_rows = {
        variants[r.sku].pk: {
            option_values[(slugify(n, True), slugify(v, True))].pk for n, v in r.options
        }
        for r in parsed
        if r.options is not None
    }
    touched_variants = _sync_links(
        Variant.option_values.through, "variant_id", "optionvalue_id", option_rows
    )
    dirty_pks = {v.pk for v in dirty_variants} | set(counts)
    new_pks = {v.pk for v in new_variants}
    for row in parsed:
        if variants[row.sku].pk in touched_variants:
            changed.add(products[row.slug].pk)
            if variants[row.sku].pk not in new_pks:
                dirty_pks.add(variants[row.sku].pk)
    report.created_variants = len(new_variants)
    report.updated_variants = len(dirty_pks)
    report.unchanged_variants = len(parsed) - len(new_variants) - len(dirty_pks)
    report.updated_products = len(changed - created_pks)
    return sorted(changed)


def _option_values(parsed: list[_Row], option_types) -> dict[tuple[str, str], OptionValue]:
    wanted: dict[tuple[str, str], tuple[OptionType, str]] = {}
    for row in parsed:
        for name, value in row.options or []:
            key = (slugify(name, allow_unicode=True), slugify(value, allow_unicode=True))
            wanted.setdefault(key, (option_types[name], value))
    found: dict[tuple[str, str], OptionValue] = {}
    type_ids = {t.pk for t, _v in wanted.values()}
    for value in OptionValue.objects.filter(option_type_id__in=type_ids).select_related(
        "option_type"
    ):
        found[(value.option_type.slug, value.slug)] = value
    last = {pk: -1 for pk in type_ids}
    for value in found.values():
        last[value.option_type_id] = max(last[value.option_type_id], value.position)
    for key, (option_type, value) in wanted.items():
        if key not in found:
            last[option_type.pk] += 1  # after the type's values, in the file's order
            found[key] = OptionValue.objects.create(
                option_type=option_type, value=value, slug=key[1], position=last[option_type.pk]
            )
    return found


def _sync_links(through, owner: str, target: str, wanted: dict[int, set[int]]) -> set[int]:
    """Make the many-to-many rows of each owner exactly `wanted`; returns owners changed."""
    if not wanted:
        return set()
    have: dict[int, set[int]] = {pk: set() for pk in wanted}
    for chunk in _chunks(sorted(wanted)):
        for owner_id, target_id in through.objects.filter(**{f"{owner}__in": chunk}).values_list(
            owner, target
        ):
            have[owner_id].add(target_id)
    changed = {pk for pk in wanted if wanted[pk] != have[pk]}
    for pk in changed:
        extra = have[pk] - wanted[pk]
        if extra:
            through.objects.filter(**{owner: pk, f"{target}__in": extra}).delete()
    through.objects.bulk_create(
        [through(**{owner: pk, target: t}) for pk in changed for t in wanted[pk] - have[pk]],
        batch_size=1000,
    )
    return changed


# --- Export ---------------------------------------------------------------------------------


class _Echo:
    """A file whose write() returns the text: csv.writer then gives each line to yield."""

    def write(self, value: str) -> str:
        return value


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def export_products(*, queryset: QuerySet[Product] | None = None) -> Iterator[str]:
    """CSV lines (header first) for the products of `queryset`, one per variant, streamed;
    names in English, as import reads them."""
    with translation.override(settings.LANGUAGE_CODE):
        yield from _export_products(queryset=queryset)


def _export_products(*, queryset: QuerySet[Product] | None) -> Iterator[str]:
    queryset = Product.objects.all() if queryset is None else queryset
    writer = csv.writer(_Echo(), lineterminator="\n")
    yield writer.writerow(COLUMNS)
    products = (
        queryset.order_by("pk")
        .select_related("category", "brand")
        .prefetch_related(
            Prefetch("tags", queryset=Tag.objects.order_by("name")),
            Prefetch(
                "variants",
                queryset=Variant.objects.order_by("position", "pk").prefetch_related(
                    Prefetch(
                        "option_values",
                        queryset=OptionValue.objects.select_related("option_type").order_by(
                            "option_type__position", "option_type__name", "position", "value"
                        ),
                    )
                ),
            ),
        )
    )
    for product in products.iterator(chunk_size=EXPORT_CHUNK):
        product_cells = [
            product.slug,
            product.name,
            product.category.slug,
            product.brand.name if product.brand else "",
            product.description,
            _yes(product.is_published),
            _yes(product.is_featured),
            ";".join(tag.name for tag in product.tags.all()),
        ]
        for variant in product.variants.all():
            options = ";".join(
                f"{value.option_type.name}={value.value}" for value in variant.option_values.all()
            )
            yield writer.writerow(
                [
                    *product_cells,
                    variant.sku,
                    options,
                    variant.price,
                    "" if variant.compare_at_price is None else variant.compare_at_price,
                    variant.stock,
                    variant.stock,
                    variant.weight_grams,
                    _yes(variant.is_active),
                ]
            )
