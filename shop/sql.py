"""Names for the few statements written by hand (where the ORM's round trips or CPU cost
too much on a hot path): a model's table and columns as the database spells them, taken
from the model, so that a renamed field or table can never leave a statement behind."""

from django.db import connections
from django.db.models import Model


def quoted(using: str, model: type[Model], *fields: str) -> tuple[str, ...]:
    """The quoted table of `model`, then the quoted column of each of `fields`."""
    quote = connections[using].ops.quote_name
    columns = (quote(model._meta.get_field(name).column) for name in fields)
    return (quote(model._meta.db_table), *columns)
