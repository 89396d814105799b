"""The ledger's sum equals the variant's stock after any sequence of operations (issue 12,
item 8): a Hypothesis state machine runs sales, cancellations, returns, adjustments,
stocktakes and admin saves (pages loaded earlier, submitted later) in any order against a
model of what the stock should be, and checks after every step that each variant's stock is
the model's, never below zero, and the sum of its movements."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from catalog import services
from catalog.admin import VariantAdminForm, save_variant_form
from catalog.models import Product, StockMovement, Variant
from catalog.tests.factories import ProductFactory, VariantFactory

Reason = StockMovement.Reason
UNITS = st.integers(min_value=1, max_value=6)

#: Enough sequences to meet every refusal and the interleavings of pages with sales, few
#: enough for the suite (about 3 s of CPU); `database=None` keeps no example files.
LEDGER_SETTINGS = settings(
    max_examples=30,
    stateful_step_count=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class StockLedger(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        # Each sequence runs in a savepoint of the test's transaction, rolled back after it.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.variants: list[Variant] = []
        self.expected: list[int] = []
        self.pages: list[tuple[int, dict]] = []  # admin pages loaded: (variant, form data)

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    @initialize(stocks=st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=3))
    def open_shop(self, stocks):
        product = ProductFactory(variants=False)
        for stock in stocks:
            self.variants.append(VariantFactory(product=product, stock=stock))
            self.expected.append(stock)

    def _index(self, data) -> int:
        return data.draw(st.integers(min_value=0, max_value=len(self.variants) - 1))

    def _pk(self, index: int) -> int:
        return self.variants[index].pk

    # --- What orders do ---------------------------------------------------------------

    @rule(data=st.data())
    def take(self, data):
        indexes = data.draw(st.sets(st.integers(0, len(self.variants) - 1), min_size=1))
        wanted = {i: data.draw(UNITS) for i in indexes}
        try:
            services.take_stock(
                quantities={self._pk(i): n for i, n in wanted.items()}, reference="ORDER"
            )
        except services.InsufficientStock:
            assert any(self.expected[i] < n for i, n in wanted.items())
        else:
            for i, n in wanted.items():
                assert self.expected[i] >= n
                self.expected[i] -= n

    @rule(data=st.data(), units=UNITS, reason=st.sampled_from([Reason.CANCEL, Reason.RETURN]))
    def give_back(self, data, units, reason):
        index = self._index(data)
        services.return_stock(quantities={self._pk(index): units}, reason=reason)
        self.expected[index] += units

    # --- What the merchant does ------------------------------------------------------------

    @rule(
        data=st.data(),
        delta=st.integers(min_value=-8, max_value=8).filter(bool),
        reason=st.sampled_from([Reason.RECEIVED, Reason.CORRECTION]),
    )
    def adjust(self, data, delta, reason):
        index = self._index(data)
        try:
            services.adjust_stock(variant_id=self._pk(index), delta=delta, reason=reason)
        except services.StockError:
            assert delta < 0 and (reason == Reason.RECEIVED or self.expected[index] + delta < 0)
        else:
            self.expected[index] += delta

    @rule(data=st.data(), counted=st.integers(min_value=0, max_value=15), stale=st.booleans())
    def count(self, data, counted, stale):
        index = self._index(data)
        shown = self.expected[index] + (1 if stale else 0)
        try:
            services.count_stock(variant_id=self._pk(index), counted=counted, expected=shown)
        except services.StockChangedSinceLoaded:
            assert stale
        else:
            assert not stale
            self.expected[index] = counted

    @rule(data=st.data())
    def load_admin_page(self, data):
        """A merchant opens a variant's page: what the browser holds until it posts."""
        index = self._index(data)
        variant = Variant.objects.get(pk=self._pk(index))
        self.pages.append(
            (
                index,
                {
                    "product": str(variant.product_id),
                    "sku": variant.sku,
                    "price": str(variant.price),
                    "compare_at_price": "",
                    "weight_grams": str(variant.weight_grams),
                    "is_active": "on",
                    "position": str(variant.position),
                    "stock_loaded": str(variant.stock),
                    "stock_adjust": "",
                    "stock_reason": Reason.RECEIVED.value,
                    "stock_counted": "",
                },
            )
        )

    @precondition(lambda self: self.pages)
    @rule(
        data=st.data(),
        entry=st.sampled_from(["price only", "adjust", "count"]),
        units=st.integers(min_value=-5, max_value=9),
    )
    def save_admin_page(self, data, entry, units):
        """The merchant saves a page loaded earlier, maybe after sales and other changes."""
        index, loaded = self.pages.pop(data.draw(st.integers(0, len(self.pages) - 1)))
        posted = {**loaded, "price": str(Decimal(loaded["price"]) + 1)}
        if entry == "adjust" and units:
            posted.update(stock_adjust=str(units), stock_reason=Reason.CORRECTION.value)
        elif entry == "count":
            posted["stock_counted"] = str(abs(units))
        changes_stock = posted["stock_adjust"] or posted["stock_counted"]
        variant = Variant.objects.get(pk=self._pk(index))
        form = VariantAdminForm(posted, instance=variant)
        valid = form.is_valid()
        stale = int(loaded["stock_loaded"]) != self.expected[index]
        if changes_stock and stale:
            assert not valid and "since this page was loaded" in str(form.errors["stock"])
            return
        if entry == "adjust" and self.expected[index] + units < 0:
            assert not valid
            return
        assert valid, form.errors
        form.save(commit=False)
        if save_variant_form(form, actor=None):
            form.save_m2m()
            services.refresh_products(product_ids=[variant.product_id])
        if posted["stock_counted"]:
            self.expected[index] = int(posted["stock_counted"])
        elif posted["stock_adjust"]:
            self.expected[index] += units
        assert Variant.objects.get(pk=variant.pk).price == Decimal(posted["price"])

    # --- After every step -------------------------------------------------------------------

    @invariant()
    def ledger_adds_up_to_the_stock(self):
        if not self.variants:
            return
        pks = [variant.pk for variant in self.variants]
        stock = dict(Variant.objects.filter(pk__in=pks).values_list("pk", "stock"))
        ledger = dict(
            StockMovement.objects.filter(variant__in=pks)
            .values("variant")
            .annotate(total=Sum("quantity"))
            .values_list("variant", "total")
        )
        for index, pk in enumerate(pks):
            assert stock[pk] == ledger[pk] == self.expected[index] >= 0
        last = (StockMovement.objects.filter(variant=pks[0]).order_by("-pk").values("stock_after"))[
            0
        ]["stock_after"]
        assert last == stock[pks[0]]
        product = Product.objects.get(pk=self.variants[0].product_id)
        assert product.stock == sum(stock.values())


@pytest.mark.django_db
def test_the_ledger_adds_up_to_the_stock_after_any_sequence_of_changes():
    run_state_machine_as_test(StockLedger, settings=LEDGER_SETTINGS)
