from decimal import Decimal, InvalidOperation
from functools import lru_cache

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template import Context, engines
from django.template.loader import render_to_string
from django.urls import get_script_prefix, translate_url
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import get_language

from catalog import cache as catalog_cache
from catalog.selectors import category_tree
from promotions import flash
from shop.money import format_money

register = template.Library()


def translated_url(path: str, language: str) -> str:
    """translate_url(), worked out once per path: resolving and reversing a path costs
    more than the rest of the language links, and the answer depends only on the URL
    patterns (fixed while the process runs) and the language the path is read in."""
    return _translated_url(path, language, get_language())


@lru_cache(maxsize=1024)  # the paths asked last; made-up query strings only push them out
def _translated_url(path: str, language: str, _read_in: str | None) -> str:
    return translate_url(path, language)


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
    return translated_url(path or context["request"].get_full_path(), language)


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
            ((tag, absolute_url(translated_url(path, code))) for tag, code in alternates),
        ),
    )


# --- The layout ---------------------------------------------------------------------------


@register.simple_tag(takes_context=True)
def category_menu(context) -> str:
    """The header's category menu. The same on every page but a category's own, which marks
    its link as the current one (and is a cached page itself): so rendered once per catalog
    version and language in each process (catalog.cache.shared), not on every page."""
    if context.get("request") is None:
        # Error pages render without a request or context processors (the database may be
        # what failed): no menu there, as before.
        return ""
    current = context.get("category")
    if current:
        return _category_menu(current)
    # A SafeString, kept as one in the process and through the cache's pickling.
    return catalog_cache.shared("category-menu-html", lambda: _category_menu(None))


def _category_menu(current) -> str:
    return render_to_string(
        "shop/_category_menu.html", {"category_menu": category_tree().roots, "category": current}
    )


@register.simple_tag(takes_context=True)
def site_actions(context) -> str:
    """The header's account links and cart count (shop/_account_links.html).

    A signed-in shopper's hold their own sign-out form (its CSRF token) and maybe the admin's
    link: rendered on every request. A guest's hold no form and nothing of theirs but the
    count, so they are the same for every guest with as many items in the cart: rendered
    once per language and count in each process (on every page, cached ones included)."""
    user = context.get("user")
    if user is not None and user.is_authenticated:
        template = context.template.engine.get_template(ACCOUNT_LINKS)
        with context.push(flash_on=_flash_on()):
            return template.render(context)
    return guest_links(cart_count=context.get("cart_count", ""))


ACCOUNT_LINKS = "shop/_account_links.html"


def guest_links(*, cart_count, language: str | None = None) -> str:
    """A guest's account links and cart count, from this process's copy (cached pages'
    header hole takes them straight from here, without rendering a template around them,
    and gives the request's `language`: cheaper than reading the active one)."""
    key = (language or get_language(), get_script_prefix())  # what they are read in
    return _guest_links(key, str(cart_count), _flash_on())


def _flash_on() -> bool:
    """A link to /flash/ while a flash sale runs or is to come: read from the cached schedule
    (one cache read, never a query: until a product page, a cart or /flash/ loads the
    schedule into a cold cache, the header goes without the link)."""
    return any(sale.ends_at > timezone.now() for sale in flash.cached_schedule())


@lru_cache(maxsize=512)  # two languages times the counts guests' carts have, flash or not
def _guest_links(_read_in: tuple, cart_count: str, flash_on: bool) -> str:
    # The template is asked for only here: asking the loader on every request read the
    # active language again (shop.template_loaders keeps templates per language).
    template = engines["django"].engine.get_template(ACCOUNT_LINKS)
    return template.render(Context({"cart_count": cart_count, "flash_on": flash_on}))


@receiver(setting_changed)
def _forget_guest_links(setting, **kwargs) -> None:
    if setting == "TEMPLATES":  # Django makes its template engines anew then
        _guest_links.cache_clear()
