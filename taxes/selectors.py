"""Reading tax classes and rates: the whole table is small (a few hundred rows at most) and
read by every priced page, so it is kept in this process and in the cache under a version
that every change of a class or rate moves (taxes.receivers). A cold cache costs one query;
a warm one none. A cache outage reads as a miss: one query per pricing, never an error."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from django.core.cache import cache
from django.utils import timezone

from shop.held import held_per_version
from shop.money import minor_units
from taxes import conf
from taxes.calculation import EXPORT, REVERSE_CHARGE, Rate, Rules
from taxes.models import TaxClass
from taxes.regions import region_code
from taxes.vat import reverse_charge_applies

VERSION_KEY = "taxes:version"
#: A safety net behind the version: the table is read again at least this often (seconds).
TABLE_TIMEOUT = 60 * 60


@dataclass(frozen=True)
class ClassInfo:
    pk: int
    code: str
    name: str
    is_exempt: bool


@dataclass(frozen=True)
class RateRow:
    class_id: int
    country: str
    region: str
    percent: object
    name: str
    valid_from: date
    valid_until: date | None

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day < self.valid_until)


@dataclass(frozen=True)
class TaxTable:
    classes: dict[int, ClassInfo]
    rows: tuple[RateRow, ...]

    @property
    def standard(self) -> ClassInfo | None:
        return next((c for c in self.classes.values() if c.code == TaxClass.STANDARD), None)

    def class_of(self, class_id: int | None) -> ClassInfo:
        """The class of a product or shipping method; none chosen means standard."""
        info = self.classes.get(class_id) if class_id is not None else None
        return info or self.standard or ClassInfo(0, TaxClass.STANDARD, "Standard", False)


#: How a higher app has the version read (set_version_source), or None: in a round trip of
#: its own; and what it is told when the version moves.
_version_source: Callable[[], int] | None = None
_version_moved: Callable[[], None] | None = None


def set_version_source(source: Callable[[], int], *, moved: Callable[[], None]) -> None:
    """Have the version read by `source` and `moved()` called when it moves: catalog hands in
    catalog.cache's, which reads it with a request's other versions in its first round trip
    and trusts what it read for a while (taxes sits below catalog)."""
    global _version_source, _version_moved
    _version_source, _version_moved = source, moved


def _version() -> int:
    if _version_source is not None:
        return _version_source()
    version = cache.get(VERSION_KEY)
    if version is None:
        version = time.time_ns()
        cache.add(VERSION_KEY, version, timeout=None)  # two processes agree on the first
        version = cache.get(VERSION_KEY) or version
    return version


def version(*, read: dict | None = None) -> int:
    """The rates' current version: what a value computed with the tax table is kept under.
    `read`: what a caller's own get_many found, VERSION_KEY among its keys (no round trip of
    its own unless the version was not there)."""
    found = (read or {}).get(VERSION_KEY)
    return found if found is not None else _version()


def rates_changed() -> None:
    """A class or rate changed: every process reads the table again."""
    cache.set(VERSION_KEY, time.time_ns(), timeout=None)
    if _version_moved is not None:
        _version_moved()


def tax_table() -> TaxTable:
    """Every class and rate (all countries, all periods): one query when the cache is cold."""
    return held_per_version("taxes:table", _version(), _build, timeout=TABLE_TIMEOUT)


def _build() -> TaxTable:
    classes: dict[int, ClassInfo] = {}
    rows = []
    # One query: classes LEFT JOIN their rates.
    for (
        pk,
        code,
        name,
        exempt,
        country,
        region,
        percent,
        rate_name,
        start,
        end,
    ) in TaxClass.objects.order_by("position", "pk", "rates__pk").values_list(
        "pk",
        "code",
        "name",
        "is_exempt",
        "rates__country",
        "rates__region",
        "rates__rate",
        "rates__name",
        "rates__valid_from",
        "rates__valid_until",
    ):
        classes.setdefault(pk, ClassInfo(pk, code, name, exempt))
        if country:
            rows.append(RateRow(pk, country, region, percent, rate_name, start, end))
    return TaxTable(classes=classes, rows=tuple(rows))


@dataclass(frozen=True)
class Destination:
    """Where the goods go and who buys them: what decides the rates."""

    country: str
    region: str = ""
    #: The buyer's EU VAT number, for the reverse charge.
    vat_number: str = ""


def default_destination() -> Destination:
    """Before an address is known: the seller's own country (the cart says "estimated")."""
    return Destination(country=conf.seller_country(), region=conf.seller_region())


def rates_at(table: TaxTable, *, country: str, region: str, day: date) -> dict[str, Rate] | None:
    """The rate of each class code in a place on a day; None when the merchant collects no
    tax in that country at all (no rate valid there). A region's rate replaces the
    country's for its class; exempt classes are exempt everywhere."""
    country, region = country.upper(), region_code(country, region)
    valid = [row for row in table.rows if row.country == country and row.valid_on(day)]
    if not valid:
        return None
    chosen: dict[int, RateRow] = {}
    for row in valid:
        if not row.region:
            chosen.setdefault(row.class_id, row)
    for row in valid:
        if row.region and row.region == region:
            chosen[row.class_id] = row
    rates = {
        table.classes[class_id].code: Rate(percent=row.percent, name=row.name)
        for class_id, row in chosen.items()
        if class_id in table.classes
    }
    for info in table.classes.values():
        if info.is_exempt:
            rates[info.code] = Rate(exempt=True)
    return rates


def rules_for(
    destination: Destination, *, now: datetime | None = None, table: TaxTable | None = None
) -> Rules:
    """The rules price_cart() taxes a cart with for `destination` at `now`, from `table`
    when the caller holds it already (price_cart does: one read of the table's version
    from the cache per price instead of two)."""
    table = tax_table() if table is None else table
    day = timezone.localdate(now or timezone.now())
    include = conf.prices_include_tax()
    seller = conf.seller_country()
    rates = rates_at(table, country=destination.country, region=destination.region, day=day)
    not_charged = ""
    if reverse_charge_applies(
        vat_number=destination.vat_number, country=destination.country, seller_country=seller
    ):
        not_charged = REVERSE_CHARGE
    elif rates is None:
        not_charged = EXPORT
    home = {}
    if not_charged and include:
        home = rates_at(table, country=seller, region=conf.seller_region(), day=day) or {}
    return Rules(
        prices_include_tax=include,
        rates=rates or {},
        rounding=conf.rounding(),
        minor_units=minor_units(),
        not_charged=not_charged,
        home_rates=home,
    )
