"""Read statements the ORM builds once per database and language, then runs with new values.

Building a statement (cloning the queryset, resolving its lookups and joins, compiling the
SQL) cost the ORM several times what running it cost on the hottest pages: the cart page's
two statements were half of its CPU. A `Prepared` statement is a queryset written as usual,
built with marker values in place of its parameters and compiled once by the ORM itself; each
call runs the same SQL with the values given, and the rows go through the ORM's own
converters (so SQLite's decimals and booleans read as PostgreSQL's do), as model instances
(with their select_related rows) or as tuples of a values_list().

The markers are checked when the statement is compiled: each must be one of the compiled
statement's parameters, exactly once, and nothing else may be a parameter, so a value can
never land in the wrong place. Only statements whose SQL does not change with the values
can be prepared (no `__in` of a list, no value that adds a join).
"""

from collections.abc import Callable
from typing import Generic, TypeVar

from django.db import connections, router
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable, get_related_populators
from django.db.transaction import TransactionManagementError
from django.utils.translation import get_language

M = TypeVar("M", bound=Model)

#: Marker values the statements are built with: large and unlike any real id or amount.
_FIRST_MARKER = 7_340_003_000_001


class Prepared(Generic[M]):
    """`build(**markers)` returns the queryset; `Prepared(build, "cart_id", ...)` names its
    parameters. `rows(cart_id=5)` runs it for a values_list() queryset, `objects(cart_id=5)`
    for one of model instances."""

    def __init__(self, build: Callable[..., QuerySet[M]], *names: str):
        self.build = build
        self.names = names
        self.model: type[Model] | None = None
        self._compiled: dict[tuple[str, str | None], tuple] = {}

    def _compile(self, using: str):
        markers = self._markers()
        queryset = self.build(**markers)
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        order = [name for value in params for name, marker in markers.items() if value == marker]
        if len(order) != len(params) or sorted(order) != sorted(self.names):
            raise ValueError(f"{self.build}: parameters {params} are not exactly {self.names}")
        is_models = queryset._iterable_class is ModelIterable
        if is_models and (queryset._known_related_objects or compiler.annotation_col_map):
            raise ValueError(f"{self.build}: known related objects or annotations")
        fields = [column[0] for column in compiler.select[: compiler.col_count]]
        if compiler.has_composite_fields(fields):
            raise ValueError(f"{self.build}: composite fields")
        # The columns' converters, found once too: finding them for every run was a third of
        # what the order mail's three prepared reads cost (an order has 55 columns).
        return queryset, compiler, sql, order, is_models, compiler.get_converters(fields)

    def _run(self, values: dict, *, models: bool) -> tuple:
        using = router.db_for_read(self._model())
        key = (using, get_language())
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(using)
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
            cursor.execute(sql, [values[name] for name in order])
            fetched = cursor.fetchall()
        # As compiler.results_iter() converts them.
        return (
            using,
            compiler,
            compiler.apply_converters(fetched, converters) if converters else fetched,
        )

    def _model(self) -> type[Model]:
        """The statement's model, which the router asks about (built once)."""
        if self.model is None:
            self.model = self.build(**self._markers()).model
        return self.model

    def _markers(self) -> dict[str, int]:
        return {name: _FIRST_MARKER + i for i, name in enumerate(self.names)}

    def rows(self, **values) -> list[tuple]:
        """The statement's rows, for a values_list() queryset."""
        _using, _compiler, rows = self._run(values, models=False)
        return [tuple(row) for row in rows]

    def objects(self, **values) -> list[M]:
        """The statement's model instances, with their select_related rows, as the ORM
        makes them (django.db.models.query.ModelIterable)."""
        using, compiler, rows = self._run(values, models=True)
        select, klass_info = compiler.select, compiler.klass_info
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        init_list = [column[0].target.attname for column in select[start:end]]
        populators = get_related_populators(klass_info, select, using)
        model = klass_info["model"]
        found = []
        for row in rows:
            obj = model.from_db(using, init_list, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            found.append(obj)
        return found

    def first(self, **values) -> M | None:
        found = self.objects(**values)
        return found[0] if found else None
