"""Demo tax data for seed_demo: the four classes and the rates named in the issue. Idempotent:
a rate already there (same place, class and start) is left alone. Figures as published by
the tax offices for 2026; a demo, not tax advice."""

from datetime import date
from decimal import Decimal

from django.db import transaction

from taxes.models import TaxClass, TaxRate
from taxes.selectors import rates_changed

CLASSES = [
    (TaxClass.STANDARD, "Standard rate", False),
    (TaxClass.REDUCED, "Reduced rate", False),
    (TaxClass.ZERO, "Zero rate", False),
    (TaxClass.EXEMPT, "Exempt", True),
]

SINCE = date(2020, 1, 1)

#: Standard VAT of the 27 member states.
EU_STANDARD = {
    "AT": "20", "BE": "21", "BG": "20", "CY": "19", "CZ": "21", "DE": "19", "DK": "25",
    "ES": "21", "FR": "20", "GR": "24", "HR": "25", "HU": "27", "IE": "23", "IT": "22",
    "LT": "21", "LU": "17", "LV": "21", "MT": "18", "NL": "21", "PL": "23", "PT": "23",
    "SE": "25", "SI": "22",
}  # fmt: skip
#: Rates that changed recently: (rate, valid from, valid until), to show validity periods.
EU_CHANGED = {
    "EE": [("22", SINCE, date(2025, 7, 1)), ("24", date(2025, 7, 1), None)],
    "FI": [("24", SINCE, date(2024, 9, 1)), ("25.5", date(2024, 9, 1), None)],
    "RO": [("19", SINCE, date(2025, 8, 1)), ("21", date(2025, 8, 1), None)],
    "SK": [("20", SINCE, date(2025, 1, 1)), ("23", date(2025, 1, 1), None)],
}
#: A reduced rate for a few member states (books, food).
EU_REDUCED = {"DE": "7", "FR": "5.5", "IT": "10", "ES": "10", "NL": "9", "AT": "10"}

#: (country, region, class, rate, name)
OTHERS = [
    ("GB", "", TaxClass.STANDARD, "20", "VAT"),
    ("GB", "", TaxClass.REDUCED, "5", "VAT"),
    ("GB", "", TaxClass.ZERO, "0", "VAT"),
    ("CN", "", TaxClass.STANDARD, "13", "增值税"),
    ("CN", "", TaxClass.REDUCED, "9", "增值税"),
    ("US", "CA", TaxClass.STANDARD, "7.25", "Sales tax"),
    ("US", "NY", TaxClass.STANDARD, "4", "Sales tax"),
    ("US", "TX", TaxClass.STANDARD, "6.25", "Sales tax"),
    ("US", "WA", TaxClass.STANDARD, "6.5", "Sales tax"),
    ("CA", "", TaxClass.STANDARD, "5", "GST"),
    ("CA", "ON", TaxClass.STANDARD, "13", "HST"),
    ("CA", "BC", TaxClass.STANDARD, "12", "GST+PST"),
    ("AU", "", TaxClass.STANDARD, "10", "GST"),
]


@transaction.atomic
def create_demo_taxes() -> int:
    """Make sure the demo classes and rates exist; returns how many rates were added."""
    classes = {}
    for position, (code, name, exempt) in enumerate(CLASSES):
        classes[code], _created = TaxClass.objects.get_or_create(
            code=code, defaults={"name": name, "is_exempt": exempt, "position": position}
        )
    wanted = []
    for country, rate in EU_STANDARD.items():
        wanted.append((country, "", TaxClass.STANDARD, rate, "VAT", SINCE, None))
    for country, periods in EU_CHANGED.items():
        for rate, start, end in periods:
            wanted.append((country, "", TaxClass.STANDARD, rate, "VAT", start, end))
    for country, rate in EU_REDUCED.items():
        wanted.append((country, "", TaxClass.REDUCED, rate, "VAT", SINCE, None))
    for country, region, code, rate, name in OTHERS:
        wanted.append((country, region, code, rate, name, SINCE, None))
    existing = set(
        TaxRate.objects.values_list("country", "region", "tax_class__code", "valid_from")
    )
    new = [
        TaxRate(
            country=country,
            region=region,
            tax_class=classes[code],
            rate=Decimal(rate),
            name=name,
            valid_from=start,
            valid_until=end,
        )
        for country, region, code, rate, name, start, end in wanted
        if (country, region, code, start) not in existing
    ]
    TaxRate.objects.bulk_create(new)
    rates_changed()
    return len(new)


def demo_class_codes() -> dict[str, str]:
    """Which class the demo catalog's top categories get (books reduced, the rest standard)."""
    return {"Books": TaxClass.REDUCED}
