"""Filtering a listing, counting its facets and choosing its page, in memory.

What a listing means (README "Filters and counts"):

- Within a facet the chosen values are alternatives (red or blue); across facets every one
  must hold (red, size M, Fjell).
- Brand, tag and price are the product's: its brand, any of its tags, its listing price (the
  "from" price its card shows). Options and stock are a variant's: a product matches
  `colour=red&size=m&in_stock=1` when one active variant is red, in M and in stock.
- Each facet counts what the *other* active filters leave (disjunctive faceting): the sizes
  count products under the chosen colour, brand, price, tag and stock, but not under the
  chosen size, so a value's count is exactly what ticking it (alone in its facet) lists.

Why in memory: counting every facet of a broad listing means reading 100,000s of facet rows,
which PostgreSQL does at a few million rows a second: 100 to 600 ms at 100,000 products
(bench/results/facets.md), whatever the indexes. The same facts as numpy arrays (a few MB
per worker at 100,000 products) answer in milliseconds: each chosen option ORs the variant
masks of its values per product, the masks are ANDed across options, and counts are bincounts.

Where the facts come from: the facet rows (ProductOption, one per product, option value and
block of 63 variants, with a bit per variant and the bits in stock) and the product rows.
Each worker loads them once (about a second at 100,000 products; gunicorn.conf.py does it
as a worker starts), then follows the journal of changed products (ProductChange, written by
the catalog's services in the transaction that changes them): one indexed query per
listing, and only the changed products are read again. A journal id missing below one
already seen belongs to a transaction still open (ids are handed out before commit): it is
asked for again until it shows up or, after GAP_PATIENCE, is taken to have rolled back. The
index is rebuilt whole every MAX_AGE as a safety net.

The rows are kept sorted by option type and value, so that the rows of one value, or of one
type, are a slice; each sort is one 64-bit key per product (its fields packed, most
significant first), so that a page is a partial sort of the matching products' keys.
"""

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import cached_property

import numpy as np
from django.db.models import Subquery

from catalog.models import Product, ProductChange, ProductOption
from shop.prepared import Prepared

#: A journal id not seen after this long is a rolled-back transaction's (seconds).
GAP_PATIENCE = 10 * 60
#: The index is rebuilt whole at least this often (seconds).
MAX_AGE = 60 * 60
#: Journal ids below the highest at load time checked for transactions still open; a jump
#: over more missing ids than this rebuilds the index instead of asking for each.
GAP_WINDOW = 200

#: The sorts a listing offers, as product fields ("-": descending; pk last breaks ties).
SORT_FIELDS = {
    "relevance": ("-is_featured", "-sold_count", "-pk"),
    "price": ("price", "pk"),
    "-price": ("-price", "-pk"),
    "newest": ("-created_at", "-pk"),
    "best-selling": ("-sold_count", "-pk"),
    "top-rated": ("-rating_average", "-rating_count", "-pk"),
}
#: Bits of each sort field in a packed sort key (values are clipped to fit): 62 bits at most.
FIELD_BITS = {
    "pk": 31,
    "is_featured": 1,
    "sold_count": 30,
    "price": 31,  # cents: up to 21 million
    "created_at": 31,  # seconds since 2000
    "rating_average": 10,  # hundredths: up to 5.00 and more
    "rating_count": 21,
}
EPOCH = 946_684_800  # 2000-01-01 UTC
PRODUCT_FIELDS = (
    "pk",
    "category_id",
    "brand_id",
    "price",
    "stock",
    "is_featured",
    "sold_count",
    "created_at",
    "rating_average",
    "rating_count",
)
ROW_FIELDS = ("product_id", "option_value_id", "option_type_id", "chunk", "variants")
ROW_FIELDS += ("in_stock_variants", "spans_chunks")
#: A search lists "few" products when they are under 1/FEW_CANDIDATES of the catalog: its
#: facets then count the rows of its products alone (gathering them costs about what
#: reading every row does at a tenth of the catalog).
FEW_CANDIDATES = 10


@dataclass(frozen=True)
class OptionChoice:
    """An option type the shopper filters on, with the ids of the values chosen (known ones;
    none known: nothing can match)."""

    type_id: int
    value_ids: tuple[int, ...]


@dataclass(frozen=True)
class Question:
    """What a listing asks: its products (categories, or a search's product ids, within the
    categories if given), the filters as ids and amounts, the sort and the page."""

    category_ids: tuple[int, ...] | None = None
    candidate_ids: Sequence[int] | np.ndarray | None = None
    #: The candidates' relevance (higher first; ties: best-selling, then newest): the order
    #: of sort "relevance" when given.
    candidate_ranks: np.ndarray | None = None
    #: None: any; empty: none known (nothing matches).
    brand_ids: tuple[int, ...] | None = None
    tag_ids: tuple[int, ...] | None = None
    options: tuple[OptionChoice, ...] = ()
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    in_stock: bool = False
    sort: str = "relevance"
    #: Order the candidates as given (a search by relevance) rather than by `sort`.
    candidate_order: bool = False
    offset: int = 0
    limit: int = 24


@dataclass
class Answer:
    #: The page's product ids, in order.
    page: list[int]
    #: Products under every filter.
    total: int
    #: Brand id, tag id, option value id -> products, each under every other filter.
    brands: dict[int, int]
    tags: dict[int, int]
    options: dict[int, int]


def _cents(amount: Decimal, rounding: str) -> int:
    return int((amount * 100).to_integral_value(rounding=rounding))


def _columns(rows: list[tuple], names: tuple[str, ...]) -> dict[str, tuple]:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    return dict(zip(names, columns, strict=True))


def _sort_keys(fields: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One int64 per product and sort: its fields packed, ascending order of the key."""
    keys = {}
    for sort, names in SORT_FIELDS.items():
        key = np.zeros(len(fields["pk"]), dtype=np.int64)
        for name in names:
            bits = FIELD_BITS[name.lstrip("-")]
            value = np.clip(fields[name.lstrip("-")], 0, (1 << bits) - 1)
            key = (key << bits) | (((1 << bits) - 1) - value if name.startswith("-") else value)
        keys[sort] = key
    return keys


@dataclass(frozen=True)
class Products:
    """The published products, one slot each, kept by pk while the index lives."""

    pk: np.ndarray
    live: np.ndarray
    category: np.ndarray
    brand: np.ndarray  # -1: none
    price: np.ndarray  # cents
    in_stock: np.ndarray
    keys: dict[str, np.ndarray]

    @classmethod
    def from_rows(cls, rows: list[tuple]) -> "Products":
        values = _columns(rows, PRODUCT_FIELDS)
        fields = {
            "pk": np.array(values["pk"], dtype=np.int64),
            "price": np.array([_cents(p, ROUND_FLOOR) for p in values["price"]], dtype=np.int64),
            "is_featured": np.array(values["is_featured"], dtype=np.int64),
            "sold_count": np.array(values["sold_count"], dtype=np.int64),
            "created_at": np.array(
                [int(t.timestamp()) - EPOCH for t in values["created_at"]], dtype=np.int64
            ),
            "rating_average": np.array(
                [int(r * 100) for r in values["rating_average"]], dtype=np.int64
            ),
            "rating_count": np.array(values["rating_count"], dtype=np.int64),
        }
        return cls(
            pk=fields["pk"],
            live=np.ones(len(rows), dtype=bool),
            category=np.array(values["category_id"], dtype=np.int32),
            brand=np.array([-1 if b is None else b for b in values["brand_id"]], dtype=np.int32),
            price=fields["price"],
            in_stock=np.array(values["stock"], dtype=np.int64) > 0,
            keys=_sort_keys(fields),
        )

    def __len__(self) -> int:
        return len(self.pk)

    def with_changes(self, slots: np.ndarray, fresh: "Products", gone: np.ndarray) -> "Products":
        """A copy with `fresh` in `slots` (the slots past the end are new) and `gone` dead."""
        grown = max(int(slots.max(initial=-1)) + 1, len(self))

        def merged(old: np.ndarray, new: np.ndarray, filler) -> np.ndarray:
            out = np.full(grown, filler, dtype=old.dtype)
            out[: len(old)] = old
            out[slots] = new
            return out

        live = merged(self.live, fresh.live, False)
        live[gone] = False
        return Products(
            pk=merged(self.pk, fresh.pk, 0),
            live=live,
            category=merged(self.category, fresh.category, -1),
            brand=merged(self.brand, fresh.brand, -1),
            price=merged(self.price, fresh.price, 0),
            in_stock=merged(self.in_stock, fresh.in_stock, False),
            keys={k: merged(v, fresh.keys[k], 0) for k, v in self.keys.items()},
        )


@dataclass(frozen=True)
class Rows:
    """Facet rows sorted by option type and value: a value's rows, and a type's, are a
    slice. `block` is slot * chunks + chunk: the unit whose variant masks combine."""

    slot: np.ndarray
    type: np.ndarray
    value: np.ndarray
    block: np.ndarray
    variants: np.ndarray
    in_stock: np.ndarray
    spans: np.ndarray
    of_type: dict[int, slice]
    of_value: dict[int, slice]

    @classmethod
    def sorted(cls, **columns: np.ndarray) -> "Rows":
        order = np.lexsort((columns["value"], columns["type"]))
        columns = {name: column[order] for name, column in columns.items()}
        return cls(
            **columns,
            of_type=_slices(columns["type"]),
            of_value=_slices(
                columns["type"].astype(np.int64) << 32 | columns["value"], low_bits=32
            ),
        )

    @classmethod
    def from_rows(cls, rows: list[tuple], slot_by_pk: np.ndarray, chunks: int) -> "Rows":
        values = _columns(rows, ROW_FIELDS)
        slot = slot_by_pk[np.array(values["product_id"], dtype=np.int64)]
        return cls.sorted(
            slot=slot,
            type=np.array(values["option_type_id"], dtype=np.int32),
            value=np.array(values["option_value_id"], dtype=np.int32),
            block=slot * chunks + np.array(values["chunk"], dtype=np.int32),
            variants=np.array(values["variants"], dtype=np.int64),
            in_stock=np.array(values["in_stock_variants"], dtype=np.int64),
            spans=np.array(values["spans_chunks"], dtype=bool),
        )

    def columns(self) -> dict[str, np.ndarray]:
        names = ("slot", "type", "value", "block", "variants", "in_stock", "spans")
        return {name: getattr(self, name) for name in names}

    def of_slots(self, slots: np.ndarray) -> np.ndarray:
        return np.isin(self.slot, slots)

    @cached_property
    def _by_slot(self) -> tuple[np.ndarray, np.ndarray]:
        """The rows' places in slot order, and where each slot's places start (the next
        slot's start ends them): a product's rows without reading every row."""
        order = np.argsort(self.slot, kind="stable")
        slots = int(self.slot.max(initial=-1)) + 1
        return order, np.searchsorted(self.slot[order], np.arange(slots + 1))

    def of_products(self, slots: np.ndarray) -> "Rows":
        """The rows of the products in `slots` alone, sorted as these are."""
        order, starts = self._by_slot
        slots = slots[slots < len(starts) - 1]
        begin, end = starts[slots], starts[slots + 1]
        lengths = end - begin
        # Each slot's run of places in `order`: begin, begin + 1, ... end - 1.
        runs = np.repeat(begin - np.cumsum(lengths) + lengths, lengths)
        places = np.sort(order[runs + np.arange(len(runs))])
        columns = {name: column[places] for name, column in self.columns().items()}
        return Rows(
            **columns,
            of_type=_slices(columns["type"]),
            of_value=_slices(
                columns["type"].astype(np.int64) << 32 | columns["value"], low_bits=32
            ),
        )

    def replaced(self, slots: np.ndarray, fresh: "Rows") -> "Rows":
        """These rows without those of `slots`, with `fresh` instead."""
        keep = ~self.of_slots(slots)
        old, new = self.columns(), fresh.columns()
        return Rows.sorted(**{k: np.concatenate([old[k][keep], new[k]]) for k in old})

    def signature(self, selected: np.ndarray) -> list[tuple]:
        columns = self.columns()
        return sorted(zip(*(columns[k][selected].tolist() for k in columns), strict=True))


def _slices(sorted_keys: np.ndarray, low_bits: int = 0) -> dict[int, slice]:
    """Each distinct key of a sorted array -> its slice (`low_bits` of the key name it)."""
    if not len(sorted_keys):
        return {}
    keys, starts = np.unique(sorted_keys, return_index=True)
    ends = [*starts[1:].tolist(), len(sorted_keys)]
    names = (keys & ((1 << low_bits) - 1)) if low_bits else keys
    return {
        int(name): slice(start, end)
        for name, start, end in zip(names.tolist(), starts.tolist(), ends, strict=True)
    }


@dataclass(frozen=True)
class Tags:
    slot: np.ndarray
    tag: np.ndarray

    @classmethod
    def from_rows(cls, rows: list[tuple], slot_by_pk: np.ndarray) -> "Tags":
        products = np.array([pk for pk, _ in rows], dtype=np.int64)
        return cls(
            slot=slot_by_pk[products], tag=np.array([tag for _, tag in rows], dtype=np.int32)
        )

    def replaced(self, slots: np.ndarray, fresh: "Tags") -> "Tags":
        keep = ~np.isin(self.slot, slots)
        return Tags(
            slot=np.concatenate([self.slot[keep], fresh.slot]),
            tag=np.concatenate([self.tag[keep], fresh.tag]),
        )


@dataclass
class Journal:
    """How far the index has read the journal of changed products."""

    seen: int = 0
    #: Ids below `seen` not read yet (their transaction was open) -> when first missed.
    gaps: dict[int, float] = field(default_factory=dict)

    def note(self, ids: list[int], *, now: float) -> bool:
        """Take in the journal ids just read. False when more are missing than are worth
        asking for one by one (a large transaction rolled back, or still open): rebuild."""
        for pk in ids:
            self.gaps.pop(pk, None)
        newer = [pk for pk in ids if pk > self.seen]
        if newer:
            top = max(newer)
            if top - self.seen - len(newer) > GAP_WINDOW:
                return False
            self.gaps.update(dict.fromkeys(set(range(self.seen + 1, top)) - set(newer), now))
            self.seen = top
        self.gaps = {pk: t for pk, t in self.gaps.items() if now - t < GAP_PATIENCE}
        return True


@dataclass(frozen=True)
class Index:
    products: Products
    rows: Rows
    tags: Tags
    #: Product pk -> slot (-1: none).
    slot_by_pk: np.ndarray
    chunks: int
    built_at: float

    def slots_of(self, pks) -> np.ndarray:
        pks = np.asarray(pks, dtype=np.int64)
        pks = pks[(pks >= 0) & (pks < len(self.slot_by_pk))]
        slots = self.slot_by_pk[pks]
        return slots[slots >= 0]


def _product_rows(product_ids=None) -> list[tuple]:
    products = Product.objects.filter(is_published=True)
    if product_ids is not None:
        products = products.filter(pk__in=product_ids)
    return list(products.order_by("pk").values_list(*PRODUCT_FIELDS))


def _facet_rows(product_ids=None) -> list[tuple]:
    rows = ProductOption.objects.all()
    if product_ids is not None:
        rows = rows.filter(product_id__in=product_ids)
    return list(rows.values_list(*ROW_FIELDS))


def _tag_rows(product_ids=None) -> list[tuple]:
    links = Product.tags.through.objects.filter(product__is_published=True)
    if product_ids is not None:
        links = links.filter(product_id__in=product_ids)
    return list(links.values_list("product_id", "tag_id"))


def _slot_table(pks: np.ndarray, slots: np.ndarray, size: int = 0) -> np.ndarray:
    table = np.full(max(int(pks.max(initial=0)) + 1, size), -1, dtype=np.int32)
    table[pks] = slots
    return table


def _build() -> tuple[Index, Journal]:
    """Everything, read from the database (about a second at 100,000 products)."""
    now = time.time()
    # The last GAP_WINDOW journal ids, in one query: the highest is where to read on from,
    # and those missing below it may belong to transactions still open.
    last = ProductChange.objects.order_by("-pk")[:1].values("pk")
    recent = set(
        ProductChange.objects.filter(pk__gt=Subquery(last) - GAP_WINDOW).values_list(
            "pk", flat=True
        )
    )
    top = max(recent, default=0)
    journal = Journal(seen=top)
    journal.gaps = dict.fromkeys(set(range(max(top - GAP_WINDOW, 0) + 1, top)) - recent, now)
    products = Products.from_rows(_product_rows())
    slot_by_pk = _slot_table(products.pk, np.arange(len(products)))
    rows = [row for row in _facet_rows() if slot_by_pk[row[0]] >= 0]
    chunks = 1 + max((row[3] for row in rows), default=0)
    tags = [tag for tag in _tag_rows() if slot_by_pk[tag[0]] >= 0]
    index = Index(
        products=products,
        rows=Rows.from_rows(rows, slot_by_pk, chunks),
        tags=Tags.from_rows(tags, slot_by_pk),
        slot_by_pk=slot_by_pk,
        chunks=chunks,
        built_at=now,
    )
    return index, journal


def _reload(index: Index, product_ids: set[int]) -> Index | None:
    """The index with these products read again (None: rebuild it whole instead).

    A product keeps its slot; a new one takes the next. The rows and tags are sorted again
    only when they changed (a sale moves the sort keys, rarely the rows).
    """
    fresh = Products.from_rows(_product_rows(product_ids))
    rows = _facet_rows(product_ids)
    if any(row[3] >= index.chunks for row in rows):
        return None  # a product with more variant blocks than the arrays hold
    table = index.slot_by_pk
    is_new = np.array([pk >= len(table) or table[pk] < 0 for pk in fresh.pk.tolist()], dtype=bool)
    slots = np.empty(len(fresh), dtype=np.int64)
    slots[~is_new] = table[fresh.pk[~is_new]]
    slots[is_new] = len(index.products) + np.arange(int(is_new.sum()))
    gone = index.slots_of(list(product_ids - set(fresh.pk.tolist())))
    products = index.products.with_changes(slots, fresh, gone)
    table = _slot_table(products.pk[products.live], np.flatnonzero(products.live), len(table))
    touched = np.concatenate([slots, gone])
    new_rows = Rows.from_rows(rows, table, index.chunks)
    old = index.rows.of_slots(touched)
    everything = np.ones(len(new_rows.slot), dtype=bool)
    if index.rows.signature(old) == new_rows.signature(everything):
        row_index = index.rows
    else:
        row_index = index.rows.replaced(touched, new_rows)
    tags = index.tags.replaced(touched, Tags.from_rows(_tag_rows(product_ids), table))
    return Index(
        products=products,
        rows=row_index,
        tags=tags,
        slot_by_pk=table,
        chunks=index.chunks,
        built_at=index.built_at,
    )


#: The journal read by every listing, built once (building it cost the ORM several times
#: what running it costs: 0.2 ms of every uncached listing). With gaps to ask for again, a
#: rarer statement of varying length, it is built each time.
_JOURNAL_SINCE = Prepared(
    lambda seen: ProductChange.objects.filter(pk__gt=seen).values_list("pk", "product_id"),
    "seen",
)
_lock = threading.Lock()
_state: tuple[Index, Journal] | None = None


def forget() -> None:
    """Drop this process's index: the next listing loads it again (tests start from here)."""
    global _state
    with _lock:
        _state = None


def current_index() -> Index:
    """This process's index, brought up to date with the journal (one query)."""
    global _state
    with _lock:
        now = time.time()
        if _state is None or now - _state[0].built_at > MAX_AGE:
            _state = _build()
            return _state[0]
        index, journal = _state
        if journal.gaps:
            changes = ProductChange.objects.filter(pk__gt=journal.seen) | (
                ProductChange.objects.filter(pk__in=list(journal.gaps))
            )
            found = list(changes.values_list("pk", "product_id"))
        else:
            found = _JOURNAL_SINCE.rows(seen=journal.seen)
        product_ids = {product_id for _, product_id in found}
        if not journal.note([pk for pk, _ in found], now=now) or None in product_ids:
            _state = _build()
        elif product_ids:
            fresh = _reload(index, product_ids)
            _state = (fresh, journal) if fresh is not None else _build()
        return _state[0]


def note_changes(*, product_ids: Iterable[int] | None) -> None:
    """Journal these products (None: every product) for the listing index of every worker,
    in the transaction that changes them."""
    if product_ids is None:
        ProductChange.objects.create(product_id=None)
    else:
        ProductChange.objects.bulk_create(
            [ProductChange(product_id=pk) for pk in sorted(set(product_ids))]
        )


def note_deleted_product(sender, instance, **kwargs) -> None:
    note_changes(product_ids=[instance.pk])


def answer(question: Question) -> Answer:
    """The page, the count and every facet's counts of `question`."""
    return _answer(current_index(), question)


def totals(questions: Iterable[Question]) -> list[int]:
    """How many products each question lists, from the index as answer() last read it (no
    query): what a filter's removal would give, on a listing it emptied."""
    with _lock:
        index = _state[0] if _state is not None else None
    if index is None:
        index = current_index()
    return [_answer(index, question).total for question in questions]


def _counts(values: np.ndarray) -> dict[int, int]:
    counted = np.bincount(values) if len(values) else np.zeros(0, dtype=np.int64)
    found = np.flatnonzero(counted)
    return dict(zip(found.tolist(), counted[found].tolist(), strict=True))


def _answer(index: Index, q: Question) -> Answer:
    products, rows, tags, chunks = index.products, index.rows, index.tags, index.chunks
    size = len(products)
    # Products in view, under price: every count starts here.
    if q.candidate_ids is not None:
        slots = index.slots_of(q.candidate_ids)
        if q.category_ids is not None:
            # The candidates' categories only, not every product's.
            slots = slots[np.isin(products.category[slots], q.category_ids)]
        in_view = np.zeros(size, dtype=bool)
        in_view[slots] = True
    else:
        in_view = np.isin(products.category, q.category_ids or ())
    in_view &= products.live
    if q.candidate_ids is not None and np.count_nonzero(in_view) * FEW_CANDIDATES < size:
        # A search's few products: their own facet rows rather than every product's.
        rows = rows.of_products(np.flatnonzero(in_view))
    if q.price_min is not None:
        in_view &= products.price >= _cents(q.price_min, ROUND_CEILING)
    if q.price_max is not None:
        in_view &= products.price <= _cents(q.price_max, ROUND_FLOOR)
    brand_ok = None if q.brand_ids is None else np.isin(products.brand, q.brand_ids)
    tag_ok = None
    if q.tag_ids is not None:
        tag_ok = np.zeros(size, dtype=bool)
        tag_ok[tags.slot[np.isin(tags.tag, q.tag_ids)]] = True

    masks = rows.in_stock if q.in_stock else rows.variants
    # Per chosen option, per block: the variants (in stock?) offering one of its values.
    offering = {}
    for choice in q.options:
        per_block = np.zeros(size * chunks, dtype=np.int64)
        for value_id in choice.value_ids:
            part = rows.of_value.get(value_id, slice(0, 0))
            viewed = in_view[rows.slot[part]]
            np.bitwise_or.at(per_block, rows.block[part][viewed], masks[part][viewed])
        offering[choice.type_id] = per_block

    def allowed(excluding=None) -> np.ndarray | None:
        """Per block, the variants offering a chosen value of every option (but one)."""
        combined = None
        for type_id, per_block in offering.items():
            if type_id != excluding:
                combined = per_block if combined is None else combined & per_block
        return combined

    everything = allowed()
    if everything is None:
        option_ok = products.in_stock if q.in_stock else np.ones(size, dtype=bool)
    else:
        option_ok = np.zeros(size, dtype=bool)
        option_ok[np.flatnonzero(everything) // chunks] = True
    base = in_view & option_ok
    brand_view = base if tag_ok is None else base & tag_ok
    tag_view = base if brand_ok is None else base & brand_ok
    listed = tag_view if tag_ok is None else tag_view & tag_ok

    # Option facets: each type's rows, of products under brand, tag and price, whose
    # variants meet the other options' (its own choice left out).
    counted = in_view
    for condition in (brand_ok, tag_ok):
        if condition is not None:
            counted = counted & condition
    options: dict[int, int] = {}
    for type_id, part in rows.of_type.items():
        others = allowed(excluding=type_id) if type_id in offering else everything
        mask = masks[part]
        hit = counted[rows.slot[part]]
        hit &= (mask != 0) if others is None else (mask & others[rows.block[part]]) != 0
        value, spans = rows.value[part][hit], rows.spans[part][hit]
        options.update(_counts(value[~spans]))
        if spans.any():
            # Products of more than one block: a value counts once per product.
            pairs = np.unique(np.stack([rows.slot[part][hit][spans], value[spans]]), axis=1)
            for value_id, n in _counts(pairs[1]).items():
                options[value_id] = options.get(value_id, 0) + n

    chosen = np.flatnonzero(listed)
    return Answer(
        page=_page(index, q, chosen),
        total=len(chosen),
        brands=_counts(products.brand[brand_view & (products.brand >= 0)]),
        tags=_counts(tags.tag[tag_view[tags.slot]]),
        options=options,
    )


def _page(index: Index, q: Question, slots: np.ndarray) -> list[int]:
    """The product ids of the page among `slots`, in order: only the page is sorted."""
    end = q.offset + q.limit
    if q.candidate_ranks is not None and q.sort == "relevance":
        ranks = np.zeros(len(index.products), dtype=q.candidate_ranks.dtype)
        pks = np.asarray(q.candidate_ids, dtype=np.int64)
        known = (pks >= 0) & (pks < len(index.slot_by_pk))
        found = index.slot_by_pk[pks[known]]
        ranks[found[found >= 0]] = q.candidate_ranks[known][found >= 0]
        listed = ranks[slots]
        if end < len(slots):
            # Only products ranked at least as high as the page's last can be on the page
            # (its ties all kept): a broad word's thousands are not all sorted.
            last = np.partition(listed, len(listed) - end)[len(listed) - end]
            high = np.flatnonzero(listed >= last)
            slots, listed = slots[high], listed[high]
        # Higher rank first, then the best-selling sort's key (most sold, newest id).
        ordered = np.lexsort((index.products.keys["best-selling"][slots], -listed))
        return index.products.pk[slots[ordered[q.offset : end]]].tolist()
    if q.candidate_order:
        keys = np.full(len(index.products), len(q.candidate_ids), dtype=np.int64)
        pks = np.asarray(q.candidate_ids, dtype=np.int64)
        known = (pks < len(index.slot_by_pk)) & (pks >= 0)
        places = np.flatnonzero(known)
        found = index.slot_by_pk[pks[known]]
        keys[found[found >= 0]] = places[found >= 0]
        keys = keys[slots]
    else:
        keys = index.products.keys[q.sort][slots]
    if end < len(slots):
        nearest = np.argpartition(keys, end - 1)[:end]
        ordered = nearest[np.argsort(keys[nearest], kind="stable")]
    else:
        ordered = np.argsort(keys, kind="stable")
    return index.products.pk[slots[ordered[q.offset : end]]].tolist()
