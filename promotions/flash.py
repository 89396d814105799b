"""Flash sales (秒杀): taking a unit when hundreds try at the same second.

Three steps, one truth:

1. hold() — the product page's "Buy now" (立即抢购), before any checkout — asks Redis, in
   one Lua script (atomic, one round trip, no lock anywhere), whether the sale has `n`
   units left and the customer may take `n` more, and holds them for the customer for
   FLASH_HOLD_MINUTES if so. Everyone past the cap is refused there at once ("sold out"),
   with no pricing and no database write: only about `cap` shoppers ever reach checkout.
   A hold not turned into an order lapses: the next script run on the sale gives its units
   back (expired holds are swept inside every script, so no timer is needed).
2. reserve() — in place_order, before any row lock — finds the customer's hold (or, for a
   flash line that came another way, takes a unit as hold() would), so the crowd never
   queues on the variant's row.
3. claim() — inside place_order's transaction — is the truth: one conditional UPDATE
   (`taken = taken + n WHERE taken + n <= cap`) and a count of the customer's live claims,
   then a FlashClaim row. The UPDATE holds the sale's row until commit, so claims of one
   sale are judged one after the other against every committed claim: the cap and the
   per-customer limit hold even if Redis were wrong, flushed or down. On commit the hold
   becomes the claim (Redis keeps counting the units; the hold's expiry is dropped).

Redis counts, per sale: `taken` (units claimed in the database plus units held), each
customer's units (claimed plus held), and the holds with their expiry. A reservation whose
order is not placed is given back by cancel_reservations() (a hold stays until it lapses,
so the shopper can try again). Counters are loaded from the database when missing (holds
are then lost: their shoppers take a unit again when they place the order, if one is
left) and dropped by reconcile_counters() when `taken` minus the units held disagrees with
the database's `taken` on two runs in a row (once may be an order being placed), so they
can be too strict for two minutes at most (a process killed between reserve and commit)
and never too lenient beyond what claim() refuses. When Redis
cannot be reached (or settings.FLASH_REDIS_URL is empty), hold() and reserve() fall back to
an unlocked read of `taken` (sold out at once once the cap is reached) and claim() alone
guards: nothing is held for the shopper, who may be told "sold out" when placing the order;
slower under a crowd, never oversold.

Customers: signed-in shoppers only, by account (common practice in China: several guest
emails would be several customers). A guest is refused with SIGN_IN everywhere a unit is
taken.
"""

import contextlib
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache as memoize
from functools import partial

import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from catalog import cache as catalog_cache
from promotions.errors import FlashRejected, flash_message
from promotions.models import FlashClaim, FlashSale
from promotions.pricing import LineInput
from shop.held import held_if_built, held_per_version

#: The list of flash sales not over yet (pricing, product pages and the header read it),
#: held per version in each process and in the cache (shop.held).
SCHEDULE_NAME = "promotions:flash-schedule"
#: The flash sales' version (catalog.cache's versions), moved when a flash sale is saved.
SCHEDULE_SCOPE = "promotions:flash-sales"
#: A safety net behind the versions: the cache's copy expires after this (seconds).
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


#: The schedule one order is judged by, while one_schedule() is in force.
_judged_by: ContextVar[list[Sale] | None] = ContextVar("flash_schedule", default=None)


@contextlib.contextmanager
def one_schedule():
    """Inside, schedule() is read once: place_order's gate, pricing and claim judge the same
    sales, so a sale switched off or edited while an order is placed (its schedule dropped
    between two reads) cannot price the order without claim() seeing it. claim()'s UPDATE
    still asks the database whether the sale is on: if not, the order is refused."""
    token = _judged_by.set(schedule())
    try:
        yield
    finally:
        _judged_by.reset(token)


def schedule() -> list[Sale]:
    """Active flash sales not over yet, for the current versions: held in this process,
    else from the cache, else 1 query; while one_schedule() is in force, the one it read."""
    judged = _judged_by.get()
    if judged is not None:
        return judged
    return held_per_version(
        SCHEDULE_NAME, schedule_version(), _build_schedule, timeout=SCHEDULE_TIMEOUT
    )


def _build_schedule() -> list[Sale]:
    rows = FlashSale.objects.not_over(timezone.now()).select_related("variant")
    return [sale_of(row) for row in rows.order_by("starts_at", "pk")]


def schedule_version() -> str:
    """The flash sales' version and the catalog's: a sale shows its variant's own price
    beside the flash price, and a change of that price moves the catalog's. Both are read
    with a request's first versions (catalog.cache), so on a page they cost no round trip."""
    found = catalog_cache.versions([SCHEDULE_SCOPE, catalog_cache.CATALOG])
    return f"{found[SCHEDULE_SCOPE]}:{found[catalog_cache.CATALOG]}"


#: Seconds a process takes the cache's word that nobody has built the schedule of the
#: current versions yet: meanwhile its pages go without the header's link (as they did
#: until a product page, a cart or /flash/ built it) instead of asking on every page.
UNBUILT_RECHECK = 30
#: The versions this process last found unbuilt in the cache: {version: monotonic time}.
_unbuilt: dict[str, float] = {}


def cached_schedule() -> list[Sale]:
    """The schedule if this process or the cache holds it, else nothing: never a query (the
    header's link to /flash/ on every page reads it; product pages, carts and /flash/ build
    it). The cache is asked at most every UNBUILT_RECHECK seconds while it has none."""
    version = schedule_version()
    seen = _unbuilt.get(version)
    recent = seen is not None and time.monotonic() - seen < UNBUILT_RECHECK
    sales = held_if_built(SCHEDULE_NAME, version, ask_cache=not recent)
    if sales is None and not recent:
        _unbuilt.clear()  # only the current versions matter
        _unbuilt[version] = time.monotonic()
    return sales or []


def schedule_changed() -> None:
    """A flash sale was saved: a new schedule for every process when the write commits
    (catalog.cache.bump: never for a write that rolls back, and a schedule built from the
    old rows before the commit is left behind)."""
    catalog_cache.bump([SCHEDULE_SCOPE])


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


def _signed_in(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False)


def customer_key(*, user, email: str = "") -> str:
    if _signed_in(user):
        return f"u:{user.pk}"
    return f"e:{email.strip().lower()}"


def _customer_filter(*, user, email: str) -> dict:
    if user is not None and getattr(user, "is_authenticated", False):
        return {"user_id": user.pk}
    return {"user__isnull": True, "email": email.strip().lower()}


# --- Redis counters ---------------------------------------------------------------------

#: Every script's KEYS: taken, customers (customer -> units claimed or held), holds (a
#: sorted set: customer by expiry, epoch seconds), held (customer -> units held).
#: Holds whose time is up give their units back (ARGV `now`): called first by every script
#: that reads the counters, so a lapsed hold is back before anyone is told "sold out".
SWEEP = """
local function sweep(now)
  local lapsed = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
  for _, who in ipairs(lapsed) do
    local units = tonumber(redis.call('HGET', KEYS[4], who) or '0')
    redis.call('DECRBY', KEYS[1], units)
    redis.call('HINCRBY', KEYS[2], who, -units)
    redis.call('HDEL', KEYS[4], who)
  end
  if #lapsed > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now) end
end
"""
#: ARGV: n, cap, limit, customer, now, hold until (0: take without holding). 1 taken
#: (held if asked); 2 the customer holds n (a hold of fewer grows to n, its expiry kept,
#: when taking without holding); 0 sold out; -2 over the customer's limit; -1 counters not
#: loaded (the caller loads them and asks again). Units already held count once: only the
#: units beyond the hold are judged against the cap and the limit, and added.
TAKE = (
    SWEEP
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
sweep(ARGV[5])
local n = tonumber(ARGV[1])
local held = tonumber(redis.call('HGET', KEYS[4], ARGV[4]) or '0')
if held >= n then return 2 end
local more = n - held
if tonumber(redis.call('GET', KEYS[1])) + more > tonumber(ARGV[2]) then return 0 end
local mine = tonumber(redis.call('HGET', KEYS[2], ARGV[4]) or '0')
if mine + more > tonumber(ARGV[3]) then return -2 end
redis.call('INCRBY', KEYS[1], more)
redis.call('HINCRBY', KEYS[2], ARGV[4], more)
local ttl = redis.call('TTL', KEYS[1])
-- Every key dies with `taken` (the customers' hash too: loaded empty, it had no expiry).
if ttl > 0 then redis.call('EXPIRE', KEYS[2], ttl) end
if tonumber(ARGV[6]) > 0 then
  redis.call('ZADD', KEYS[3], ARGV[6], ARGV[4])
elseif held == 0 then
  return 1
end
redis.call('HINCRBY', KEYS[4], ARGV[4], more)
if ttl > 0 then
  redis.call('EXPIRE', KEYS[3], ttl)
  redis.call('EXPIRE', KEYS[4], ttl)
end
if tonumber(ARGV[6]) > 0 then return 1 end
return 2
"""
)
#: ARGV: ttl, taken, then customer/units pairs. Loads once (NX); holds start afresh.
LOAD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[1])
if #ARGV > 2 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
return 1
"""
#: ARGV: n, customer. Gives units back if the counters are loaded.
GIVE_BACK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('DECRBY', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[2], ARGV[2], -tonumber(ARGV[1]))
return 1
"""
#: ARGV: customer, units kept. The customer's hold ends: up to `units kept` stay counted
#: (the hold became a claim of that many in the database), the rest go back (0: a hold
#: given up).
END_HOLD = """
local units = tonumber(redis.call('HGET', KEYS[4], ARGV[1]) or '0')
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
local back = units - tonumber(ARGV[2])
if back > 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('DECRBY', KEYS[1], back)
  redis.call('HINCRBY', KEYS[2], ARGV[1], -back)
end
return units
"""
#: ARGV: now. {taken, units held} after the sweep; {-1, 0} when not loaded.
COUNTED = (
    SWEEP
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0} end
sweep(ARGV[1])
local held = 0
for _, units in ipairs(redis.call('HVALS', KEYS[4])) do held = held + tonumber(units) end
return {tonumber(redis.call('GET', KEYS[1])), held}
"""
)
#: ARGV: customer, now. Units the customer holds (after the sweep).
HELD = (
    SWEEP
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
sweep(ARGV[2])
return tonumber(redis.call('HGET', KEYS[4], ARGV[1]) or '0')
"""
)

#: ARGV: cap, customer ('' when unknown), now. 0 sold out to this customer (every unit is
#: taken and they hold none); 1 units left or they hold one; -1 counters not loaded.
SOLD_OUT_TO = (
    SWEEP
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
sweep(ARGV[3])
if ARGV[2] ~= '' and tonumber(redis.call('HGET', KEYS[4], ARGV[2]) or '0') > 0 then return 1 end
if tonumber(redis.call('GET', KEYS[1])) >= tonumber(ARGV[1]) then return 0 end
return 1
"""
)


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
    return [f"{base}:taken", f"{base}:customers", f"{base}:holds", f"{base}:held"]


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
    client.eval(LOAD, 4, *_keys(sale.pk), ttl, row, *pairs)


@dataclass(frozen=True)
class Reservation:
    sale_id: int
    customer: str
    quantity: int
    #: Taken from the customer's hold (Buy now): nothing to give back if the order fails,
    #: the hold stays until it lapses.
    held: bool = False


def hold_window() -> timedelta:
    return timedelta(minutes=settings.FLASH_HOLD_MINUTES)


def _epoch(moment: datetime) -> str:
    return f"{moment.timestamp():.3f}"


def sale_by_pk(pk: int) -> Sale | None:
    """A flash sale not over yet, from the cached schedule (no query when cached)."""
    return next((sale for sale in schedule() if sale.pk == pk), None)


@dataclass(frozen=True)
class Hold:
    """What "Buy now" got: `quantity` units of `sale` kept for the customer until `until`;
    `until` is None when Redis is away (nothing is kept: the order takes its unit, or is
    told "sold out", when it is placed)."""

    sale: Sale
    quantity: int
    until: datetime | None


def sold_out_to(*, sale: Sale, user_id: str, now: datetime | None = None) -> bool:
    """Buy now's first question, asked before the shopper is looked up: is every unit of the
    running `sale` taken, and does the customer with this (session's) user id hold none? Then
    the answer is "sold out" whoever they are: the crowd of a sale's first second is answered
    with one Redis call, without a query. False when anything is unsure (sale not running,
    counters not loaded, Redis away): hold() then decides, as for everyone."""
    now = now or timezone.now()
    client = _redis()
    if client is None or not sale.is_running(now):
        return False
    customer = f"u:{user_id}" if user_id else ""
    try:
        answer = client.eval(SOLD_OUT_TO, 4, *_keys(sale.pk), sale.cap, customer, _epoch(now))
    except redis.RedisError:
        return False
    return answer == 0


def hold(*, sale: Sale, user, quantity: int, now: datetime | None = None) -> Hold:
    """Buy now: hold `quantity` units of `sale` for a signed-in shopper for
    FLASH_HOLD_MINUTES, or raise FlashRejected (SIGN_IN, NOT_STARTED, ENDED, OVER_LIMIT,
    SOLD_OUT). One Lua call; no database query with Redis (a refusal writes nothing
    anywhere). Pressing again while holding keeps the hold (its time is not extended)."""
    now = now or timezone.now()
    if not _signed_in(user):
        raise _rejected(FlashRejected.SIGN_IN, sale)
    if now < sale.starts_at:
        raise _rejected(FlashRejected.NOT_STARTED, sale)
    if now >= sale.ends_at:
        raise _rejected(FlashRejected.ENDED, sale)
    if quantity > sale.per_customer:
        raise _rejected(FlashRejected.OVER_LIMIT, sale)
    until = now + hold_window()
    result = _redis_take(
        _redis(), sale, quantity=quantity, customer=customer_key(user=user), now=now, until=until
    )
    if result is None:  # no Redis: the unlocked reads shed the crowd once sold out
        _check_in_database(sale, quantity=quantity)
        if _live_units(sale_id=sale.pk, customer={"user_id": user.pk}) + quantity > (
            sale.per_customer
        ):
            raise _rejected(FlashRejected.OVER_LIMIT, sale)
        return Hold(sale=sale, quantity=quantity, until=None)
    if result == 0:
        raise _rejected(FlashRejected.SOLD_OUT, sale)
    if result == -2:
        raise _rejected(FlashRejected.OVER_LIMIT, sale)
    return Hold(sale=sale, quantity=quantity, until=until)


def give_up_hold(*, sale: Sale, user) -> None:
    """The shopper's hold of `sale` goes back to the crowd at once (the cart could not take
    the line). Best effort: a hold Redis cannot reach lapses on its own."""
    client = _redis()
    if client is None:
        return
    with contextlib.suppress(redis.RedisError):
        client.eval(END_HOLD, 4, *_keys(sale.pk), customer_key(user=user), 0)


def reserve(
    *, lines: Sequence[LineInput], user, email: str, now: datetime | None = None
) -> list[Reservation]:
    """Take the flash units of `lines` at the gate, or raise FlashRejected (a guest, sold
    out, over the customer's limit) and take nothing. Units the customer holds (Buy now)
    are theirs; lines not in a running flash sale pass."""
    now = now or timezone.now()
    wanted = _flash_quantities(lines, now=now)
    if not wanted:
        return []
    if not _signed_in(user):
        raise _rejected(FlashRejected.SIGN_IN, wanted[0][0])
    customer = customer_key(user=user, email=email)
    client = _redis()
    taken: list[Reservation] = []
    try:
        for sale, quantity in wanted:
            if quantity > sale.per_customer:
                raise _rejected(FlashRejected.OVER_LIMIT, sale)
            result = _redis_take(client, sale, quantity=quantity, customer=customer, now=now)
            if result is None:  # no Redis: the unlocked read sheds the crowd once sold out
                _check_in_database(sale, quantity=quantity)
                continue
            if result == 0:
                raise _rejected(FlashRejected.SOLD_OUT, sale)
            if result == -2:
                raise _rejected(FlashRejected.OVER_LIMIT, sale)
            taken.append(
                Reservation(sale_id=sale.pk, customer=customer, quantity=quantity, held=result == 2)
            )
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


def _redis_take(
    client, sale: Sale, *, quantity: int, customer: str, now: datetime, until=None
) -> int | None:
    """The TAKE script's answer, or None when there is no Redis to ask."""
    if client is None:
        return None
    args = (4, *_keys(sale.pk), quantity, sale.cap, sale.per_customer, customer, _epoch(now))
    args += (_epoch(until) if until else 0,)
    try:
        result = client.eval(TAKE, *args)
        if result == -1:
            _load(client, sale)
            result = client.eval(TAKE, *args)
    except redis.RedisError:
        return None
    return None if result == -1 else int(result)


def _check_in_database(sale: Sale, *, quantity: int) -> None:
    taken = FlashSale.objects.filter(pk=sale.pk).values_list("taken", flat=True).first()
    if taken is None or taken + quantity > sale.cap:
        raise _rejected(FlashRejected.SOLD_OUT, sale)


def cancel_reservations(reservations: Iterable[Reservation]) -> None:
    """Give back units reserve() took for an order that was not placed (a hold stays the
    customer's until it lapses). Best effort: a counter Redis lost is loaded again."""
    client = _redis()
    if client is None:
        return
    for reserved in reservations:
        if reserved.held:
            continue
        try:
            client.eval(
                GIVE_BACK, 4, *_keys(reserved.sale_id), reserved.quantity, reserved.customer
            )
        except redis.RedisError:
            return


def _held_units(sale: Sale, *, customer: str, now: datetime) -> int:
    client = _redis()
    if client is None:
        return 0
    try:
        return int(client.eval(HELD, 4, *_keys(sale.pk), customer, _epoch(now)))
    except redis.RedisError:
        return 0


def _holds_become_claims(claimed: list[tuple[int, int]], customer: str) -> None:
    """The customer's holds of the sales in `claimed` (sale, units claimed) end; Redis
    keeps counting the units claimed, and gives back any units held beyond them."""
    client = _redis()
    if client is None:
        return
    for sale_id, units in claimed:
        try:
            client.eval(END_HOLD, 4, *_keys(sale_id), customer, units)
        except redis.RedisError:
            return  # the hold lapses and reconcile_counters() puts the counter right


def check(*, lines: Sequence[LineInput], user, email: str, now: datetime | None = None) -> None:
    """Raise FlashRejected if the order of `lines` could not have its flash units now
    (the review page, before the shopper presses "place order"). Reads only: units the
    customer holds pass without a query."""
    now = now or timezone.now()
    wanted = _flash_quantities(lines, now=now)
    if not wanted:
        return
    if not _signed_in(user):
        raise _rejected(FlashRejected.SIGN_IN, wanted[0][0])
    customer = _customer_filter(user=user, email=email)
    for sale, quantity in wanted:
        if quantity > sale.per_customer:
            raise _rejected(FlashRejected.OVER_LIMIT, sale)
        if _held_units(sale, customer=customer_key(user=user), now=now) >= quantity:
            continue
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
    wanted = _flash_quantities(lines, now=now)
    if wanted and not _signed_in(user):
        raise _rejected(FlashRejected.SIGN_IN, wanted[0][0])
    customer = _customer_filter(user=user, email=email)
    claims = []
    for sale, quantity in wanted:
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
    if claims:
        # The holds became these claims: Redis keeps counting their units, without expiry.
        transaction.on_commit(
            partial(
                _holds_become_claims,
                [(c.sale_id, c.quantity) for c in claims],
                customer_key(user=user),
            ),
            robust=True,
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


#: How long reconcile_counters() remembers a disagreement it saw (a little over two runs).
DRIFT_MEMORY = 150


def reconcile_counters(*, now: datetime | None = None) -> int:
    """Drop the Redis counters of running sales whose `taken` minus the units held has
    disagreed with the database by the same number on two runs in a row (a process killed
    between reserve and commit, Redis down during a release): the next shopper loads them
    again from the truth. A difference seen once is not enough: an order between its gate
    and its commit, or committed and not yet turned from hold to claim, differs for a few
    milliseconds, and dropping the counters then would drop every live hold with them.
    Every minute on Celery beat. Returns how many were dropped."""
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
            drift_key = f"{keys[0]}:drift"
            counted, held = client.eval(COUNTED, 4, *keys, _epoch(now))
            drift = counted - held - truth.get(sale.pk, 0) if counted >= 0 else 0
            if not drift:
                client.delete(drift_key)
                continue
            seen = client.set(drift_key, drift, ex=DRIFT_MEMORY, get=True)
            if seen is not None and int(seen) == drift:
                client.delete(*keys, drift_key)
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
