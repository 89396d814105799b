"""Read statements the ORM builds once per database and language, then runs with new values.

Building a statement (cloning the queryset, resolving its lookups and joins, compiling the
SQL) cost the ORM several times what running it cost on the hottest pages: the cart page's
two statements were half of its CPU. A `Prepared` statement is a queryset written as usual,
built with marker values in place of its parameters and compiled once by the ORM itself; each
call runs the same SQL with the values given, and the rows go through the ORM's own
converters (so SQLite's decimals and booleans read as PostgreSQL's do), as model instances
(with their select_related rows) or as tuples of a values_list().

Values are ids, numbers or text (a text column's lookup compiles its marker as text), or
lists of them for an `__in` lookup: a list's statement is built once per length (short
lists, such as an order's variants; never an empty one). The markers are checked when
the statement is compiled: each must be one of the compiled statement's parameters, exactly
once, and nothing else may be a parameter, so a value can never land in the wrong place.
Only statements whose SQL does not change with the values (but for a list's length) can be
prepared (no value that adds a join), and no prefetch: the related rows can be a second
statement, set on the instances with `set_prefetched`.
"""

from collections.abc import Callable
from typing import Generic, TypeVar

from django.db import connections, router, transaction
from django.db.models import NOT_PROVIDED, Model, QuerySet
from django.db.models.query import ModelIterable, get_related_populators
from django.db.models.signals import post_save, pre_save
from django.db.models.sql import InsertQuery
from django.db.transaction import TransactionManagementError
from django.utils.translation import get_language

M = TypeVar("M", bound=Model)

#: Marker values the statements are built with: large and unlike any real id or amount.
_FIRST_MARKER = 7_340_003_000_001


def _hashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


class Prepared(Generic[M]):
    """`build(**markers)` returns the queryset; `Prepared(build, "cart_id", ...)` names its
    parameters. `rows(cart_id=5)` runs it for a values_list() queryset, `objects(cart_id=5)`
    for one of model instances."""

    def __init__(self, build: Callable[..., QuerySet[M]], *names: str):
        self.build = build
        self.names = names
        self.model: type[Model] | None = None
        self._compiled: dict[tuple, tuple] = {}

    def _compile(self, using: str, lengths: tuple[int | None, ...]):
        markers = self._markers(lengths)
        queryset = self.build(**markers)
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        # Where each parameter's value is: (name, None), or (name, index) in a list. A text
        # column's lookup compiles its marker as text ("7340003000001").
        where = {}
        for name, marker in markers.items():
            for index, one in enumerate(marker) if isinstance(marker, list) else [(None, marker)]:
                where[one] = where[str(one)] = (name, index)
        order = [where[value] for value in params if _hashable(value) and value in where]
        markers_in_all = len(where) // 2
        if not len(params) == len(order) == len(set(order)) == markers_in_all:
            raise ValueError(f"{self.build}: parameters {params} are not exactly {self.names}")
        is_models = queryset._iterable_class is ModelIterable
        if is_models and queryset._known_related_objects:
            raise ValueError(f"{self.build}: known related objects")
        fields = [column[0] for column in compiler.select[: compiler.col_count]]
        if compiler.has_composite_fields(fields):
            raise ValueError(f"{self.build}: composite fields")
        # The columns' converters, found once too: finding them for every run was a third of
        # what the order mail's three prepared reads cost (an order has 55 columns).
        return queryset, compiler, sql, order, is_models, compiler.get_converters(fields)

    def _run(self, values: dict, *, models: bool) -> tuple:
        lengths = tuple(
            len(values[name]) if isinstance(values[name], list | tuple) else None
            for name in self.names
        )
        if 0 in lengths:
            raise ValueError(f"{self.build}: an empty list")
        using = router.db_for_read(self._model(lengths))
        key = (using, get_language(), lengths)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(using, lengths)
        queryset, compiler, sql, order, is_models, converters = compiled
        if is_models != models:
            raise TypeError(
                "a statement of model instances: call objects()"
                if is_models
                else "a values_list() statement: call rows()"
            )
        connection = connections[using]
        if queryset.query.select_for_update and not connection.in_atomic_block:
            raise TransactionManagementError("a locking statement runs inside a transaction")
        with connection.cursor() as cursor:
            cursor.execute(
                sql,
                [values[name] if index is None else values[name][index] for name, index in order],
            )
            fetched = cursor.fetchall()
        # As compiler.results_iter() converts them.
        return (
            using,
            compiler,
            compiler.apply_converters(fetched, converters) if converters else fetched,
        )

    def _model(self, lengths: tuple[int | None, ...]) -> type[Model]:
        """The statement's model, which the router asks about (built once)."""
        if self.model is None:
            self.model = self.build(**self._markers(lengths)).model
        return self.model

    def _markers(self, lengths: tuple[int | None, ...]) -> dict[str, int | list[int]]:
        """A marker for each value, a list of markers for each list of values."""
        markers: dict[str, int | list[int]] = {}
        next_marker = _FIRST_MARKER
        for name, length in zip(self.names, lengths, strict=True):
            if length is None:
                markers[name], next_marker = next_marker, next_marker + 1
            else:
                markers[name] = list(range(next_marker, next_marker + length))
                next_marker += length
        return markers

    def rows(self, **values) -> list[tuple]:
        """The statement's rows, for a values_list() queryset."""
        _using, _compiler, rows = self._run(values, models=False)
        return [tuple(row) for row in rows]

    def objects(self, **values) -> list[M]:
        """The statement's model instances, with their select_related rows and their
        annotations, as the ORM makes them (django.db.models.query.ModelIterable)."""
        using, compiler, rows = self._run(values, models=True)
        select, klass_info = compiler.select, compiler.klass_info
        annotations = compiler.annotation_col_map.items()
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        init_list = [column[0].target.attname for column in select[start:end]]
        populators = get_related_populators(klass_info, select, using)
        model = klass_info["model"]
        found = []
        for row in rows:
            obj = model.from_db(using, init_list, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            for name, position in annotations:
                setattr(obj, name, row[position])
            found.append(obj)
        return found

    def first(self, **values) -> M | None:
        found = self.objects(**values)
        return found[0] if found else None


def set_prefetched(instance: Model, name: str, related: list[Model], model: type[Model]) -> None:
    """Make `instance.<name>.all()` the rows `related` (of `model`), read by a statement of
    one's own, without a query: where prefetch_related() keeps them (Django's
    prefetch_one_level, which needs its own statement built on every call)."""
    rows = QuerySet(model)
    rows._result_cache, rows._prefetch_done = related, True
    if not hasattr(instance, "_prefetched_objects_cache"):
        instance._prefetched_objects_cache = {}
    instance._prefetched_objects_cache[name] = rows


#: Each model's INSERT as the ORM compiles it, per database and number of rows: (SQL,
#: whether its values go by column, fields, returned fields, the compiler and its
#: converters), or None for a model the ORM saves itself.
_INSERTS: dict[tuple[type[Model], str, int], tuple | None] = {}
#: create_all() compiles for at most this many rows: each number of rows keeps its own
#: statement (and the rows it was compiled with), so an import's thousands of stock
#: movements go to bulk_create() rather than leave a statement per size in every process.
PREPARED_ROWS = 20


def create(model: type[M], **values) -> M:
    """`model.objects.create(**values)`, its INSERT compiled by the ORM once per database.

    Compiling it (the query, each column quoted and placed) cost about as much as the rest
    of a save, several times a placed order (the order's 51 columns most). The values go
    through each field's own pre_save() and get_db_prep_save(), as save() sends them, and
    the returned columns (the id) are set as save() sets them. Only for a new row of a model
    without listeners on pre_save or post_save, parents or database defaults, and values
    that are not expressions: anything else is saved by the ORM itself."""
    obj = model(**values)
    using = router.db_for_write(model, instance=obj)
    listened = pre_save.has_listeners(model) or post_save.has_listeners(model)
    if listened or not _insert([obj], using, operation="save"):
        obj.save(force_insert=True, using=using)
    return obj


def create_all(objs: list[M]) -> list[M]:
    """`bulk_create(objs)` of new rows of one model, its INSERT compiled by the ORM once
    per database and number of rows (an order's lines and tax rows, a sale's stock
    movements: one to a few rows, several times a placed order).

    As bulk_create(): no signals, each field's pre_save() and get_db_prep_save(), the
    returned ids set on the instances; where it would do more than one INSERT (no
    RETURNING of several rows) or the rows are not plain new rows (see create()),
    bulk_create() itself writes them, as it does more than PREPARED_ROWS rows."""
    if not objs:
        return objs
    model = type(objs[0])
    using = router.db_for_write(model, instance=objs[0])
    if len(objs) > PREPARED_ROWS or not _insert(objs, using, operation="bulk_create"):
        model.objects.using(using).bulk_create(objs)
    return objs


def _insert(objs: list[Model], using: str, *, operation: str) -> bool:
    """Write `objs` (new rows of one model) with the INSERT compiled once for their model,
    database and number; False, writing nothing, where the ORM must write them itself."""
    model = type(objs[0])
    key = (model, using, len(objs))
    if key not in _INSERTS:
        _INSERTS[key] = _compile_insert(objs, using) if _insertable(model, using) else None
    built = _INSERTS[key]
    if built is None or any(type(obj) is not model or obj.pk is not None for obj in objs):
        return False
    sql, by_column, fields, returning, compiler, converters = built
    prepared = [[field.pre_save(obj, True) for field in fields] for obj in objs]
    if any(hasattr(value, "resolve_expression") for row in prepared for value in row):
        return False
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name=operation)
    connection = connections[using]
    rows = [
        [
            field.get_db_prep_save(value, connection)
            for field, value in zip(fields, row, strict=True)
        ]
        for row in prepared
    ]
    # Row after row, or (PostgreSQL's UNNEST, several rows) an array per column.
    if by_column:
        params = [list(column) for column in zip(*rows, strict=True)]
    else:
        params = [value for row in rows for value in row]
    with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
        cursor.execute(sql, params)
        if len(objs) > 1:
            rows = connection.ops.fetch_returned_insert_rows(cursor)
        else:
            rows = [connection.ops.fetch_returned_insert_columns(cursor, [None] * len(returning))]
    if converters:  # as the compiler's execute_sql() converts them
        rows = compiler.apply_converters(rows, converters)
    for obj, row in zip(objs, rows, strict=True):
        for field, value in zip(returning, row, strict=True):
            setattr(obj, field.attname, value)
        obj._state.adding, obj._state.db = False, using
    return True


def _insertable(model: type[Model], using: str) -> bool:
    meta = model._meta
    return (
        not meta.parents
        and meta.auto_field is not None
        and all(field.db_default is NOT_PROVIDED for field in meta.local_concrete_fields)
        and connections[using].features.can_return_columns_from_insert
    )


def _compile_insert(objs: list[Model], using: str) -> tuple | None:
    """The one INSERT that save() (one row) or bulk_create() (several) sends for `objs`
    (their ids left to the database), compiled by the ORM; None where a column's value is
    more than a placeholder (a field writing its own, such as a geometry) or the database
    cannot return several rows' ids from one INSERT."""
    model = type(objs[0])
    meta = model._meta
    connection = connections[using]
    if len(objs) > 1 and not connection.features.can_return_rows_from_bulk_insert:
        return None
    fields = [field for field in meta.local_concrete_fields if field is not meta.auto_field]
    returning = list(meta.db_returning_fields)
    query = InsertQuery(model)
    query.insert_values(fields, objs)
    compiler = query.get_compiler(using=using)
    compiler.returning_fields = returning
    statements = compiler.as_sql()
    if len(statements) != 1:
        return None
    [(sql, params)] = statements
    # PostgreSQL inserts several rows as UNNEST of one array per column.
    by_column = len(objs) > 1 and all(
        isinstance(param, list) and len(param) == len(objs) for param in params
    )
    if len(params) != len(fields) * (1 if by_column else len(objs)) or any(
        hasattr(field, "get_placeholder") for field in fields
    ):
        return None
    converters = compiler.get_converters([field.get_col(meta.db_table) for field in returning])
    return sql, by_column, fields, returning, compiler, converters
