"""shop.transactions: a cart's own write commits without waiting for the disk; a larger
transaction it is part of keeps its own commit."""

import pytest
from django.db import connection, transaction

from shop.transactions import atomic_without_waiting_for_disk, execute_without_waiting_for_disk

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def waiting_for_disk():
    """The test database's connection does not wait for the disk (settings, TESTING): here
    it does, as the shop's does."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run with DATABASE_URL=postgres://...)")
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO on")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


def test_the_outermost_block_commits_without_waiting_and_only_it():
    with atomic_without_waiting_for_disk():
        assert synchronous_commit() == "off"
    assert synchronous_commit() == "on"  # SET LOCAL: gone with the transaction


def test_the_set_is_sent_in_one_query_with_the_blocks_first_statement():
    sent = []

    def noted(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(noted), atomic_without_waiting_for_disk():
        assert synchronous_commit() == "off"
        assert synchronous_commit() == "off"
    assert sent == ["SHOW synchronous_commit"] * 2
    assert synchronous_commit() == "on"


def test_inside_a_larger_transaction_the_larger_ones_commit_is_kept():
    with transaction.atomic():
        with atomic_without_waiting_for_disk():
            assert synchronous_commit() == "on"
        assert synchronous_commit() == "on"


def test_a_refused_change_rolls_back_whole(django_user_model):
    with pytest.raises(RuntimeError), atomic_without_waiting_for_disk():
        django_user_model.objects.create(email="ann@example.com")
        raise RuntimeError
    assert not django_user_model.objects.exists()
    assert synchronous_commit() == "on"


@atomic_without_waiting_for_disk()
def decorated() -> str:
    return synchronous_commit()


def test_as_a_decorator_each_call_is_a_transaction_of_its_own():
    assert decorated() == "off"
    assert decorated() == "off"
    assert synchronous_commit() == "on"


def current_setting(*, using="default") -> str:
    (setting,) = execute_without_waiting_for_disk(
        "SELECT current_setting('synchronous_commit')", [], using=using
    )
    return setting


def test_one_statement_commits_without_waiting_and_only_it():
    assert current_setting() == "off"
    assert synchronous_commit() == "on"


def test_one_statement_inside_a_larger_transaction_keeps_the_larger_ones_commit():
    with transaction.atomic():
        assert current_setting() == "on"
        assert synchronous_commit() == "on"


def test_the_first_statements_answer_is_its_own_not_the_sets(django_user_model):
    """PostgreSQL's driver answers a query of several statements with the last one's rows
    and row count: the SET put in front changes neither (cart.services reads both)."""
    django_user_model.objects.create(email="ann@example.com")
    with atomic_without_waiting_for_disk():
        assert django_user_model.objects.update(is_staff=True) == 1
    with atomic_without_waiting_for_disk():
        assert django_user_model.objects.filter(is_staff=False).delete()[0] == 0
    with atomic_without_waiting_for_disk():
        assert list(django_user_model.objects.values_list("is_staff", flat=True)) == [True]
        assert synchronous_commit() == "off"


def test_a_server_side_cursor_first_is_left_alone_and_the_next_statement_sets(
    django_user_model,
):
    """A server-side cursor's statement is declared as a cursor (psycopg2's named cursor):
    the SET must not go into it; it goes with the block's next statement."""
    django_user_model.objects.create(email="ann@example.com")
    sent = []

    def noted(execute, sql, params, many, context):
        sent.append((context["cursor"].cursor.name is not None, sql.split(";")[0]))
        return execute(sql, params, many, context)

    with atomic_without_waiting_for_disk(), connection.execute_wrapper(noted):
        emails = list(django_user_model.objects.values_list("email", flat=True).iterator())
        assert synchronous_commit() == "off"
    assert emails == ["ann@example.com"]
    assert [named for named, _ in sent] == [True, False]
