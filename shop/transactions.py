"""Transactions of lesser value: committed without waiting for the disk.

A commit waits for its WAL record to reach the disk (`synchronous_commit`), and holds its row
locks while it waits: on this machine about 5 ms a commit under load, against 0.2 ms without
the wait. A change of one shopper's cart (an add, a quantity, a removal) is worth less than
that wait: PostgreSQL still applies it whole or not at all, in order, and only a crash of the
database server within a fraction of a second of the commit (three times `wal_writer_delay`,
0.6 s by default) can lose it, never half of it. Orders, payments, stock and sessions keep
the default: they never run in such a transaction, and a write that is part of a larger
transaction (place_order taking the lines out of the cart) leaves the larger one's commit as
it is.
"""

from contextlib import contextmanager

from django.db import NotSupportedError, connections, transaction

_NOT_WAITING = "SET LOCAL synchronous_commit TO OFF"


@contextmanager
def atomic_without_waiting_for_disk():
    """transaction.atomic(); when it is the outermost block on PostgreSQL, its commit does
    not wait for the disk (`SET LOCAL synchronous_commit TO OFF`, sent in one query with
    the block's first statement: a round trip of its own was a seventh of a quantity
    update's). Usable as a decorator, as transaction.atomic is."""
    connection = transaction.get_connection()
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.execute_wrapper(_SentWithTheFirstStatement()):
                yield
        else:
            yield


class _SentWithTheFirstStatement:
    """An execute wrapper putting the SET before the block's first statement, in its query:
    PostgreSQL runs both in the block's transaction, and the query's result is the
    statement's (the SET returns none). A block that runs no statement commits nothing."""

    def __init__(self):
        self.sent = False

    def __call__(self, execute, sql, params, many, context):
        # Not into a server-side cursor's statement, which is declared as a cursor.
        if not self.sent and not many and context["cursor"].cursor.name is None:
            self.sent = True
            sql = f"{_NOT_WAITING}; {sql}"
        return execute(sql, params, many, context)


def execute_without_waiting_for_disk(sql: str, params: list, *, using: str) -> tuple | None:
    """Run one statement on PostgreSQL as a transaction whose commit does not wait for the
    disk, in one round trip where atomic_without_waiting_for_disk() takes three (BEGIN, the
    SET with the statement, COMMIT): PostgreSQL runs the statements of one query as one
    transaction, so `SET LOCAL synchronous_commit TO OFF; <statement>` sets that
    statement's commit alone. Inside an atomic block, the statement alone: the block's
    commit is left as it is. Returns the statement's first row, if it returns rows."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        raise NotSupportedError("a query of several statements is PostgreSQL's")
    if not connection.in_atomic_block:
        sql = f"{_NOT_WAITING}; {sql}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() if cursor.description else None
