"""The layout's parts that differ between visitors, filled into cached pages on each request
(catalog.cache.SITE_HOLES names these).

Without a RequestContext: running every context processor for a few links cost more than
the rest of a cached page. Each hole is given exactly what its template reads, from the
same functions the context processors use, so it shows what an uncached page shows.
"""

from django.contrib.messages import get_messages
from django.template import Context, engines
from django.template.loader import render_to_string
from django.utils.functional import SimpleLazyObject

from shop.context_processors import _cart_count
from shop.csrf import get_token
from shop.middleware import may_have_messages, sessionless_guest


def site_actions(request) -> str:
    """The header's account links and cart count (shop/_account_links.html through the
    site_actions tag: a guest's rendered once per language and count in each process, and
    taken from there without a template around them)."""
    from shop.templatetags.shop_tags import guest_links
    from shop.templatetags.shop_tags import site_actions as tag

    if sessionless_guest(request):  # no session: no cart either
        return guest_links(
            cart_count=getattr(request, "cart_item_count", 0), language=request.LANGUAGE_CODE
        )
    if not request.user.is_authenticated:
        return guest_links(cart_count=_cart_count(request), language=request.LANGUAGE_CODE)
    context = Context(
        {
            "request": request,
            "user": request.user,
            "cart_count": _cart_count(request),
            # Only a signed-in shopper's links hold a form (sign out): the token is made then.
            "csrf_token": SimpleLazyObject(lambda: get_token(request)),
        }
    )
    context.template = engines["django"].engine.get_template("shop/_site_actions.html")
    return tag(context)


def messages(request) -> str:
    """The visitor's messages; most requests have none, and then nothing is rendered (nor
    their storage read, for a visitor with neither a messages cookie nor a session). The
    template reads only them: rendered without the context processors."""
    if not may_have_messages(request) or not (stored := get_messages(request)):
        return ""
    return render_to_string("shop/_messages.html", {"messages": stored})
