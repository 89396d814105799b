import html
import re
from collections.abc import Callable
from functools import partial

from django import template
from django.core.cache import cache as page_cache
from django.template.defaulttags import querystring
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import numberformat
from django.utils.formats import get_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst
from django.utils.translation import get_language, gettext

from catalog import cache
from catalog.selectors import PageOfCards, first_image

register = template.Library()

#: What differs between two showings of the same card, left as markers in its kept HTML:
#: the name (highlighted with a search's words), the page the card's forms come back to.
#: Escaped product data cannot forge them (its "<" is "&lt;").
CARD_NAME = SafeString("<!--card:name-->")
CARD_NEXT = SafeString("<!--card:next-->")


def _escape(text) -> str:
    """Django's escape() of a value (the same characters), without its check for lazy
    arguments: the listing's tags escape some three hundred values a page."""
    return html.escape(str(text))


def _integers() -> Callable[[int], str]:
    """localize() for integers (as number_format() formats them), the active language's
    separators looked up once for a page rather than once for each of its numbers (a filter
    panel prints some sixty counts)."""
    language = get_language()
    return partial(
        numberformat.format,
        decimal_sep=get_format("DECIMAL_SEPARATOR", language),
        grouping=get_format("NUMBER_GROUPING", language),
        thousand_sep=get_format("THOUSAND_SEPARATOR", language),
        use_l10n=True,
    )


def highlighter(query: str) -> Callable[[str], str]:
    """A function giving a text escaped, with each word of `query` wrapped in <mark>: the
    words' pattern made once for a page of cards rather than once for each card."""
    words = sorted({w for w in (query or "").split() if len(w) >= 2}, key=len, reverse=True)
    if not words:
        return _escape
    pattern = re.compile("|".join(re.escape(_escape(w)) for w in words), re.IGNORECASE)

    def marked(text: str) -> str:
        # The text and the words are escaped; only our <mark> tags are raw.
        return pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", _escape(text))

    return marked


@register.filter
def highlight(text: str, query: str) -> str:
    """`text` escaped, with each word of `query` wrapped in <mark>."""
    return mark_safe(highlighter(query)(text))  # noqa: S308 # nosec


@register.simple_tag
def stars(average) -> str:
    """Five characters, full stars for the rounded average: "★★★★☆"."""
    full = int(float(average or 0) + 0.5)
    return "★" * full + "☆" * (5 - full)


@register.simple_tag(takes_context=True)
def product_cards(context, products) -> str:
    """The cards of `products` (a list, or a listing's PageOfCards), each an <li>, rendered
    once per product, preferred pictures, language and catalog version and kept in the cache
    (one round trip for the page's cards); a listing's products are only read for the cards
    not kept.

    A card is the same on every listing but for its name (a search highlights its words),
    its forms' "next" page and the CSRF token: those are markers in the kept HTML, filled in
    here for this request (the name is kept beside it). Rendering two dozen cards was most of
    an uncached listing's CPU (about 1 ms a card); taking them from the cache costs one
    get_many. The key holds the catalog's version, which every change to a product, its
    prices, stock, brand or pictures moves (catalog.cache.products_changed), as it does the
    cached pages that show cards (for products given already read, CATALOG_EXCEPT_STOCK's
    and whether the product is in stock); and the option values whose pictures a filtered
    listing shows first (the red one), which choose the card's picture.
    """
    if isinstance(products, PageOfCards):
        ids, read, preferring = products.ids, products.read, products.preferring
        version = cache.versions([cache.CATALOG])[cache.CATALOG]
        shows = dict.fromkeys(ids, ".".join(str(value) for value in preferring))
    else:
        # Products already read: whether each is in stock is known, so their cards are kept
        # per CATALOG_EXCEPT_STOCK's version, and another product selling out keeps them.
        given = {product.pk: product for product in products}
        ids, read = list(given), lambda wanted: given
        version = cache.versions([cache.CATALOG_EXCEPT_STOCK])[cache.CATALOG_EXCEPT_STOCK]
        shows = {pk: f"in-stock={product.in_stock}" for pk, product in given.items()}
    if not ids:
        return ""
    request = context.get("request")
    query = context.get("query") or ""
    keys = {pk: f"catalog:cards:{get_language()}:{version}:{pk}:{shows[pk]}" for pk in ids}
    kept = page_cache.get_many(list(keys.values()))
    missing = [pk for pk in ids if keys[pk] not in kept]
    if missing:
        cart_add_url = reverse("cart:add")  # the same for every card: reversed once
        fresh = {
            keys[pk]: (product.name, _card_html(product, cart_add_url))
            for pk, product in read(missing).items()
            if pk in keys
        }
        page_cache.set_many(fresh, timeout=cache.PAGE_TIMEOUT)
        kept.update(fresh)
    if "cards_next" in context:  # a section kept for many pages leaves its own marker
        next_url = context["cards_next"]
    else:
        next_url = escape(request.get_full_path()) if request is not None else ""
    token = str(context.get("csrf_token") or "")
    named = highlighter(query)
    cards = []
    for pk in ids:
        if keys[pk] not in kept:
            continue  # no longer shown (unpublished since the page was chosen)
        name, card = kept[keys[pk]]
        card = card.replace(CARD_NAME, named(name)).replace(CARD_NEXT, next_url)
        cards.append(f"<li>{card.replace(cache.CSRF_PLACEHOLDER, token)}</li>")
    # The cards were rendered by their template (autoescaped); the name and the page are
    # escaped above, the token is Django's own.
    return mark_safe("\n".join(cards))  # noqa: S308 # nosec


@register.simple_tag
def facet_fieldsets(facets) -> str:
    """The filter panel's facets, each a <fieldset> of checkboxes. Built here rather than by
    loops in the template: a broad search shows some sixty values, and the template's nodes
    for them were about a sixth of its CPU (2 ms of 13 at 10,000 products). Printed as the
    loop over the facets printed them (its indentation included): the page is unchanged."""
    number = _integers()
    fieldsets = []
    for facet in facets:
        swatches = ' class="filters__swatches"' if facet.values and facet.values[0].swatch else ""
        fieldsets.append(
            '\n        <fieldset class="filters__group">\n'
            f"          <legend>{_escape(capfirst(facet.label))}</legend>\n"
            f"          <ul{swatches}>\n"
            f"            {_facet_choices(facet, number)}\n          </ul>\n"
            "        </fieldset>\n      "
        )
    # Every value is escaped (_facet_choices); the markup is this function's own.
    return mark_safe("".join(fieldsets))  # noqa: S308 # nosec


def _facet_choices(facet, number: Callable[[int], str]) -> str:
    """A facet's values as checkboxes, each an <li>."""
    param = _escape(facet.param)
    items = []
    for value in facet.values:
        slug = _escape(value.slug)
        checked = " checked" if value.selected else ""
        swatch = (
            '<svg class="swatch" viewBox="0 0 20 20" aria-hidden="true" focusable="false">'
            f'<circle cx="10" cy="10" r="9" fill="{_escape(value.swatch)}"/></svg>'
            if value.swatch
            else ""
        )
        items.append(
            f'<li><input type="checkbox" id="f-{param}-{slug}" name="{param}" value="{slug}"'
            f'{checked}><label for="f-{param}-{slug}">{swatch}{_escape(value.label)} '
            f'<span class="filters__count">({_escape(number(value.count))})</span></label></li>'
        )
    return "\n".join(items)


#: Built here rather than by loops in the template, as facet_fieldsets() is: the listing's
#: sort menus, page sizes and page links were about a tenth of an uncached search's CPU
#: (some 1.3 ms of 10 at 10,000 products). Each prints the bytes its loop printed, its
#: indentation included, so that a page's HTML is unchanged.


@register.simple_tag
def sort_options(labels: dict, chosen: str) -> str:
    """The <option>s of a sort menu: `labels` (value -> label), `chosen` selected."""
    options = [
        f'\n            <option value="{_escape(value)}"{" selected" if value == chosen else ""}>'
        f"{_escape(label)}</option>\n          "
        for value, label in labels.items()
    ]
    # Escaped above; the markup is this function's own.
    return mark_safe("".join(options))  # noqa: S308 # nosec


@register.simple_tag
def page_size_options(sizes, chosen: int) -> str:
    """The <option>s of the page-size menu, `chosen` selected."""
    number = _integers()
    options = [
        f'<option value="{number(size)}"{" selected" if size == chosen else ""}>'
        f"{number(size)}</option>"
        for size in sizes
    ]
    return mark_safe("".join(options))  # noqa: S308 # nosec


@register.simple_tag
def page_links(params, number: int, numbers, last: int, ellipsis) -> str:
    """A listing's pagination items: "Previous", the pages of `numbers` (some of them
    `ellipsis`, Paginator.ELLIPSIS), page `number` marked current, and "Next" unless
    `number` is `last`; each link is `params` (the query string) on another page."""
    numeral = _integers()

    def href(page: int) -> str:
        return _escape(querystring(None, params, page=page))

    items = []
    for shown in numbers:
        if shown == ellipsis:
            item = '<li><span aria-hidden="true">…</span></li>\n              '
        elif shown == number:
            item = (
                f'<li><a aria-current="page" href="{href(shown)}">{numeral(shown)}'
                "</a></li>\n              "
            )
        else:
            item = f'<li><a href="{href(shown)}">{numeral(shown)}</a></li>'
        items.append(f"\n              {item}\n            ")
    previous = (
        f'<li><a href="{href(number - 1)}" rel="prev">{_escape(gettext("Previous"))}</a></li>'
        if number > 1
        else ""
    )
    following = (
        f'<li><a href="{href(number + 1)}" rel="next">{_escape(gettext("Next"))}</a></li>'
        if number < last
        else ""
    )
    # Escaped above; the markup is this function's own.
    return mark_safe(f"{previous}\n            {''.join(items)}\n            {following}")  # noqa: S308 # nosec


def _card_html(product, cart_add_url: str) -> str:
    return render_to_string(
        "catalog/_product_card.html",
        {
            "product": product,
            "picture": first_image(product, "card"),
            "cart_add_url": cart_add_url,
            "card_name": CARD_NAME,
            "card_next": CARD_NEXT,
            "csrf_token": cache.CSRF_PLACEHOLDER,
        },
    )
