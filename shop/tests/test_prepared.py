"""shop.prepared: a statement built once reads what the ORM's own queryset reads."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.signals import pre_save
from django.db.models.sql.compiler import SQLInsertCompiler
from django.db.transaction import TransactionManagementError
from django.utils import translation

from cart.models import Cart, CartLine
from cart.tests.factories import CartLineFactory
from catalog.models import OptionValue, Variant
from catalog.tests.factories import OptionValueFactory, VariantFactory
from shop.prepared import PREPARED_ROWS, Prepared, create, create_all, set_prefetched

pytestmark = pytest.mark.django_db


def lines_of(cart_id):
    return (
        CartLine.objects.filter(cart_id=cart_id)
        .order_by("pk")
        .values_list("pk", "quantity", "is_selected", "seen_price", "variant__price")
    )


def test_rows_are_the_querysets_own_converted_as_the_orm_converts_them():
    line = CartLineFactory(quantity=2, seen_price=Decimal("9.90"), is_selected=False)
    CartLineFactory(cart=line.cart)
    CartLineFactory()  # another cart's line: not read
    prepared = Prepared(lines_of, "cart_id")
    rows = prepared.rows(cart_id=line.cart_id)
    assert rows == list(lines_of(line.cart_id))
    # Decimals and booleans as the ORM gives them (SQLite stores neither as such).
    assert rows[0][2:4] == (False, Decimal("9.90"))
    assert isinstance(rows[0][4], Decimal)
    assert prepared.rows(cart_id=line.cart_id + 1000) == []


def test_objects_carry_their_select_related_rows_and_deferred_fields(
    django_assert_num_queries,
):
    variant = VariantFactory(price=Decimal("12.50"), stock=4)
    prepared = Prepared(
        lambda pk: (
            Variant.objects.select_related("product__category")
            .only("price", "stock", "product__name", "product__category__is_active")
            .filter(pk=pk)[:1]
        ),
        "pk",
    )
    with django_assert_num_queries(1):
        found = prepared.first(pk=variant.pk)
        assert (found.pk, found.price, found.stock) == (variant.pk, Decimal("12.50"), 4)
        assert found.product.name == variant.product.name
        assert found.product.category.is_active is True
    assert prepared.first(pk=variant.pk + 1000) is None


def test_each_value_goes_where_its_name_is_whatever_the_order():
    ann, bob = Cart.objects.create(), Cart.objects.create()
    prepared = Prepared(
        lambda first, second: Cart.objects.filter(pk__gte=first, pk__lte=second).order_by("pk"),
        "second",
        "first",
    )
    assert [cart.pk for cart in prepared.objects(first=ann.pk, second=bob.pk)] == [ann.pk, bob.pk]
    assert prepared.objects(first=bob.pk, second=ann.pk) == []


def test_a_text_value_goes_where_its_name_is():
    Cart.objects.create(coupon_code="OTHER")
    cart = Cart.objects.create(coupon_code="SPRING")
    prepared = Prepared(
        lambda code: Cart.objects.filter(coupon_code=code).values_list("pk"), "code"
    )
    assert prepared.rows(code="SPRING") == [(cart.pk,)]
    assert prepared.rows(code="spring") == []


def test_a_list_is_built_once_per_length_and_each_value_goes_where_it_is():
    carts = [Cart.objects.create() for _ in range(4)]
    prepared = Prepared(
        lambda ids, low: Cart.objects.filter(pk__in=ids, pk__gte=low).order_by("pk"), "ids", "low"
    )
    first, second, third, fourth = (cart.pk for cart in carts)
    found = prepared.objects(ids=[third, first], low=first)
    assert [cart.pk for cart in found] == [first, third]
    assert [cart.pk for cart in prepared.objects(ids=[fourth, second], low=third)] == [fourth]
    assert [cart.pk for cart in prepared.objects(ids=[second], low=first)] == [second]
    assert len(prepared._compiled) == 2
    with pytest.raises(ValueError, match="empty"):
        prepared.objects(ids=[], low=first)


def test_a_statement_with_a_value_not_named_is_refused():
    # `quantity=1` would be compiled into the statement as a parameter of its own.
    prepared = Prepared(
        lambda cart_id: CartLine.objects.filter(cart_id=cart_id, quantity=1), "cart_id"
    )
    with pytest.raises(ValueError, match="not exactly"):
        prepared.objects(cart_id=1)


def test_rows_and_objects_are_not_mixed_up():
    with pytest.raises(TypeError):
        Prepared(lambda pk: Cart.objects.filter(pk=pk), "pk").rows(pk=1)
    with pytest.raises(TypeError):
        Prepared(lambda pk: Cart.objects.filter(pk=pk).values_list("pk"), "pk").objects(pk=1)


@pytest.mark.django_db(transaction=True)
def test_a_locking_statement_runs_only_inside_a_transaction():
    line = CartLineFactory()
    prepared = Prepared(
        lambda cart_id: CartLine.objects.select_for_update().filter(cart_id=cart_id), "cart_id"
    )
    with transaction.atomic():
        assert [found.pk for found in prepared.objects(cart_id=line.cart_id)] == [line.pk]
    with pytest.raises(TransactionManagementError):
        prepared.objects(cart_id=line.cart_id)


def test_built_per_language():
    """modeltranslation writes a translated field's column by the active language: each
    language has its statement."""
    variant = VariantFactory()
    prepared = Prepared(lambda pk: Variant.objects.filter(pk=pk).values_list("pk"), "pk")
    for language in ("en", "zh-hans"):
        with translation.override(language):
            assert prepared.rows(pk=variant.pk) == [(variant.pk,)]
    assert len(prepared._compiled) == 2


def test_objects_carry_their_annotations_as_the_orm_sets_them():
    line = CartLineFactory(quantity=3)
    build = lambda cart_id: CartLine.objects.filter(cart_id=cart_id).annotate(  # noqa: E731
        twice=F("quantity") + F("quantity"), sku=F("variant__sku")
    )
    (found,) = Prepared(build, "cart_id").objects(cart_id=line.cart_id)
    (orms,) = build(line.cart_id)
    assert (found.twice, found.sku) == (orms.twice, orms.sku) == (6, line.variant.sku)


def test_set_prefetched_rows_are_the_relations_all_without_a_query(django_assert_num_queries):
    variant = VariantFactory(option_values=[])
    red = OptionValueFactory(value="Red")
    with django_assert_num_queries(0):
        set_prefetched(variant, "option_values", [red], OptionValue)
        assert list(variant.option_values.all()) == [red]
        assert variant.options_label == "Red"
    assert list(Variant.objects.get(pk=variant.pk).option_values.all()) == []


def test_create_writes_the_row_the_orms_create_writes():
    variant, other = VariantFactory(), VariantFactory()
    cart = Cart.objects.create()
    values = {"quantity": 2, "is_selected": False, "seen_price": Decimal("9.90")}
    ours = create(CartLine, cart=cart, variant=variant, **values)
    djangos = CartLine.objects.create(cart=cart, variant=other, **values)
    assert isinstance(ours.pk, int) and ours.pk != djangos.pk
    assert not ours._state.adding and ours._state.db == "default"
    assert ours.added_at is not None and ours.group_id is None
    columns = [
        f.attname
        for f in CartLine._meta.concrete_fields
        if f.attname not in ("id", "variant_id", "added_at")
    ]
    read = {line.pk: line for line in CartLine.objects.filter(cart=cart)}
    assert [getattr(read[ours.pk], name) for name in columns] == [
        getattr(read[djangos.pk], name) for name in columns
    ]
    assert read[ours.pk].added_at == ours.added_at
    assert read[ours.pk].variant_id == variant.pk


def test_create_compiles_each_models_insert_once(monkeypatch):
    cart, first, second = Cart.objects.create(), VariantFactory(), VariantFactory()
    create(CartLine, cart=cart, variant=first, quantity=1, seen_price=1)
    compiled = []
    monkeypatch.setattr(SQLInsertCompiler, "as_sql", lambda *a, **k: compiled.append(1))
    line = create(CartLine, cart=cart, variant=second, quantity=1, seen_price=1)
    assert compiled == [] and CartLine.objects.filter(pk=line.pk).exists()


def test_create_leaves_to_the_orm_what_save_alone_does():
    cart = Cart.objects.create()
    heard = []

    def listener(sender, instance, **kwargs):
        heard.append(instance.quantity)

    pre_save.connect(listener, sender=CartLine)
    try:
        create(CartLine, cart=cart, variant=VariantFactory(), quantity=3, seen_price=1)
    finally:
        pre_save.disconnect(listener, sender=CartLine)
    assert heard == [3]
    line = create(CartLine, cart=cart, variant=VariantFactory(), quantity=Value(4), seen_price=1)
    line.refresh_from_db()
    assert line.quantity == 4


def test_a_refused_insert_marks_the_transaction_as_save_does():
    line = CartLineFactory()
    with transaction.atomic():
        with pytest.raises(IntegrityError):
            create(CartLine, cart=line.cart, variant=line.variant, quantity=1, seen_price=1)
        assert transaction.get_rollback()  # as save() leaves it: the block is rolled back


def test_create_all_writes_the_rows_bulk_create_writes():
    cart, other = Cart.objects.create(), Cart.objects.create()
    variants = [VariantFactory() for _ in range(3)]
    values = [(1, True, Decimal("9.90")), (2, False, Decimal("0.10")), (7, True, Decimal("12"))]

    def lines(cart):
        return [
            CartLine(cart=cart, variant=v, quantity=q, is_selected=s, seen_price=p)
            for v, (q, s, p) in zip(variants, values, strict=True)
        ]

    ours = create_all(lines(cart))
    djangos = CartLine.objects.bulk_create(lines(other))
    assert all(isinstance(line.pk, int) for line in ours)
    assert all(not line._state.adding and line._state.db == "default" for line in ours)
    assert all(line.added_at is not None for line in ours)
    columns = [
        f.attname
        for f in CartLine._meta.concrete_fields
        if f.attname not in ("id", "cart_id", "added_at")
    ]
    read = {line.pk: line for line in CartLine.objects.all()}
    assert [[getattr(read[line.pk], c) for c in columns] for line in ours] == [
        [getattr(read[line.pk], c) for c in columns] for line in djangos
    ]
    assert [read[line.pk].cart_id for line in ours] == [cart.pk] * 3
    assert [read[line.pk].added_at for line in ours] == [line.added_at for line in ours]
    assert create_all([]) == []


def test_create_all_compiles_each_number_of_rows_once(monkeypatch):
    cart, variants = Cart.objects.create(), [VariantFactory() for _ in range(6)]

    def lines(*indexes):
        return [CartLine(cart=cart, variant=variants[i], quantity=1, seen_price=1) for i in indexes]

    create_all(lines(0))
    create_all(lines(1, 2))
    compiled = []
    monkeypatch.setattr(SQLInsertCompiler, "as_sql", lambda *a, **k: compiled.append(1))
    written = create_all(lines(3, 4)) + create_all(lines(5))
    assert compiled == []
    assert CartLine.objects.filter(pk__in=[line.pk for line in written]).count() == 3


def test_create_all_leaves_many_rows_to_bulk_create(monkeypatch):
    carts, many = [Cart.objects.create(), Cart.objects.create()], PREPARED_ROWS + 1
    variants = [VariantFactory() for _ in range(many)]
    compiled = []
    as_sql = SQLInsertCompiler.as_sql
    monkeypatch.setattr(
        SQLInsertCompiler, "as_sql", lambda *a, **k: compiled.append(1) or as_sql(*a, **k)
    )
    for cart in carts:
        lines = [CartLine(cart=cart, variant=v, quantity=1, seen_price=1) for v in variants]
        create_all(lines)
        assert all(line.pk for line in lines)
        assert cart.lines.count() == many
    assert len(compiled) == 2  # bulk_create() compiles each time: nothing kept for 21 rows


def test_create_all_leaves_to_bulk_create_what_it_alone_does():
    cart = Cart.objects.create()
    (line,) = create_all(
        [CartLine(cart=cart, variant=VariantFactory(), quantity=Value(4), seen_price=1)]
    )
    line.refresh_from_db()
    assert line.quantity == 4
    with pytest.raises(ValueError, match="unsaved related object"):
        create_all([CartLine(cart=Cart(), variant=VariantFactory(), quantity=1, seen_price=1)])


def test_a_refused_create_all_marks_the_transaction_as_bulk_create_does():
    line = CartLineFactory()
    with transaction.atomic():
        with pytest.raises(IntegrityError):
            create_all(
                [
                    CartLine(cart=line.cart, variant=VariantFactory(), quantity=1, seen_price=1),
                    CartLine(cart=line.cart, variant=line.variant, quantity=1, seen_price=1),
                ]
            )
        assert transaction.get_rollback()
