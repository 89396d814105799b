"""Cells of the merchant's lists, built from columns and annotations the list's query
already read (catalog.selectors.with_admin_list_columns): never a query per row."""

from decimal import Decimal

from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from catalog.models import LOW_STOCK
from catalog.selectors import first_image
from shop.money import format_money


def thumbnail_html(product) -> str:
    """The product's first picture, small; a grey square with its initial when it has none.
    Decorative (empty alt): the product's name is the next cell."""
    picture = first_image(product, "small")
    if picture is None:
        return format_html(
            '<span class="list-thumb list-thumb--none" aria-hidden="true">{}</span>',
            product.name[:1].upper(),
        )
    return format_html(
        '<img class="list-thumb" src="{}" alt="" width="40" height="40" loading="lazy">',
        picture.url,
    )


def price_html(*, low: Decimal, high: Decimal | None, sale: Decimal | None) -> str:
    """ "$12.00", or "from $12.00" when the active variants' prices differ; a running sale
    is said underneath."""
    text = format_money(low)
    if high is not None and high > low:
        text = _("from %(price)s") % {"price": text}
    if sale is None:
        return text
    return format_html(
        '{}<br><span class="list-note">{}</span>',
        text,
        _("on sale from %(price)s") % {"price": format_money(sale)},
    )


def stock_html(*, stock: int, variants: int) -> str:
    """Units in stock over the active variants: "12", or "3 variants, 12 in stock"; low and
    sold-out levels are marked in words, not only in colour."""
    if variants > 1:
        text = ngettext(
            "%(variants)d variant, %(stock)d in stock",
            "%(variants)d variants, %(stock)d in stock",
            variants,
        ) % {"variants": variants, "stock": stock}
    else:
        text = str(stock)
    if stock <= 0:
        level, flag = "out", _("sold out")
    elif stock <= LOW_STOCK:
        level, flag = "low", _("low")
    else:
        return text
    return format_html('{} <span class="list-flag list-flag--{}">{}</span>', text, level, flag)
