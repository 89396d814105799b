from decimal import Decimal, InvalidOperation

from django import template
from django.conf import settings
from django.urls import translate_url
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from shop.money import format_money

register = template.Library()


@register.filter
def money(value, currency=None) -> str:
    """An amount in the shop's currency ("$1,234.50"), or in `currency` when given
    (`{{ amount|money:order.currency }}`); empty for no amount."""
    if value is None or value == "":
        return ""
    try:
        return format_money(Decimal(value), currency or None)
    except (InvalidOperation, TypeError, ValueError):
        return ""


# --- Languages: each has its own URLs (English unprefixed, Chinese under /zh-hans/) ---------


@register.filter
def language_tag(code: str) -> str:
    """A Django language code as a BCP 47 tag, for lang and hreflang: "zh-hans" is "zh-Hans"."""
    first, *rest = (code or settings.LANGUAGE_CODE).split("-")
    return "-".join([first, *(part.title() if len(part) == 4 else part.upper() for part in rest)])


@register.simple_tag
def absolute_url(path: str) -> str:
    """A path of the shop as a full URL at its public address (settings.SHOP_URL)."""
    return settings.SHOP_URL.rstrip("/") + path


@register.simple_tag(takes_context=True)
def path_in_language(context, language: str, path: str | None = None) -> str:
    """This page, its query (filters, sort, page) kept, or `path` (of the active language)
    in `language`'s URLs."""
    return translate_url(path or context["request"].get_full_path(), language)


@register.simple_tag
def language_links(path: str, page: int = 1) -> str:
    """The canonical link of the page at `path` (a path of the active language; `page` of a
    paginated list) and its alternates in every language, English being the default."""
    if page > 1:
        path = f"{path}?{urlencode({'page': page})}"
    alternates = [(language_tag(code), code) for code, _name in settings.LANGUAGES]
    alternates.append(("x-default", settings.LANGUAGE_CODE))
    return format_html(
        '<link rel="canonical" href="{}">\n  {}',
        absolute_url(path),
        format_html_join(
            "\n  ",
            '<link rel="alternate" hreflang="{}" href="{}">',
            ((tag, absolute_url(translate_url(path, code))) for tag, code in alternates),
        ),
    )
