"""What the checkout's pages keep as HTML: the layout of each step, and the form a guest
starts from.

A checkout step's page (checkout, review) is its layout (head, header, title, steps, footer:
the same for every visitor of its address and language) around the visitor's own part, its
body. The layout is rendered once per catalog version in each process with holes for the
messages and the body (page()); rendering it was a third of the review page's template work.

A guest's first checkout page (nothing entered in this checkout yet, no coupon on the cart)
shows every guest of a language the same form: the same empty fields, the shop's country
with its address fields, the active shipping methods and the payment methods. Rendering its
fields (some thirty template includes and the widgets' templates) was most of that page's
work. Here it is rendered once per catalog version, language and address (catalog.cache
.shared: a change of a shipping method moves the catalog's version, orders.receivers) and
the settings it is built from, with the CSRF token a placeholder swapped for the visitor's
own: it holds nothing of any shopper. Every other checkout form (details already entered, a
coupon, a signed-in shopper, a form posted back) is rendered for its request.
"""

import hashlib
from collections.abc import Callable

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from catalog import cache as catalog_cache
from orders.selectors import payment_methods
from shop.csrf import get_token
from taxes import conf as tax_conf

FORM_TEMPLATE = "orders/_checkout_form.html"


def sees_first_form(*, user, saved: dict, cart) -> bool:
    """Whether this shopper's checkout starts from the first form: a guest with nothing
    entered in this checkout (`saved`, the session's details) and no coupon on the cart."""
    return not user.is_authenticated and not saved and not cart.coupon_code


def first_form(request, *, build: Callable[[], object]) -> SafeString:
    """The HTML of a guest's first checkout form (`build()` makes the form when it is not
    kept yet), with this visitor's CSRF token."""
    inputs = (
        tuple((code, str(label)) for code, label in payment_methods()),
        tax_conf.fapiao_offered(),
        settings.ADDRESS_DEFAULT_COUNTRY,
        settings.SHOP_CURRENCY,
    )
    digest = hashlib.sha256(repr(inputs).encode()).hexdigest()[:16]
    html = catalog_cache.shared(
        f"checkout-first-form:{request.path}:{digest}", lambda: _render(request, build())
    )
    return mark_safe(html.replace(catalog_cache.CSRF_PLACEHOLDER, get_token(request)))  # noqa: S308 # nosec


def _render(request, form) -> str:
    context = {
        "form": form,
        "address_form": form.address_form,
        "csrf_token": catalog_cache.CSRF_PLACEHOLDER,
    }
    return render_to_string(FORM_TEMPLATE, context, request=request)


def page(request, *, template: str, hole: str, body: str) -> bytes:
    """The whole page of a checkout step, as UTF-8: `template`'s layout (catalog.cache
    .kept_layout_parts, kept cut at its holes) with this visitor's messages, their `body` in
    `<!--hole:HOLE-->` and one CSRF token filled in."""
    layout = catalog_cache.kept_layout_parts(request, template)
    return catalog_cache.fill(request, layout, holes={hole: lambda: body})
