"""The Simplified Chinese catalogue is complete, compiled, and used by the pages.

The .po file is read with a tiny parser (no polib): every entry must have a
translation, none may be fuzzy, and the compiled .mo must hold the same
translations (so a forgotten `compilemessages` fails here).
"""

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings

LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
PO_FILE = LOCALE_DIR / "django.po"
MO_FILE = LOCALE_DIR / "django.mo"

_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(".*")\s*$')
_PLACEHOLDER = re.compile(r"%\([A-Za-z_]+\)[sdif]|%%")


def _parse_po(path):
    """Return the entries of a .po file as dicts: flags, msgctxt, msgid, msgid_plural, msgstr."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        entry = {"flags": set(), "msgstr": {}}
        field = None
        for line in block.strip().splitlines():
            if line.startswith("#~"):  # obsolete entry: not compiled
                entry = None
                break
            if line.startswith("#,"):
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
                continue
            if line.startswith("#"):
                continue
            match = _KEYWORD.match(line)
            if match:
                field, value = match.group(1), ast.literal_eval(match.group(2))
            else:
                value = ast.literal_eval(line.strip())
            if field.startswith("msgstr"):
                index = int(field[7:-1]) if "[" in field else None
                entry["msgstr"][index] = entry["msgstr"].get(index, "") + value
            else:
                entry[field] = entry.get(field, "") + value
        if entry is not None and "msgid" in entry:
            entries.append(entry)
    return entries


@pytest.fixture(scope="module")
def entries():
    return _parse_po(PO_FILE)


def test_header_declares_chinese_with_one_plural_form(entries):
    header = entries[0]
    assert header["msgid"] == ""
    assert "fuzzy" not in header["flags"]
    text = header["msgstr"][None]
    assert "Language: zh_Hans\n" in text
    assert "charset=UTF-8" in text
    assert "Plural-Forms: nplurals=1; plural=0;" in text


def test_every_msgid_is_translated_and_none_is_fuzzy(entries):
    messages = entries[1:]
    assert len(messages) > 500
    fuzzy = [e["msgid"] for e in messages if "fuzzy" in e["flags"]]
    assert fuzzy == []
    empty = [e["msgid"] for e in messages if not all(e["msgstr"].values()) or not e["msgstr"]]
    assert empty == []
    plural_shape = [e["msgid"] for e in messages if "msgid_plural" in e and set(e["msgstr"]) != {0}]
    assert plural_shape == []


def test_translations_keep_their_placeholders(entries):
    broken = []
    for e in entries[1:]:
        wanted = sorted(_PLACEHOLDER.findall(e["msgid"]))
        wanted_plural = sorted(_PLACEHOLDER.findall(e.get("msgid_plural", e["msgid"])))
        for msgstr in e["msgstr"].values():
            if sorted(_PLACEHOLDER.findall(msgstr)) not in (wanted, wanted_plural):
                broken.append(e["msgid"])
    assert broken == []


def test_compiled_catalogue_covers_every_msgid(entries):
    with MO_FILE.open("rb") as fp:
        catalog = gettext.GNUTranslations(fp)._catalog
    stale = []
    for e in entries[1:]:
        key = e["msgid"] if "msgctxt" not in e else f"{e['msgctxt']}\x04{e['msgid']}"
        if "msgid_plural" in e:
            if catalog.get((key, 0)) != e["msgstr"][0]:  # stale .mo: run compilemessages
                stale.append(e["msgid"])
        elif catalog.get(key) != e["msgstr"][None]:
            stale.append(e["msgid"])
    assert stale == []


@pytest.mark.django_db
def test_home_page_in_chinese(client):
    response = client.get("/zh-hans/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'lang="zh-Hans"' in html
    assert "搜索商品" in html  # Search products
    assert "Search products" not in html


@pytest.mark.django_db
def test_cart_page_in_chinese(client):
    response = client.get("/zh-hans/cart/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "我的购物车" in html  # Your cart
    assert "Your cart" not in html
