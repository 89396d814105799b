"""Flash sales (秒杀): taking a unit when hundreds try at the same second.

Two gates, one truth:

1. reserve() — before place_order takes any row lock — asks Redis, in one Lua script
   (atomic, one round trip, no lock anywhere), whether the sale has `n` units left and the
   customer may take `n` more, and counts them if so. Everyone past the cap is refused here
   at once ("sold out"), without touching the database: only about `cap` requests ever go
   further, so the database never sees a queue of waiting locks.
2. claim() — inside place_order's transaction — is the truth: one conditional UPDATE
   (`taken = taken + n WHERE taken + n <= cap`) and a count of the customer's live claims,
   then a FlashClaim row. The UPDATE holds the sale's row until commit, so claims of one
   sale are judged one after the other against every committed claim: the cap and the
   per-customer limit hold even if Redis were wrong, flushed or down.

A reservation whose order is not placed (rolled back, refused later) is given back by
cancel_reservations() (place_order calls it). Redis counters are loaded from the database
when missing and dropped by reconcile_counters() when they disagree with it, so they can be
too strict for a minute at most (a process killed between reserve and commit) and never
too lenient beyond what claim() refuses. When Redis cannot be reached (or
settings.FLASH_REDIS_URL is empty), reserve() falls back to an unlocked read of `taken`
(sold out at once once the cap is reached) and claim() alone guards: slower under a crowd,
never oversold.

Customers: signed-in shoppers by account; guests by the email they give at checkout (in
lower case). A guest with several addresses can buy several times: shops that need more
sell flash sales to signed-in shoppers only (not built).
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache as memoize
from functools import partial

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from promotions.errors import FlashRejected, flash_message
from promotions.models import FlashClaim, FlashSale
from promotions.pricing import LineInput

#: The cached list of flash sales not over yet (pricing and product pages read it).
SCHEDULE_KEY = "promotions:flash:schedule"
#: A safety net: the schedule is dropped whenever a flash sale is saved.
SCHEDULE_TIMEOUT = 5 * 60


@dataclass(frozen=True)
class Sale:
    """A flash sale as pricing, the gate and product pages need it (cached, picklable)."""

    pk: int
    name: str
    variant_id: int
    product_id: int
    price: Decimal
    #: The variant's own price, struck through beside the flash price.
    regular_price: Decimal
    starts_at: datetime
    ends_at: datetime
    cap: int
    per_customer: int

    def is_running(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at


def for_product(*, product_id: int) -> list[Sale]:
    """Flash sales of a product's variants, running or to come (from the cached schedule)."""
    return [sale for sale in schedule() if sale.product_id == product_id]


def schedule() -> list[Sale]:
    """Active flash sales not over yet: from the cache, else 1 query."""
    sales = cache.get(SCHEDULE_KEY)
    if sales is None:
        now = timezone.now()
        rows = FlashSale.objects.not_over(now).select_related("variant").order_by("starts_at", "pk")
        sales = [sale_of(row) for row in rows]
        cache.set(SCHEDULE_KEY, sales, timeout=SCHEDULE_TIMEOUT)
    return sales


def schedule_changed() -> None:
    """A flash sale was saved: drop the cached schedule when the write commits."""
    transaction.on_commit(partial(cache.delete, SCHEDULE_KEY), robust=True)


def running_by_variant(*, variant_ids: Iterable[int], now: datetime) -> dict[int, Sale]:
    wanted = set(variant_ids)
    return {
        sale.variant_id: sale
        for sale in schedule()
        if sale.variant_id in wanted and sale.is_running(now)
    }


def flash_priced(lines: Sequence[LineInput], *, now: datetime) -> list[LineInput]:
    """`lines` with the flash price on every line whose variant is in a running flash sale
    (price_cart() calls this first: while a flash sale runs, its variant sells at its price)."""
    running = running_by_variant(variant_ids=[line.variant_id for line in lines], now=now)
    if not running:
        return list(lines)
    return [
        replace(line, unit_price=running[line.variant_id].price, final_price=True)
        if line.variant_id in running
        else line
        for line in lines
    ]


# --- Who is buying ----------------------------------------------------------------------


def _rejected(reason: str, sale: Sale) -> FlashRejected:
    return FlashRejected(flash_message(reason, sale=sale), reason=reason)


def customer_key(*, user, email: str) -> str:
    if user is not None and getattr(user, "is_authenticated", False):
        return f"u:{user.pk}"
    return f"e:{email.strip().lower()}"


def _customer_filter(*, user, email: str) -> dict:
    if user is not None and getattr(user, "is_authenticated", False):
        return {"user_id": user.pk}
    return {"user__isnull": True, "email": email.strip().lower()}


# --- Redis counters ---------------------------------------------------------------------

#: KEYS: taken, customers. ARGV: n, cap, limit, customer. 1 taken; 0 sold out; -2 over
#: the customer's limit; -1 counters not loaded (the caller loads them and asks again).
RESERVE = """
local taken = redis.call('GET', KEYS[1])
if not taken then return -1 end
local n = tonumber(ARGV[1])
if tonumber(taken) + n > tonumber(ARGV[2]) then return 0 end
local mine = tonumber(redis.call('HGET', KEYS[2], ARGV[4]) or '0')
if mine + n > tonumber(ARGV[3]) then return -2 end
redis.call('INCRBY', KEYS[1], n)
redis.call('HINCRBY', KEYS[2], ARGV[4], n)
return 1
"""
#: KEYS: taken, customers. ARGV: ttl, taken, then customer/units pairs. Loads once (NX).
LOAD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[1])
if #ARGV > 2 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
return 1
"""
#: KEYS: taken, customers. ARGV: n, customer. Gives units back if the counters are loaded.
GIVE_BACK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('DECRBY', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[2], ARGV[2], -tonumber(ARGV[1]))
return 1
"""


@memoize
def _client(url: str) -> redis.Redis:
    # Half a second at most, as the cache's own client (a dead Redis must not hold a
    # checkout for long: the database path takes over).
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


def _redis() -> redis.Redis | None:
    url = settings.FLASH_REDIS_URL
    return _client(url) if url else None


def _keys(sale_id: int) -> list[str]:
    # The database's name in the key: test databases and several shops on one Redis never
    # share a counter.
    base = f"flash:{connection.settings_dict['NAME']}:{sale_id}"
    return [f"{base}:taken", f"{base}:customers"]


def _load(client: redis.Redis, sale: Sale) -> None:
    """Counters from the database, the truth: taken, and each customer's live units."""
    row = FlashSale.objects.filter(pk=sale.pk).values_list("taken", flat=True).first() or 0
    pairs = []
    claims = (
        FlashClaim.objects.filter(sale_id=sale.pk, released_at__isnull=True)
        .values("user_id", "email")
        .annotate(units=Sum("quantity"))
        .order_by()
    )
    for claim in claims:
        key = f"u:{claim['user_id']}" if claim["user_id"] else f"e:{claim['email']}"
        pairs += [key, claim["units"]]
    ttl = max(int((sale.ends_at - timezone.now()).total_seconds()) + 3600, 60)
    client.eval(LOAD, 2, *_keys(sale.pk), ttl, row, *pairs)


@dataclass(frozen=True)
class Reservation:
    sale_id: int
    customer: str
    quantity: int


def reserve(
    *, lines: Sequence[LineInput], user, email: str, now: datetime | None = None
) -> list[Reservation]:
    """Take the flash units of `lines` at the gate, or raise FlashRejected (sold out, over
    the customer's limit) and take nothing. Lines not in a running flash sale pass."""
    now = now or timezone.now()
    wanted = _flash_quantities(lines, now=now)
    if not wanted:
        return []
    customer = customer_key(user=user, email=email)
    client = _redis()
    taken: list[Reservation] = []
    try:
        for sale, quantity in wanted:
            if quantity > sale.per_customer:
                raise _rejected(FlashRejected.OVER_LIMIT, sale)
            result = _redis_reserve(client, sale, quantity=quantity, customer=customer)
            if result is None:  # no Redis: the unlocked read sheds the crowd once sold out
                _check_in_database(sale, quantity=quantity)
                continue
            if result == 0:
                raise _rejected(FlashRejected.SOLD_OUT, sale)
            if result == -2:
                raise _rejected(FlashRejected.OVER_LIMIT, sale)
            taken.append(Reservation(sale_id=sale.pk, customer=customer, quantity=quantity))
    except FlashRejected:
        cancel_reservations(taken)
        raise
    return taken


def _flash_quantities(lines: Sequence[LineInput], *, now: datetime) -> list[tuple[Sale, int]]:
    running = running_by_variant(variant_ids=[line.variant_id for line in lines], now=now)
    quantities: dict[int, int] = defaultdict(int)
    for line in lines:
        if line.variant_id in running:
            quantities[line.variant_id] += line.quantity
    # In the sales' key order, as claim() locks them.
    return sorted(
        ((running[variant_id], n) for variant_id, n in quantities.items()),
        key=lambda pair: pair[0].pk,
    )


def _redis_reserve(client, sale: Sale, *, quantity: int, customer: str) -> int | None:
    """The script's answer, or None when there is no Redis to ask."""
    if client is None:
        return None
    args = (2, *_keys(sale.pk), quantity, sale.cap, sale.per_customer, customer)
    try:
        result = client.eval(RESERVE, *args)
        if result == -1:
            _load(client, sale)
            result = client.eval(RESERVE, *args)
    except redis.RedisError:
        return None
    return None if result == -1 else int(result)


def _check_in_database(sale: Sale, *, quantity: int) -> None:
    taken = FlashSale.objects.filter(pk=sale.pk).values_list("taken", flat=True).first()
    if taken is None or taken + quantity > sale.cap:
        raise _rejected(FlashRejected.SOLD_OUT, sale)


def cancel_reservations(reservations: Iterable[Reservation]) -> None:
    """Give back units reserve() took for an order that was not placed. Best effort: a
    counter Redis lost is loaded again from the database."""
    client = _redis()
    if client is None:
        return
    for held in reservations:
        try:
            client.eval(GIVE_BACK, 2, *_keys(held.sale_id), held.quantity, held.customer)
        except redis.RedisError:
            return


def check(*, lines: Sequence[LineInput], user, email: str, now: datetime | None = None) -> None:
    """Raise FlashRejected if the order of `lines` could not have its flash units now
    (the review page, before the shopper presses "place order"). Reads only."""
    now = now or timezone.now()
    wanted = _flash_quantities(lines, now=now)
    if not wanted:
        return
    customer = _customer_filter(user=user, email=email)
    for sale, quantity in wanted:
        if quantity > sale.per_customer:
            raise _rejected(FlashRejected.OVER_LIMIT, sale)
        if quantity > remaining_of([sale])[sale.pk]:
            raise _rejected(FlashRejected.SOLD_OUT, sale)
        mine = _live_units(sale_id=sale.pk, customer=customer)
        if mine + quantity > sale.per_customer:
            raise _rejected(FlashRejected.OVER_LIMIT, sale)


def _live_units(*, sale_id: int, customer: dict) -> int:
    units = FlashClaim.objects.filter(
        sale_id=sale_id, released_at__isnull=True, **customer
    ).aggregate(units=Sum("quantity"))["units"]
    return units or 0


# --- The truth, in place_order's transaction --------------------------------------------


def claim(
    *,
    lines: Sequence[LineInput],
    user,
    email: str,
    order_number: str,
    now: datetime | None = None,
) -> list[FlashClaim]:
    """Take the flash units of `lines` for an order in the database, or raise
    FlashRejected. Call it inside place_order's transaction (after reserve()).

    Per sale, in primary-key order: one conditional UPDATE (never past the cap; it holds
    the sale's row until commit, so claims of one sale queue here and only here), then the
    customer's live units counted under that lock (READ COMMITTED: the count sees every
    claim committed before the lock was granted), then the claim row."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("claim() runs inside place_order's transaction")
    now = now or timezone.now()
    customer = _customer_filter(user=user, email=email)
    claims = []
    for sale, quantity in _flash_quantities(lines, now=now):
        updated = FlashSale.objects.filter(
            pk=sale.pk,
            is_active=True,
            starts_at__lte=now,
            ends_at__gt=now,
            taken__lte=F("cap") - quantity,
        ).update(taken=F("taken") + quantity)
        if not updated:
            raise _rejected(FlashRejected.SOLD_OUT, sale)
        if _live_units(sale_id=sale.pk, customer=customer) + quantity > sale.per_customer:
            raise _rejected(FlashRejected.OVER_LIMIT, sale)
        claims.append(
            FlashClaim(
                sale_id=sale.pk,
                user_id=customer.get("user_id"),
                email=email.strip().lower(),
                order_number=order_number,
                quantity=quantity,
            )
        )
    return FlashClaim.objects.bulk_create(claims)


def payment_deadline(*, placed_at: datetime) -> datetime:
    """An order with flash units must be paid quickly: its units wait for nobody else."""
    return placed_at + timedelta(minutes=settings.FLASH_PAYMENT_MINUTES)


@transaction.atomic
def release_claims(*, order_number: str, now: datetime | None = None) -> int:
    """Give back the flash units of a cancelled or expired order (idempotent: units already
    given back are not given twice). Returns the units given back."""
    claims = list(
        FlashClaim.objects.select_for_update()
        .filter(order_number=order_number, released_at__isnull=True)
        .order_by("pk")
    )
    if not claims:
        return 0
    FlashClaim.objects.filter(pk__in=[c.pk for c in claims]).update(
        released_at=now or timezone.now()
    )
    for held in claims:
        FlashSale.objects.filter(pk=held.sale_id, taken__gte=held.quantity).update(
            taken=F("taken") - held.quantity
        )
    reservations = [
        Reservation(
            sale_id=held.sale_id,
            customer=f"u:{held.user_id}" if held.user_id else f"e:{held.email}",
            quantity=held.quantity,
        )
        for held in claims
    ]
    transaction.on_commit(partial(cancel_reservations, reservations), robust=True)
    return sum(held.quantity for held in claims)


def reconcile_counters(*, now: datetime | None = None) -> int:
    """Drop the Redis counters of running sales that disagree with the database (a process
    killed between reserve and commit, Redis down during a release): the next shopper
    loads them again from the truth. Every minute on Celery beat. Returns how many."""
    client = _redis()
    now = now or timezone.now()
    sales = [sale for sale in schedule() if sale.is_running(now)]
    if client is None or not sales:
        return 0
    truth = dict(FlashSale.objects.filter(pk__in=[s.pk for s in sales]).values_list("pk", "taken"))
    dropped = 0
    try:
        for sale in sales:
            keys = _keys(sale.pk)
            counted = client.get(keys[0])
            if counted is not None and int(counted) != truth.get(sale.pk):
                client.delete(*keys)
                dropped += 1
    except redis.RedisError:
        return dropped
    return dropped


def remaining_of(sales: Sequence[Sale]) -> dict[int, int]:
    """Units left of each sale: Redis's counters where loaded (they count orders being
    placed this instant), else the database's (1 query for those)."""
    counted: dict[int, int] = {}
    client = _redis()
    if client is not None and sales:
        try:
            values = client.mget([_keys(sale.pk)[0] for sale in sales])
        except redis.RedisError:
            values = [None] * len(sales)
        counted = {sale.pk: int(v) for sale, v in zip(sales, values, strict=True) if v is not None}
    missing = [sale.pk for sale in sales if sale.pk not in counted]
    if missing:
        counted.update(FlashSale.objects.filter(pk__in=missing).values_list("pk", "taken"))
    return {sale.pk: max(sale.cap - counted.get(sale.pk, sale.cap), 0) for sale in sales}


# --- What pages show --------------------------------------------------------------------

UPCOMING, RUNNING, SOLD_OUT = "upcoming", "running", "sold_out"


@dataclass(frozen=True)
class Card:
    """One flash sale as /flash/ and the product page show it."""

    sale: Sale
    left: int
    state: str  #: UPCOMING, RUNNING or SOLD_OUT
    product_name: str = ""
    product_url: str = ""
    image: object = None


def card(sale: Sale, *, left: int, now: datetime, **product) -> Card:
    state = UPCOMING if sale.starts_at > now else RUNNING if left > 0 else SOLD_OUT
    return Card(sale=sale, left=left, state=state, **product)


def cards_for_product(*, product_id: int, now: datetime | None = None) -> list[Card]:
    """The product page's flash block: its sales running or to come, with what is left
    (no query when the schedule is cached and Redis counts; at most 2 otherwise)."""
    now = now or timezone.now()
    sales = [sale for sale in for_product(product_id=product_id) if sale.ends_at > now]
    if not sales:
        return []
    left = remaining_of(sales)
    return [card(sale, left=left[sale.pk], now=now) for sale in sales]


def sale_of(row: FlashSale) -> Sale:
    return Sale(
        pk=row.pk,
        name=row.name,
        variant_id=row.variant_id,
        product_id=row.variant.product_id,
        price=row.price,
        regular_price=row.variant.price,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        cap=row.cap,
        per_customer=row.per_customer,
    )
