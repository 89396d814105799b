"""Region codes of the countries whose taxes differ by state or province, so that a region
typed as a name ("California", "new york") finds the rate entered for its code ("CA")."""

REGIONS = {
    "US": {
        "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
        "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
        "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
        "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
        "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan",
        "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
        "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
        "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota",
        "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
        "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee",
        "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
        "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming", "PR": "Puerto Rico",
    },
    "CA": {
        "AB": "Alberta", "BC": "British Columbia", "MB": "Manitoba", "NB": "New Brunswick",
        "NL": "Newfoundland and Labrador", "NS": "Nova Scotia", "NT": "Northwest Territories",
        "NU": "Nunavut", "ON": "Ontario", "PE": "Prince Edward Island", "QC": "Quebec",
        "SK": "Saskatchewan", "YT": "Yukon",
    },
}  # fmt: skip

_BY_NAME = {
    country: {name.casefold(): code for code, name in names.items()}
    for country, names in REGIONS.items()
}


def region_code(country: str, region: str) -> str:
    """The code of `region` in `country`: "California" and "ca" give "CA"; a region of a
    country not listed here comes back upper-cased and trimmed."""
    text = " ".join((region or "").split())
    if not text:
        return ""
    country = (country or "").upper()
    found = _BY_NAME.get(country, {}).get(text.casefold())
    if found:
        return found
    upper = text.upper()
    if country in REGIONS and upper.startswith(f"{country}-"):
        upper = upper[len(country) + 1 :]
    return upper


def region_name(country: str, code: str) -> str:
    return REGIONS.get((country or "").upper(), {}).get(code, code)
