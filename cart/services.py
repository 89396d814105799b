"""Every change to a cart. Prices are read from the database here, never from the browser.

A shopper's own changes (add, quantities, remove, empty) commit without waiting for the disk
(shop.transactions): on their own, they held the cart's rows for the disk's write, which was
most of a quantity update's time; inside a larger transaction they keep its commit."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.db import connections, router, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cart import locks
from cart.models import Cart, CartLine
from catalog.models import Variant
from promotions import flash
from promotions.pricing import format_money
from shop.sql import quoted
from shop.transactions import atomic_without_waiting_for_disk, execute_without_waiting_for_disk

#: Most units of one variant in a cart: stops one shopper emptying the shelf by mistake.
MAX_LINE_QUANTITY = settings.CART_MAX_LINE_QUANTITY


class CartError(Exception):
    """A change the cart refuses, with the sentence the page shows."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Unavailable(CartError):
    pass


class OutOfStock(CartError):
    pass


class InvalidQuantities(CartError):
    """Some of the quantities asked for cannot be had; `errors` maps line id to why."""

    def __init__(self, errors: dict[int, str]):
        super().__init__(_("Some quantities could not be changed: nothing was changed."))
        self.errors = errors


def cart_of(*, user) -> Cart:
    """The signed-in shopper's cart, made on first use."""
    cart, _created = Cart.objects.get_or_create(user=user)
    return cart


def new_guest_cart() -> Cart:
    return Cart.objects.create()


def line_limit(variant: Variant) -> int:
    return min(variant.stock, MAX_LINE_QUANTITY)


def is_sellable(variant: Variant) -> bool:
    product = variant.product
    return variant.is_active and product.is_published and product.category.is_active


def _check_addable(variant: Variant, quantity: int) -> None:
    """Raise what the shopper is told when `variant` cannot go in a cart at all."""
    if quantity < 1:
        raise CartError(_("Choose a quantity of at least 1."))
    if not is_sellable(variant):
        raise Unavailable(_("Sorry, this product is not sold any more."))
    if variant.stock == 0:
        raise OutOfStock(_("Sorry, “%(name)s” is sold out.") % {"name": variant.product.name})
    if flash.running_by_variant(variant_ids=[variant.pk], now=timezone.now()):
        # While its flash sale runs the variant sells only through "Buy now" (a unit held
        # for a signed-in shopper), never from the cart at the regular path.
        raise Unavailable(
            _("“%(name)s” is in a flash sale: press “Buy now” on its page.")
            % {"name": variant.product.name}
        )


@atomic_without_waiting_for_disk()
def add_line(*, cart: Cart, variant: Variant, quantity: int) -> str:
    """Put `quantity` of `variant` in the cart (added to what is there), up to the stock and
    the line maximum. Returns what the shopper is told; raises when nothing could be added.
    """
    _check_addable(variant, quantity)
    # The cart's row first: with no line to lock yet, two adds of a new variant would both
    # create it and the second would fail on the unique (cart, variant) constraint.
    locks.touch_cart_for_update(pk=cart.pk)
    line = locks.line_for_update(cart=cart, variant_id=variant.pk)
    held = line.quantity if line else 0
    limit = line_limit(variant)
    if held >= limit:
        raise OutOfStock(_limit_message(variant, limit))
    added = min(quantity, limit - held)
    if line:
        line.quantity += added
        line.seen_price = variant.price
        line.is_selected = True
        line.group_id = None  # bought the usual way now, at the usual price
        line.save(update_fields=["quantity", "seen_price", "is_selected", "group_id"])
    else:
        CartLine.objects.create(
            cart=cart, variant=variant, quantity=added, seen_price=variant.price
        )
    return _added_message(variant, asked=quantity, added=added, limit=limit)


def add_to_new_guest_cart(*, variant: Variant, quantity: int) -> tuple[int, str]:
    """A guest's first add: their cart made with its first line, in one transaction, and only
    when something is added, so a refused add leaves no empty cart. No other request can see
    the new cart yet: nothing to lock. Returns the cart's id and what the shopper is told."""
    _check_addable(variant, quantity)
    limit = line_limit(variant)
    added = min(quantity, limit)
    cart_id = _new_cart_with_line(variant=variant, quantity=added)
    return cart_id, _added_message(variant, asked=quantity, added=added, limit=limit)


def _new_cart_with_line(*, variant: Variant, quantity: int) -> int:
    """A new cart holding `quantity` of `variant`, its commit not waiting for the disk; its id.
    On PostgreSQL one statement in one round trip (shop.transactions), where the ORM's two
    INSERTs in a transaction took five round trips and three times the CPU; elsewhere the
    ORM's."""
    using = router.db_for_write(Cart)
    if connections[using].vendor != "postgresql":
        with atomic_without_waiting_for_disk():
            cart = Cart.objects.create()
            CartLine.objects.create(
                cart=cart, variant=variant, quantity=quantity, seen_price=variant.price
            )
        return cart.pk
    now = timezone.now()
    (cart_id,) = execute_without_waiting_for_disk(
        _new_cart_sql(using),
        [now, now, variant.pk, quantity, variant.price, now],
        using=using,
    )
    return cart_id


@cache
def _new_cart_sql(using: str) -> str:
    """INSERT a cart (no shopper, no coupon), then its line (ticked, no group buy), in one
    statement: the models' own table and column names, every value a parameter."""
    carts, cart_id, *cart_columns = quoted(
        using, Cart, "id", "coupon_code", "created_at", "updated_at"
    )
    lines, line_cart, *line_columns = quoted(
        using, CartLine, "cart", "variant", "quantity", "is_selected", "seen_price", "added_at"
    )
    return (
        f"WITH new_cart AS (INSERT INTO {carts} ({', '.join(cart_columns)}) "  # noqa: S608 # nosec B608
        f"VALUES ('', %s, %s) RETURNING {cart_id}) "
        f"INSERT INTO {lines} ({', '.join([line_cart, *line_columns])}) "
        f"SELECT {cart_id}, %s, %s, TRUE, %s, %s FROM new_cart "
        f"RETURNING {line_cart}"
    )


def _added_message(variant: Variant, *, asked: int, added: int, limit: int) -> str:
    if added < asked:
        return _limit_message(variant, limit)
    return ngettext(
        "Added %(count)d × “%(name)s” to your cart.",
        "Added %(count)d × “%(name)s” to your cart.",
        added,
    ) % {"count": added, "name": variant.product.name}


def put_group_line(*, cart: Cart, variant: Variant, group_id: int) -> None:
    """Make one unit of `variant`, joining group buy `group_id`, the only ticked line of the
    cart: checkout then buys the group's item alone (its order waits for the group to fill,
    and nothing else should wait with it). Other lines stay in the cart, unticked; a line of
    the same variant becomes the group's."""
    _check_alone(variant, 1)
    with transaction.atomic():
        locks.touch_cart_for_update(pk=cart.pk)
        _put_alone(cart_id=cart.pk, variant=variant, quantity=1, group_id=group_id)


def put_flash_line(*, user, variant: Variant, quantity: int) -> None:
    """Make `quantity` of `variant`, held for the signed-in `user` by its flash sale's "Buy
    now", the only ticked line of their cart (made if they have none): checkout then prices
    and buys that item alone, at the flash price (price_cart). Other lines stay in the cart,
    unticked.

    Every winner of a sale's first second comes here at once, before the crowd behind them
    can be told "sold out": three statements in one transaction (the cart made or marked
    changed, which locks it; the other lines unticked; the line made or set), where
    cart_of() and a line read under the cart's lock took seven to eleven."""
    _check_alone(variant, quantity)
    with transaction.atomic():
        cart_id = locks.own_cart_for_update(user=user)
        _put_alone(cart_id=cart_id, variant=variant, quantity=quantity, group_id=None)


def _check_alone(variant: Variant, quantity: int) -> None:
    if not is_sellable(variant):
        raise Unavailable(_("Sorry, this product is not sold any more."))
    if variant.stock < quantity:
        raise OutOfStock(_("Sorry, “%(name)s” is sold out.") % {"name": variant.product.name})


def _put_alone(*, cart_id: int, variant: Variant, quantity: int, group_id: int | None) -> None:
    """Under the cart's lock: the other lines unticked, the line of `variant` made or set (one
    INSERT ... ON CONFLICT: a line already there keeps its place, `added_at`)."""
    CartLine.objects.filter(cart_id=cart_id).exclude(variant=variant).update(is_selected=False)
    CartLine.objects.bulk_create(
        [
            CartLine(
                cart_id=cart_id,
                variant=variant,
                quantity=quantity,
                is_selected=True,
                group_id=group_id,
                seen_price=variant.price,
            )
        ],
        update_conflicts=True,
        unique_fields=["cart", "variant"],
        update_fields=["quantity", "is_selected", "group_id", "seen_price"],
    )


def _limit_message(variant: Variant, limit: int) -> str:
    if limit == variant.stock:
        return ngettext(
            "Only %(count)d of “%(name)s” is in stock, and it is in your cart.",
            "Only %(count)d of “%(name)s” are in stock, and they are all in your cart.",
            limit,
        ) % {"count": limit, "name": variant.product.name}
    return _(
        "You can buy at most %(count)d of “%(name)s” at a time, and they are in your cart."
    ) % {"count": limit, "name": variant.product.name}


@dataclass(frozen=True)
class LineChange:
    quantity: int
    selected: bool


@atomic_without_waiting_for_disk()
def update_lines(*, cart: Cart, changes: Callable[[list[int]], dict[int, LineChange]]) -> None:
    """Set quantities and ticks of the cart's lines, all or nothing: `changes` says, given
    the ids of the cart's lines (read under their lock), what to make of each (the posted
    form: cart.forms.posted_changes), or raises InvalidQuantities.

    Lines of another cart are ignored. A quantity above the stock or the line maximum makes
    the whole change fail, with the reason for each line, so the shopper can correct it.
    """
    locked = locks.lines_for_update(cart=cart)
    wanted = changes([line.pk for line in locked])
    lines = [line for line in locked if line.pk in wanted]
    errors = {}
    for line in lines:
        quantity = wanted[line.pk].quantity
        limit = line_limit(line.variant)
        if quantity < 1:
            errors[line.pk] = _("Choose at least 1, or remove the item.")
        elif line.group_id and quantity != 1:
            errors[line.pk] = _("A group buy is for one item.")
        elif quantity > limit:
            errors[line.pk] = (
                _("Only %(count)d left in stock.") % {"count": limit}
                if limit == line.variant.stock
                else _("At most %(count)d at a time.") % {"count": limit}
            )
    if errors:
        raise InvalidQuantities(errors)
    changed = []
    for line in lines:
        change = wanted[line.pk]
        if (line.quantity, line.is_selected) != (change.quantity, change.selected):
            line.quantity, line.is_selected = change.quantity, change.selected
            changed.append(line)
    _write_quantities(cart=cart, lines=changed)


def _write_quantities(*, cart: Cart, lines: list[CartLine]) -> None:
    """Write the lines' new quantities and ticks (only the lines that change) and mark the
    cart changed. On PostgreSQL one statement, the same whatever the lines (their values as
    arrays): the ORM built an UPDATE per new (quantity, tick) and one for the cart, a fifth
    of a quantity update's CPU. Elsewhere the ORM's bulk_update."""
    using = router.db_for_write(CartLine)
    now = timezone.now()
    if connections[using].vendor == "postgresql":
        with connections[using].cursor() as cursor:
            cursor.execute(
                _quantities_sql(using),
                [
                    [line.pk for line in lines],
                    [line.quantity for line in lines],
                    [line.is_selected for line in lines],
                    cart.pk,
                    now,
                    cart.pk,
                ],
            )
        return
    if lines:
        CartLine.objects.bulk_update(lines, ["quantity", "is_selected"])
    Cart.objects.filter(pk=cart.pk).update(updated_at=now)


@cache
def _quantities_sql(using: str) -> str:
    """UPDATE the cart's lines named in the arrays to their quantity and tick, then mark the
    cart: the models' own table and column names, every value a parameter."""
    lines, pk, quantity, selected, cart_id = quoted(
        using, CartLine, "id", "quantity", "is_selected", "cart"
    )
    carts, updated_at = quoted(using, Cart, "updated_at")
    return (
        f"WITH changed AS (UPDATE {lines} SET {quantity} = new.quantity, "  # noqa: S608 # nosec B608
        f"{selected} = new.selected "
        "FROM unnest(%s::bigint[], %s::integer[], %s::boolean[]) AS new(pk, quantity, selected) "
        f"WHERE {lines}.{pk} = new.pk AND {lines}.{cart_id} = %s) "
        f"UPDATE {carts} SET {updated_at} = %s WHERE {pk} = %s"
    )


@atomic_without_waiting_for_disk()
def remove_line(*, cart: Cart, line_id: int) -> bool:
    deleted, _rows = CartLine.objects.filter(cart=cart, pk=line_id).delete()
    return bool(deleted)


@atomic_without_waiting_for_disk()
def empty_cart(*, cart: Cart) -> None:
    CartLine.objects.filter(cart=cart).delete()
    Cart.objects.filter(pk=cart.pk).update(coupon_code="", updated_at=timezone.now())


@transaction.atomic(savepoint=False)
def remove_bought_lines(*, cart: Cart, line_ids: list[int]) -> None:
    """Take what was just ordered out of the cart, with its coupon (used up by the order);
    unticked lines stay for another day. No savepoint of its own: it runs inside
    place_order's transaction, which rolls back as a whole if it fails. On PostgreSQL one
    statement whatever the number of lines (the ORM's DELETE and UPDATE were two, a tenth of
    place_order's CPU); elsewhere those two."""
    using = router.db_for_write(Cart)
    if connections[using].vendor != "postgresql":
        CartLine.objects.filter(cart=cart, pk__in=line_ids).delete()
        Cart.objects.filter(pk=cart.pk).update(coupon_code="", updated_at=timezone.now())
        return
    with connections[using].cursor() as cursor:
        cursor.execute(_remove_lines_sql(using), [cart.pk, list(line_ids), timezone.now(), cart.pk])


@cache
def _remove_lines_sql(using: str) -> str:
    """DELETE the cart's lines among some ids, then clear the cart's coupon and mark it
    changed, in one statement: the models' own table and column names, every value a
    parameter. A line of another cart is never deleted (its cart in the WHERE)."""
    carts, cart_id, coupon, updated = quoted(using, Cart, "id", "coupon_code", "updated_at")
    lines, line_id, line_cart = quoted(using, CartLine, "id", "cart")
    return (
        f"WITH removed AS (DELETE FROM {lines} "  # noqa: S608 # nosec B608
        f"WHERE {line_cart} = %s AND {line_id} = ANY(%s)) "
        f"UPDATE {carts} SET {coupon} = '', {updated} = %s WHERE {cart_id} = %s"
    )


@transaction.atomic
def set_coupon_code(*, cart: Cart, code: str) -> None:
    cart.coupon_code = code.strip()[:40]
    cart.save(update_fields=["coupon_code", "updated_at"])


@transaction.atomic
def merge_carts(*, source: Cart, target: Cart) -> list[str]:
    """Move a guest's cart into the shopper's on sign-in: quantities add up, capped by the
    stock and the line maximum, and each cap is told (nothing is silently lost).
    """
    notices = []
    locks.cart_for_update(pk=target.pk)  # an add to the target at the same moment queues
    held = {
        line.variant_id: line
        for line in CartLine.objects.select_for_update().filter(cart=target).order_by("pk")
    }
    for line in source.lines.select_related("variant__product").order_by("pk"):
        mine = held.get(line.variant_id)
        wanted = line.quantity + (mine.quantity if mine else 0)
        limit = line_limit(line.variant)
        kept = min(wanted, limit)
        if kept < wanted:
            notices.append(
                _("“%(name)s”: you had %(wanted)d in your carts, %(kept)d can be bought.")
                % {"name": line.variant.product.name, "wanted": wanted, "kept": kept}
            )
        if mine:
            mine.quantity = max(kept, 1)
            mine.save(update_fields=["quantity"])
            line.delete()
        else:
            line.cart = target
            line.quantity = max(kept, 1)
            line.save(update_fields=["cart", "quantity"])
    if source.coupon_code and not target.coupon_code:
        target.coupon_code = source.coupon_code
    target.save(update_fields=["coupon_code", "updated_at"])
    source.delete()
    return notices


def reconcile_lines(*, lines: list[CartLine]) -> list[str]:
    """Bring lines in line with the catalog as it is now, and say what changed: a new price,
    less stock than the quantity (reduced), a product sold out or no longer sold (marked).

    Sets `line.problem` on each line (empty when it can be bought) for the page to show.
    """
    notices, changed = [], []
    for line in lines:
        variant = line.variant
        name = variant.product.name
        line.problem = ""
        line.price_was = None
        if not is_sellable(variant):
            line.problem = _("No longer sold")
            notices.append(_("“%(name)s” is no longer sold.") % {"name": name})
            continue
        if variant.stock == 0:
            line.problem = _("Sold out")
            notices.append(_("“%(name)s” is sold out.") % {"name": name})
            continue
        if line.quantity > line_limit(variant):
            line.quantity = line_limit(variant)
            changed.append(line)
            notices.append(
                _("Only %(count)d of “%(name)s” left: we lowered your quantity.")
                % {"count": line.quantity, "name": name}
            )
        if line.seen_price != variant.price:
            notices.append(
                _("The price of “%(name)s” changed from %(old)s to %(new)s.")
                % {
                    "name": name,
                    "old": format_money(line.seen_price),
                    "new": format_money(variant.price),
                }
            )
            line.price_was = line.seen_price
            line.seen_price = variant.price
            changed.append(line)
    if changed:
        CartLine.objects.bulk_update(set(changed), ["quantity", "seen_price"])
    return notices


@transaction.atomic
def clear_stale_carts(*, days: int) -> int:
    """Delete guests' carts untouched for `days` days; shoppers' carts are kept."""
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _rows = Cart.objects.filter(user__isnull=True, updated_at__lt=cutoff).delete()
    return deleted
