import logging
import time
from datetime import date, datetime
from functools import lru_cache, partial

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.db import OperationalError, connection
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import Context, engines
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.html import escape, escapejs
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from catalog import cache, recently_viewed, selectors, services
from catalog.forms import PAGE_SIZES, SORT_LABELS, ListingForm, plain_sort_and_page
from catalog.models import Product
from catalog.seo import product_structured_data
from catalog.templatetags.catalog_tags import CARD_NEXT
from shop.csrf import get_token
from shop.middleware import sessionless_guest
from shop.money import format_money

#: Only these first pages of a listing are cached; deeper pages are rarely read.
CACHED_PAGES = 3
#: PostgreSQL's SQLSTATE for a statement cancelled by `statement_timeout` (query_canceled).
QUERY_CANCELED = "57014"

logger = logging.getLogger(__name__)


def home(request):
    def context():
        tree = selectors.category_tree()
        return {
            "featured": selectors.featured_products(),
            "new_arrivals": selectors.new_arrivals(),
            "top_categories": tree.roots[:8],
        }

    return cache.cached_page(
        request, template="catalog/home.html", scopes=[cache.CATALOG], context=context, vary=""
    )


def category(request, slug):
    # A kept listing page (its own address, a sort, one of the first pages), the most read:
    # the category tree this process read last is taken on trust for the page's one round
    # trip, and confirmed by the catalog's version read with it (every request's first round
    # trip reads it); else (or if the version moved since, or the page is not one that is
    # kept) the tree is read first.
    held = selectors.held_category_tree()
    if held is not None and slug in held[0].by_slug:
        tree, version = held

        def confirm(_read):
            return (
                cache.versions([cache.CATALOG_EXCEPT_STOCK])[cache.CATALOG_EXCEPT_STOCK] == version
            )

        response = _category_page(request, tree, slug, confirm=confirm)
        if response is not None:
            return response
    return _category_page(request, selectors.category_tree(), slug)


def _category_page(request, tree, slug, confirm=None):
    category = selectors.get_category(slug, tree)
    return _listing_page(
        request,
        products=lambda: selectors.products_in_category(category, tree),
        category_ids=lambda: tree.subtree_ids(category),
        scopes=[cache.category_scope(category.pk)],
        template="catalog/category.html",
        extra={
            "category": category,
            "breadcrumbs": tree.ancestors(category),
            "subcategories": tree.children.get(category.pk, []),
        },
        confirm=confirm,
    )


def all_products(request):
    return _listing_page(
        request,
        products=selectors.card_queryset,
        category_ids=lambda: selectors.category_tree().active_ids,
        scopes=[cache.CATALOG],
        template="catalog/products.html",
        extra={},
        default_sort="newest",
    )


def search(request):
    query = selectors.clean_query(request.GET.get("q", ""))
    if not query:
        return render(request, "catalog/search.html", {"query": "", "search_query": ""})
    # The matching products with their relevance, once: whether any matched, then the
    # listing's candidates (kept to the shown ones, counted, filtered, ordered and paged in
    # memory, the page's cards read then). A query whose words only hidden products have is
    # not corrected: its words are the catalog's.
    try:
        found = selectors.search_ids(query)
        corrected = None
        if not len(found):
            suggestion = selectors.did_you_mean(query)
            if suggestion:
                suggested = selectors.search_ids(suggestion)
                if len(suggested):
                    found, corrected = suggested, suggestion
    except OperationalError as error:  # the statement timeout, as in _listing_page()
        if not _statement_timed_out(error):
            raise
        return _too_slow(request, query=query)
    return _listing_page(
        request,
        products=selectors.card_queryset,
        scopes=[cache.CATALOG],
        template="catalog/search.html",
        extra={
            "query": query,
            "search_query": query,
            "corrected": corrected,
            # Called by the template only when nothing was found.
            "popular_categories": selectors.popular_categories,
        },
        category_ids=lambda: selectors.category_tree().active_ids,
        matches=found,
        cacheable=False,
    )


#: Suggestions for a query are kept this long at most (the catalog's version moves them
#: on): long enough for the shoppers typing the same start, short enough that made-up
#: queries do not pile up in the cache.
SUGGEST_TIMEOUT = 5 * 60
#: Suggestions start at this many characters: one letter matches half the catalog.
SUGGEST_MIN_LENGTH = 2


def search_suggest(request):
    """JSON for the search box's suggestions: products (name, link, small picture, price)
    and categories whose words start as the query's do. Any input gives 200 (empty)."""
    query = selectors.clean_query(request.GET.get("q", "")).lower()
    if len(query) < SUGGEST_MIN_LENGTH:
        return JsonResponse({"query": query, "products": [], "categories": []})
    data = cache.cached_data(
        f"suggest:{query}",
        scopes=[cache.CATALOG],
        build=lambda: _suggestions_data(query),
        timeout=SUGGEST_TIMEOUT,
    )
    return JsonResponse(data)


def _suggestions_data(query: str) -> dict:
    found = selectors.search_suggestions(query)
    products = []
    for product in found.products:
        image = selectors.first_image(product, "small")
        price = product.sale_price if product.sale_price is not None else product.price
        products.append(
            {
                "name": product.name,
                "url": product.get_absolute_url(),
                "image": image.url if image else None,
                "price": format_money(min(price, product.price)),
            }
        )
    categories = [{"name": c.name, "url": c.get_absolute_url()} for c in found.categories]
    return {
        "query": query,
        "corrected": found.corrected,
        "products": products,
        "categories": categories,
        "search_url": f"{reverse('catalog:search')}?{urlencode({'q': query})}",
    }


def _listing_page(
    request,
    *,
    products,  # a callable giving the queryset: built only on a cache miss (it costs ~1 ms)
    category_ids,  # a callable giving the categories listed, called on a miss too
    scopes,
    template,
    extra,
    default_sort="relevance",
    cacheable=True,
    matches=None,
    confirm=None,  # see cache.cached_page; None is returned for a page that is not kept
):
    def read_form():
        option_slugs = [choices.option_type.slug for choices in selectors.option_types()]
        form = ListingForm(request.GET, option_slugs=option_slugs)
        form.is_valid()
        return form

    plain = (
        plain_sort_and_page(request.GET, default_sort=default_sort, last_page=CACHED_PAGES)
        if cacheable
        else None
    )
    if plain is not None:
        # A kept page (its own address, a sort, one of the first pages), the most read: the
        # form (with the option types it reads, two fifths of a sorted page's instructions
        # and a cache round trip of its own) is only read to render it, on a miss.
        form = None
        sort, page_number = plain
    elif confirm is not None:
        return None  # only a kept page is served on a guess its versions confirm
    else:
        form = read_form()
        sort, page_number = form.chosen_sort(default=default_sort), form.page_number()

    def context():
        nonlocal form
        form = form or read_form()
        filters = form.filters()
        page_size = form.page_size()
        listing = selectors.listing(
            base=products,
            filters=filters,
            sort=sort,
            offset=(page_number - 1) * page_size,
            limit=page_size,
            category_ids=category_ids(),
            matches=matches,
        )
        paginator = Paginator(range(listing.count), page_size)
        for chip in listing.active_filters:
            chip.remove_url = _url_without(request, chip.param, chip.value)
        return {
            **extra,
            "form": form,
            "listing": listing,
            "filters": filters,
            "sort": sort,
            "default_sort": default_sort,
            "sort_labels": SORT_LABELS,
            "page_sizes": PAGE_SIZES,
            "page_size": page_size,
            "page_number": page_number,
            "paginator": paginator,
            "page_range": paginator.get_elided_page_range(page_number, on_each_side=2)
            if listing.count
            else [],
            "past_the_end": listing.count and page_number > paginator.num_pages,
            "params": request.GET,
            # The sort form sends the filters on; "Clear all" keeps the query and the sort.
            "carried_params": [
                (name, value)
                for name, values in request.GET.lists()
                if name not in ("sort", "per_page", "page")
                for value in values
            ],
            "clear_url": _clear_url(request),
        }

    known = set(request.GET) <= {"sort", "page"}
    try:
        valid = form is None or not form.errors
        if cacheable and known and valid and page_number <= CACHED_PAGES:
            return cache.cached_page(
                request,
                template=template,
                scopes=scopes,
                context=context,
                vary=f"sort={sort}&page={page_number}",
                confirm=confirm,
            )
        return render(request, template, context())
    except OperationalError as error:
        if not _statement_timed_out(error):
            raise
        return _too_slow(request, query=extra.get("query", ""))


def _url_without(request, param: str, value: str) -> str:
    """This listing's URL without `param`=`value` (without `param` at all if `value` is
    empty) and back on its first page, landing on the results."""
    params = request.GET.copy()
    kept = [v for v in params.getlist(param) if value and v != value]
    params.setlist(param, kept)
    params.pop("page", None)
    return f"{request.path}?{params.urlencode()}#results" if params else f"{request.path}#results"


def _clear_url(request) -> str:
    params = request.GET.copy()
    kept = {name: params[name] for name in ("q", "sort", "per_page") if params.get(name)}
    return f"{request.path}?{urlencode(kept)}#results" if kept else f"{request.path}#results"


def _statement_timed_out(error: OperationalError) -> bool:
    """PostgreSQL cancelled the statement at `statement_timeout` (settings), and the
    connection can serve the next one: outside a transaction (requests run in autocommit)
    a cancelled statement leaves nothing to roll back."""
    cancelled = getattr(error.__cause__, "pgcode", None) == QUERY_CANCELED
    return cancelled and not connection.in_atomic_block


def _too_slow(request, *, query: str):
    """A page that says the filters took too long (503: try again), never a dead worker."""
    logger.warning("Listing cancelled at the statement timeout: %s", request.get_full_path())
    response = render(request, "catalog/filters_too_slow.html", {"query": query}, status=503)
    response["Retry-After"] = "30"
    return response


def product_detail(request, slug):
    """The product at its chosen variant (`?variant=`, else the first in stock).

    The option form without JavaScript sends option values (`?colour=red&size=m`): they are
    resolved to a variant and redirected to its canonical `?variant=` address, so that the
    cache holds one page per variant. An unknown variant shows the default one, uncached.
    """
    # Only an address with more than ?variant= asks for the option types (a cache round trip).
    wanted = _wanted_options(request.GET) if set(request.GET) - {"variant"} else {}
    if wanted:
        product = selectors.product_for_page(slug=slug)
        variant = selectors.variant_for_options(
            variants=list(product.variants.all()), wanted=wanted
        )
        if variant is not None:
            return redirect(f"{product.get_absolute_url()}?variant={variant.pk}")
    variant_param = request.GET.get("variant", "")
    if not (variant_param.isdigit() and len(variant_param) <= 12):
        variant_param = ""

    read = {}  # what a rendering read: the stock labels and recommendations need no query
    # The day the page is kept for (its delivery dates): the key and the page name the same.
    today = _shop_day(int(time.time()))

    def context():
        product = read["product"] = selectors.product_for_page(slug=slug)
        variants = read["variants"] = list(product.variants.all())
        chosen = next((v for v in variants if str(v.pk) == variant_param), None)
        unknown = bool(variant_param) and chosen is None
        chosen = chosen or next((v for v in variants if v.stock > 0), None)
        chosen = chosen or (variants[0] if variants else None)
        images = list(product.images.all())
        return {
            "product": product,
            "variants": variants,
            "chosen": chosen,
            "options": selectors.option_groups(variants=variants, images=images, chosen=chosen),
            "images": images,
            # The chosen variant's pictures first (server-rendered; product.js reorders the
            # same way when another variant is picked).
            "gallery": selectors.gallery_for(images, chosen),
            "breadcrumbs": _breadcrumbs(product),
            "structured_data": product_structured_data(
                product=product, variants=variants, images=images
            ),
            "shop_day": today,
            "returns_days": settings.RETURNS_DAYS,
            "returns_free": settings.RETURNS_FREE,
            # A made-up ?variant= is shown the default page, never kept under its own key.
            cache.UNCACHED: unknown,
        }

    def page(product_id: int, confirm=None):
        return cache.cached_page(
            request,
            template="catalog/product.html",
            # Not CATALOG: another product selling out keeps the page (its recommendations,
            # which show other products, are a fragment kept per CATALOG's version).
            scopes=[cache.product_scope(product_id), cache.CATALOG_EXCEPT_STOCK],
            context=context,
            holes={
                "wishlist": lambda: _wishlist_button(request, product_id),
                "recently-viewed": lambda: _recently_viewed(request, exclude=[product_id]),
                # Higher apps' (promotions' flash sales: the countdown and what is left are
                # right on every request).
                **{
                    name: partial(fill, request, product_id)
                    for name, fill in cache.PRODUCT_HOLES.items()
                },
            },
            # The day too: the delivery estimate names dates.
            vary=f"variant={variant_param}&day={today.isoformat()}",
            confirm=confirm,
            fragments=[
                # Each variant's stock label, moved by most sales while the page stands.
                cache.Fragment(
                    name=f"stock:{product_id}",
                    scopes=(cache.stock_scope(product_id),),
                    build=lambda: _stock_holes(
                        read.get("variants") or selectors.variant_stocks(product_id=product_id)
                    ),
                ),
                # Other products, in stock now: moved by any of them selling out.
                cache.Fragment(
                    name=f"recommendations:{product_id}:{variant_param}",
                    scopes=(cache.CATALOG,),
                    build=lambda: _recommendation_holes(
                        read.get("product"), product_id, page=_address(request, variant_param)
                    ),
                ),
            ],
        )

    # The id this process found for the slug, if any, is taken on trust for the page's one
    # round trip and confirmed by the catalog's version read with it; else (or if the
    # version moved since) it is found first.
    response = None
    if held := selectors.held_product_id(slug=slug):
        product_id, found_at = held
        response = page(
            product_id, confirm=lambda read: read[cache.CATALOG_EXCEPT_STOCK] == found_at
        )
    if response is None:
        product_id = selectors.published_product_id(slug=slug)
        response = page(product_id)
    recently_viewed.remember_view(request, response, product_id=product_id)
    return response


@lru_cache(maxsize=2)  # this second's, and the last one's for a request crossing a second
def _shop_day(second: int) -> date:
    """The shop's day at `second` (no time zone is ever activated), worked out once a
    second: timezone.localdate() converted the moment on every request (15,000
    instructions)."""
    return datetime.fromtimestamp(second, timezone.get_default_timezone()).date()


def _stock_holes(variants) -> dict[str, str]:
    """The product page's stock holes for each of its `variants` (their stock alone: one
    small query, selectors.variant_stocks, when the page was not rendered with them): the
    level ("out", "low", "in": the label's class and product.js's data), the label ("Only 3
    left") and the label as JavaScript string text. Whether a variant is in stock at all is
    printed in the page (the default variant, sold-out options, the button): a variant
    selling out or coming back moves the product's own version (catalog.stock)."""
    template = engines["django"].engine.get_template("catalog/_stock_label.html")
    holes = {}
    for variant in variants:
        label = template.render(Context({"variant": variant}))
        holes[f"stock-level-{variant.pk}"] = variant.stock_level
        holes[f"stock-label-{variant.pk}"] = label
        holes[f"stock-label-js-{variant.pk}"] = escapejs(label)
    return holes


def _address(request, variant_param: str) -> str:
    """The product page's own address, as its kept page is: at its `?variant=` if any."""
    return request.path + (f"?variant={variant_param}" if variant_param else "")


def _recommendation_holes(product, product_id: int, *, page: str) -> dict[str, str]:
    """The product page's recommendations (bought together, then similar products) for the
    `product` the page was rendered with, else for `product_id` (its category read first):
    the same for every visitor, the cards' forms leading back to `page`. A plain Context:
    the cards read nothing else, and the context processors cost more than they."""
    product = product or selectors.product_with_category(product_id=product_id)
    template = engines["django"].engine.get_template("catalog/_recommendations.html")
    context = {
        "recommendations": selectors.recommendations_for(product=product),
        "cards_next": escape(page),
        "csrf_token": cache.CSRF_PLACEHOLDER,
    }
    return {"recommendations": template.render(Context(context))}


def _wanted_options(params) -> dict[int, int]:
    """Option type id -> value id named by `?<type slug>=<value slug>` parameters (from the
    shared option types: no query); unknown types and values are left out."""
    wanted = {}
    for choices in selectors.option_types():
        slug = params.get(choices.option_type.slug)
        value = next((v for v in choices.values if v.slug == slug), None) if slug else None
        if value is not None:
            wanted[choices.option_type.pk] = value.pk
    return wanted


def _breadcrumbs(product):
    tree = selectors.category_tree()
    category = tree.by_id.get(product.category_id)
    return [*tree.ancestors(category), category] if category else []


def _hole(request, template_name: str, context: dict) -> str:
    """A hole of a cached page whose template reads only `context`, the request, the user
    and the CSRF token: rendered with a plain Context, without the context processors a
    RequestContext runs (they cost more than such a hole)."""
    template = engines["django"].engine.get_template(template_name)
    return template.render(
        Context(
            {
                **context,
                "request": request,
                "user": request.user,
                "csrf_token": SimpleLazyObject(lambda: get_token(request)),
            }
        )
    )


def _wishlist_button(request, product_id: int) -> str:
    if sessionless_guest(request) or not request.user.is_authenticated:
        # The path and the path info name the script prefix (WSGIRequest's path is the two
        # joined) and, with the query string, the full path: the key is read without
        # either (the prefix is a thread's local, 15,000 instructions; the full path a
        # quoting), the button made from them once per address.
        return _guest_wishlist_button(
            request.LANGUAGE_CODE,
            request.path,
            request.path_info,
            request.META.get("QUERY_STRING", ""),
            request,
        )
    next_path = request.get_full_path()
    saved = bool(selectors.wishlisted_product_ids(user=request.user, product_ids=[product_id]))
    context = {"product_id": product_id, "saved": saved, "next_path": next_path}
    return _hole(request, "catalog/_wishlist_button.html", context)


#: A guest's wishlist button per (language, path, path info, query string): at most
#: GUEST_BUTTONS addresses, all given up when full (the hot ones come back at once).
_guest_buttons: dict[tuple[str, str, str, str], str] = {}
GUEST_BUTTONS = 1024


def _guest_wishlist_button(language: str, path: str, path_info: str, query: str, request) -> str:
    """A guest's button, a link to sign in and come back: the same for every guest of an
    address (`request` is read on a miss only, and is not part of the key)."""
    key = (language, path, path_info, query)
    button = _guest_buttons.get(key)
    if button is None:
        if len(_guest_buttons) >= GUEST_BUTTONS:
            _guest_buttons.clear()
        template = engines["django"].engine.get_template("catalog/_wishlist_button.html")
        context = {"user": AnonymousUser(), "next_path": request.get_full_path()}
        button = _guest_buttons[key] = template.render(Context(context))
    return button


def _recently_viewed(request, *, exclude: list[int]) -> str:
    """The visitor's recently viewed products (a hole: the page around it is shared);
    nothing at all for a visitor who has seen no other product.

    The section is kept as HTML per list of products, language and catalog version (its
    cards show names, prices, stock and pictures, which all move the catalog's version),
    with markers for what is the visitor's own: the page its forms come back to and the
    CSRF token (filled by cached_page). Reading and rendering the cards was two thirds of
    a returning visitor's product page."""
    wanted = [pk for pk in recently_viewed.viewed_product_ids(request) if pk not in exclude]
    if not wanted:  # the section's template shows nothing then either
        return ""
    html = cache.cached_data(
        "recently-viewed:" + ".".join(map(str, wanted)),
        scopes=[cache.CATALOG],
        build=lambda: _recently_viewed_section(wanted),
        timeout=cache.PAGE_TIMEOUT,
    )
    return html.replace(CARD_NEXT, escape(request.get_full_path())) if html else ""


def _recently_viewed_section(product_ids: list[int]) -> str:
    products = selectors.recently_viewed(product_ids=product_ids)
    if not products:
        return ""
    return render_to_string(
        "catalog/_recently_viewed.html",
        {
            "recently_viewed": products,
            "csrf_token": cache.CSRF_PLACEHOLDER,
            "cards_next": CARD_NEXT,
        },
    )


@login_required
def wishlist(request):
    return render(
        request, "catalog/wishlist.html", {"items": selectors.wishlist_for(user=request.user)}
    )


@require_POST
def wishlist_add(request, product_id):
    product = get_object_or_404(Product.objects.published(), pk=product_id)
    if not request.user.is_authenticated:
        # Cards on cached listings offer this to everybody: a guest signs in first and comes
        # back to the page they were on (a GET to this URL could not save anything).
        messages.info(request, _("Sign in to keep products in your wishlist."))
        back = _back(request, fallback=product.get_absolute_url())
        return redirect_to_login(back.url)
    services.add_to_wishlist(user=request.user, product=product)
    messages.success(request, _("“%(name)s” is in your wishlist.") % {"name": product.name})
    return _back(request, fallback=product.get_absolute_url())


@login_required
@require_POST
def wishlist_remove(request, product_id):
    if services.remove_from_wishlist(user=request.user, product_id=product_id):
        messages.success(request, _("Removed from your wishlist."))
    return _back(request, fallback="catalog:wishlist")


def _back(request, *, fallback: str):
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(fallback)
