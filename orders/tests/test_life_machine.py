"""The order's life after checkout, as a Hypothesis state machine: any sequence of placing,
paying (by card or by hand, twice, late, declined, callbacks delivered again), cancelling
(merchant or shopper), shipping in parts, delivering, returning, refunding by line or by
return, sending refunds due, adjusting stock, the card provider going down and deadlines
passing keeps the shop's books straight. After every step:

- stock: never below zero; each variant's stock is its initial stock, plus the adjustments
  made, minus the units its order lines took, plus the units they put back; and the sum of
  its stock movements;
- money: every order holds exactly what its (non-surplus) payments hold, its payment status
  is the one derived from its totals, every refund decided by line is paid out in full
  (sent or due), a cancelled order holds only refunds due, a surplus payment is refunded or
  due in full, and reconciliation (find_discrepancies) finds nothing;
- rows: every line counter equals the sum of its rows (shipment, refund, received return
  lines) and stays within the line; every shipped unit is the shopper's, came back, or was
  refunded for them to keep, never two of these; fulfilment and order status are what the
  rows say;
- providers: money goes back at a provider only for refunds the database keeps.

A service may refuse (OrderError, PaymentError, StockError): then nothing changed, not a
row, not a provider call. A rule also brings every order to an end with the merchant's own
tools: no order is ever stuck. Each example runs in a savepoint rolled back at its end, so
examples never see each other's rows.

To explore longer than the suite can afford, set ORDER_LIFE_EXAMPLES (e.g. 200: about ten
minutes); a failure is then shrunk, which takes minutes too with steps this heavy.
"""

import os
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from accounts.models import User
from cart.models import Cart
from catalog.models import StockMovement, Variant
from catalog.services import StockError, adjust_stock
from catalog.tests.factories import VariantFactory
from orders import services as order_services
from orders.errors import OrderError
from orders.models import (
    ZERO,
    FulfilmentStatus,
    Order,
    OrderEvent,
    OrderLine,
    OrderRefund,
    OrderRefundLine,
    OrderStatus,
    PaymentStatus,
    ReturnLine,
    ReturnRequest,
    ReturnStatus,
    Shipment,
    ShipmentLine,
)
from orders.selectors import returnable_quantities
from orders.services.statuses import (
    PAID_STATUSES,
    derive_fulfilment_status,
    derive_payment_status,
)
from orders.tests.factories import ShippingMethodFactory, cart_with, place
from payments import gateway
from payments import services as payments
from payments.errors import PaymentError, ProviderUnavailable
from payments.models import (
    MONEY_TAKEN,
    Payment,
    PaymentState,
    PaymentStateChange,
    Refund,
    RefundStatus,
)
from payments.providers.sandbox import SandboxProvider
from payments.tests.factories import start
from promotions.tests.factories import spend_offer

#: What a service may raise to refuse; anything else is a bug.
REFUSALS = (OrderError, PaymentError, StockError)

#: Three prices: a round one, a half, and one that does not divide (3 x 3.33 refunded one
#: unit at a time, under a spread discount, must still add up to the line's total).
PRICES = (Decimal("10.00"), Decimal("7.50"), Decimal("3.33"))
#: A handful of orders is enough to mix every path (surplus, expiry, returns) in one example
#: while keeping the invariants, which read every row after every step, cheap.
MAX_ORDERS = 3
OPEN_RETURNS = (ReturnStatus.REQUESTED, ReturnStatus.APPROVED, ReturnStatus.RECEIVED)
WAITING_RETURNS = (ReturnStatus.REQUESTED, ReturnStatus.APPROVED)
RECEIVED_RETURNS = (ReturnStatus.RECEIVED, ReturnStatus.REFUNDED)
NOT_CAPTURED = (
    PaymentState.PENDING,
    PaymentState.AUTHORISED,
    PaymentState.FAILED,
    PaymentState.CANCELLED,
)


def waiting_payments():
    return Payment.objects.filter(state__in=NOT_CAPTURED)


def shippable_orders():
    """Open, paid orders with units left to ship."""
    return Order.objects.filter(
        status=OrderStatus.OPEN,
        payment_status__in=PAID_STATUSES,
        lines__quantity_shipped__lt=F("lines__quantity") - F("lines__quantity_cancelled"),
    )


def returnable_orders():
    """Orders the shopper holds units of that are not in a return under way (two queries:
    the selector returnable_quantities() takes two an order)."""
    pending = total(
        ReturnLine.objects.filter(return_request__status__in=WAITING_RETURNS),
        by="line_id",
        field="quantity",
    )
    shipped = OrderLine.objects.filter(quantity_shipped__gt=0)
    ids = {line.order_id for line in shipped if line.quantity_returnable > pending[line.pk]}
    return Order.objects.filter(pk__in=ids)


def snapshot() -> tuple:
    """Everything a refused service must leave as it was (callback deliveries are stored
    whatever happens, so they are not in it)."""
    return (
        list(
            Order.objects.order_by("pk").values_list(
                "pk",
                "status",
                "payment_status",
                "fulfilment_status",
                "payment_method",
                "payment_deadline",
                "total_paid",
                "total_refunded",
                "shipping_refunded",
                "paid_at",
                "cancelled_at",
                "completed_at",
            )
        ),
        list(
            OrderLine.objects.order_by("pk").values_list(
                "pk",
                "quantity_shipped",
                "quantity_cancelled",
                "quantity_refunded",
                "quantity_refunded_returned",
                "quantity_returned",
                "quantity_restocked",
                "amount_refunded",
            )
        ),
        list(
            Payment.objects.order_by("pk").values_list(
                "pk", "state", "amount", "amount_refunded", "surplus", "flagged"
            )
        ),
        list(Refund.objects.order_by("pk").values_list("pk", "amount", "status", "reference")),
        list(Variant.objects.order_by("pk").values_list("pk", "stock")),
        StockMovement.objects.count(),
        list(Shipment.objects.order_by("pk").values_list("pk", "delivered_at")),
        list(ReturnRequest.objects.order_by("pk").values_list("pk", "status", "answer")),
        list(ReturnLine.objects.order_by("pk").values_list("pk", "quantity", "restock")),
        ShipmentLine.objects.count(),
        OrderRefund.objects.count(),
        OrderRefundLine.objects.count(),
        OrderEvent.objects.count(),
        PaymentStateChange.objects.count(),
    )


class OrderLife(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        # One savepoint per example, rolled back in teardown(): pytest-django's transaction
        # wraps the whole test, not each example.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        cache.clear()
        # The sandbox as a provider that may be down: every refund it made (the database
        # must keep each of them), and how many it made within one attempt().
        self.provider_refunds: list[str] = []
        self.calls_in_attempt = 0
        self.sandbox_down = False
        self._sandbox = {name: SandboxProvider.__dict__.get(name) for name in ("refund", "close")}
        machine = self

        def refund(provider, *, payment, amount, idempotency_key):
            if machine.sandbox_down:
                raise ProviderUnavailable("The sandbox does not answer.")
            reference = machine._sandbox["refund"](
                provider, payment=payment, amount=amount, idempotency_key=idempotency_key
            )
            machine.provider_refunds.append(reference)
            machine.calls_in_attempt += 1
            return reference

        def close(provider, *, payment):
            if machine.sandbox_down:
                raise ProviderUnavailable("The sandbox does not answer.")

        SandboxProvider.refund, SandboxProvider.close = refund, close
        # Made directly: the factory's password hashing costs a second an example.
        self.merchant = User.objects.create(email="merchant@example.com", is_staff=True)
        self.shopper = User.objects.create(email="shopper@example.com")
        self.method = ShippingMethodFactory(price=Decimal("5.00"))
        self.variants: list[int] = []
        self.initial: dict[int, int] = {}
        self.adjusted: dict[int, int] = defaultdict(int)
        self.order_ids: list[int] = []
        #: Signed callback bodies delivered so far, to deliver again.
        self.deliveries: list[tuple[bytes, dict[str, str]]] = []
        self.clock = timezone.now()

    def teardown(self):
        for name, original in self._sandbox.items():
            if original is None:
                delattr(SandboxProvider, name)
            else:
                setattr(SandboxProvider, name, original)
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- Helpers --------------------------------------------------------------------------

    def attempt(self, action, *args, **kwargs):
        """Run a service; a refusal must have changed nothing, here or at the provider."""
        before = snapshot()
        self.calls_in_attempt = 0
        try:
            done = action(*args, **kwargs)
        except REFUSALS as refusal:
            assert snapshot() == before, f"{action.__name__} refused ({refusal}) but wrote"
            assert self.calls_in_attempt == 0, (
                f"{action.__name__} refused ({refusal}) after refunding at the provider"
            )
            event(f"{action.__name__}: refused")
            return None
        event(f"{action.__name__}: done")
        return done

    def pick(self, data, queryset, label: str):
        """One row of `queryset` (rules run only when their precondition saw one)."""
        pks = sorted(set(queryset.values_list("pk", flat=True)))
        return queryset.model.objects.get(pk=data.draw(st.sampled_from(pks), label=label))

    def lines(self, order: Order) -> list[OrderLine]:
        return list(OrderLine.objects.filter(order=order).order_by("pk"))

    def deliver(self, payment: Payment, outcome: str) -> None:
        body, headers = gateway.build_callback(payment=payment, outcome=outcome)
        self.deliveries.append((body, headers))
        payments.receive_callback(provider_code="sandbox", body=body, headers=headers)
        payment.refresh_from_db()
        event(f"sandbox {outcome}: payment {payment.state}{', surplus' * payment.surplus}")

    def capture(self, payment: Payment) -> None:
        """The shopper pays: the sandbox calls back, or the merchant sees the transfer."""
        if payment.provider == "sandbox":
            self.deliver(payment, "pay")
        else:
            self.attempt(payments.confirm_manual_payment, payment=payment, actor=self.merchant)

    def place(self, quantities: dict[int, int], *, method: str, guest: bool) -> None:
        user = None if guest else self.shopper
        variants = {v.pk: v for v in Variant.objects.filter(pk__in=self.variants)}
        if user is not None:
            Cart.objects.filter(user=user).delete()  # a shopper has one cart
        cart = cart_with(
            *((variants[self.variants[i]], n) for i, n in sorted(quantities.items())), user=user
        )
        order = self.attempt(place, cart, method=self.method, user=user, payment=method)
        if order is not None:
            self.order_ids.append(order.pk)

    # --- Setting up ----------------------------------------------------------------------

    @initialize(
        stocks=st.lists(st.integers(1, 6), min_size=len(PRICES), max_size=len(PRICES)),
        discount=st.booleans(),
        first=st.dictionaries(
            st.integers(0, len(PRICES) - 1), st.integers(1, 3), min_size=1, max_size=3
        ),
        method=st.sampled_from(["sandbox", "manual"]),
        guest=st.booleans(),
    )
    def open_the_shop(self, stocks, discount, first, method, guest):
        """A few variants with little stock, and a first order (within that stock)."""
        for price, stock in zip(PRICES, stocks, strict=True):
            variant = VariantFactory(price=price, stock=stock)
            self.variants.append(variant.pk)
            self.initial[variant.pk] = stock
        if discount:
            # Spread over the lines, so their totals are not price x quantity.
            spend_offer({"20.00": "2.00"})
        self.place({i: min(n, stocks[i]) for i, n in first.items()}, method=method, guest=guest)

    # --- What the shop does (shared by the rules and advance()) ----------------------------

    def pay(self, data, order: Order) -> None:
        """The shopper pays by card, or by a bank transfer the merchant confirms."""
        provider = data.draw(st.sampled_from(["sandbox", "manual"]), label="provider")
        payment = self.attempt(start, order, provider=provider)
        if payment is not None:
            self.capture(payment)

    def ship(self, data, order: Order) -> None:
        """A parcel of everything left, or of any units of any lines (none is refused)."""
        quantities = None
        if not data.draw(st.booleans(), label="everything"):
            quantities = {
                line.pk: data.draw(st.integers(0, line.quantity_to_ship), label="units")
                for line in self.lines(order)
            }
        self.attempt(
            order_services.ship_lines,
            order=order,
            carrier="dhl",
            tracking_number="JD0001",
            quantities=quantities,
        )

    def ask_return(self, data, order: Order) -> None:
        """The shopper asks to send back any units they hold."""
        allowed = returnable_quantities(order)
        quantities = {
            pk: data.draw(st.integers(0, units), label="units") for pk, units in allowed.items()
        }
        reason = data.draw(st.sampled_from(["damaged", "changed_mind", "because"]), label="why")
        self.attempt(
            order_services.request_return, order=order, quantities=quantities, reason=reason
        )

    def receive(self, data, found: ReturnRequest) -> None:
        """The parcel arrives; the merchant puts back on the shelf what is fit to sell."""
        line_ids = sorted(found.lines.values_list("pk", flat=True))
        restock = data.draw(st.sets(st.sampled_from(line_ids)), label="restock")
        self.attempt(
            order_services.receive_return,
            return_request=found,
            restock=restock,
            actor=self.merchant,
        )

    def refund_return(self, data, found: ReturnRequest) -> None:
        plan = self.attempt(
            order_services.plan_return_refund,
            return_request=found,
            shipping=found.order.shipping_refundable
            if data.draw(st.booleans(), label="shipping")
            else None,
        )
        if plan is not None:
            confirmed = data.draw(st.booleans(), label="sent by hand")
            self.attempt(payments.refund_order, plan=plan, actor=self.merchant, confirmed=confirmed)

    def send_refund(self, refund: Refund) -> None:
        self.attempt(payments.record_refund_sent, refund=refund, actor=self.merchant)

    # --- Rules ---------------------------------------------------------------------------
    # Hypothesis runs each example with a random subset of the rules (swarm testing), so the
    # ordinary life of an order is one rule, advance(); the others branch off it. A rule
    # runs when its precondition finds something to act on (one query) and picks its target
    # among those; rules whose refusals are worth checking pick among every order.

    @precondition(lambda self: self.order_ids)
    @rule(data=st.data())
    def advance(self, data):
        """The next step of an order's ordinary life: paid, shipped (in parts), delivered,
        a return requested, approved, received and refunded, a refund due sent."""
        order = self.pick(data, Order.objects, "order")
        returns = order.returns.order_by("pk")
        requested = returns.filter(status=ReturnStatus.REQUESTED).first()
        approved = returns.filter(status=ReturnStatus.APPROVED).first()
        received = returns.filter(status=ReturnStatus.RECEIVED).first()
        due = Refund.objects.filter(payment__order=order, status=RefundStatus.DUE).first()
        if Order.objects.awaiting_payment().filter(pk=order.pk).exists():
            self.pay(data, order)
        elif shippable_orders().filter(pk=order.pk).exists():
            self.ship(data, order)
        elif order.shipments.filter(delivered_at__isnull=True).exists():
            self.attempt(order_services.mark_delivered, order=order, actor=self.merchant)
        elif requested is not None:
            self.attempt(
                order_services.approve_return, return_request=requested, actor=self.merchant
            )
        elif approved is not None:
            self.receive(data, approved)
        elif received is not None:
            self.refund_return(data, received)
        elif due is not None:
            self.send_refund(due)
        elif returnable_orders().filter(pk=order.pk).exists():
            self.ask_return(data, order)
        else:
            event(f"advance: nothing left to do ({order.status})")

    @precondition(lambda self: len(self.order_ids) < MAX_ORDERS)
    @rule(
        quantities=st.dictionaries(
            st.integers(0, len(PRICES) - 1), st.integers(1, 3), min_size=1, max_size=3
        ),
        method=st.sampled_from(["sandbox", "manual"]),
        guest=st.booleans(),
    )
    def place_order(self, quantities, method, guest):
        self.place(quantities, method=method, guest=guest)

    @precondition(lambda self: self.order_ids)
    @rule(
        data=st.data(),
        twist=st.sampled_from(
            ["start", "capture", "pay twice", "record by hand", "decline", "deliver again"]
        ),
    )
    def payment_twist(self, data, twist):
        """Money another way: a payment opened and left, captured late (after a decline,
        after the order was paid otherwise or ended: surplus to give back), two payments at
        once, the merchant recording a transfer, a decline, a callback delivered again."""
        if twist == "start":
            provider = data.draw(st.sampled_from(["sandbox", "manual"]), label="provider")
            self.attempt(start, self.pick(data, Order.objects, "order"), provider=provider)
        elif twist == "capture":
            if waiting_payments().exists():
                self.capture(self.pick(data, waiting_payments(), "payment"))
        elif twist == "pay twice":
            if Order.objects.awaiting_payment().exists():
                order = self.pick(data, Order.objects.awaiting_payment(), "order")
                first = data.draw(st.sampled_from(["sandbox", "manual"]), label="first")
                self.pay_twice(order, first=first)
        elif twist == "record by hand":
            order = self.pick(data, Order.objects, "order")
            self.attempt(payments.record_manual_payment, order=order, actor=self.merchant)
        elif twist == "decline":
            sandbox = waiting_payments().filter(provider="sandbox")
            if sandbox.exists():
                self.deliver(self.pick(data, sandbox, "payment"), "decline")
        elif self.deliveries:  # the same event delivered again changes nothing
            body, headers = data.draw(st.sampled_from(self.deliveries), label="delivery")
            before = snapshot()
            payments.receive_callback(provider_code="sandbox", body=body, headers=headers)
            assert snapshot() == before, "a callback delivered again changed something"

    def pay_twice(self, order: Order, *, first: str) -> None:
        """The shopper opens a card payment and a bank transfer; both arrive."""
        card = self.attempt(start, order, provider="sandbox")
        transfer = self.attempt(start, order, provider="manual")
        if card is None or transfer is None:
            return
        for payment in [card, transfer] if first == "sandbox" else [transfer, card]:
            payment.refresh_from_db()
            self.capture(payment)

    @precondition(lambda self: self.order_ids)
    @rule(data=st.data(), by=st.sampled_from(["merchant", "shopper"]), confirmed=st.booleans())
    def cancel(self, data, by, confirmed):
        """The merchant cancels (saying whether they sent a bank transfer back), or the
        shopper does; either way the order ends cancelled, or nothing changed."""
        order = self.pick(data, Order.objects, "order")
        by_shopper = by == "shopper"
        # The shopper: signed in as the owner, or a guest through the link in their mail.
        shopper = self.shopper if order.user_id else None
        done = self.attempt(
            payments.cancel_order,
            order=order,
            actor=shopper if by_shopper else self.merchant,
            by_shopper=by_shopper,
            confirmed=confirmed and not by_shopper,
        )
        if done is not None:
            assert done.status == OrderStatus.CANCELLED, f"cancel_order left it {done.status}"

    @precondition(lambda self: self.order_ids)
    @rule(data=st.data())
    def ship_any(self, data):
        """Ship any order: one that is unpaid, cancelled or shipped must be refused."""
        self.ship(data, self.pick(data, Order.objects, "order"))

    @precondition(lambda self: self.order_ids)
    @rule(data=st.data())
    def deliver_any(self, data):
        order = self.pick(data, Order.objects, "order")
        self.attempt(order_services.mark_delivered, order=order, actor=self.merchant)

    @precondition(lambda self: returnable_orders().exists())
    @rule(data=st.data())
    def request_return(self, data):
        self.ask_return(data, self.pick(data, returnable_orders(), "order"))

    @precondition(lambda self: ReturnRequest.objects.exists())
    @rule(data=st.data(), approve=st.booleans(), answer=st.booleans())
    def answer_return(self, data, approve, answer):
        """Approve or reject (with or without the answer the shopper must read) any return:
        one not waiting for that answer must be refused."""
        found = self.pick(data, ReturnRequest.objects, "return")
        if approve:
            self.attempt(order_services.approve_return, return_request=found, actor=self.merchant)
        else:
            self.attempt(
                order_services.reject_return,
                return_request=found,
                answer="Worn twice" if answer else " ",
                actor=self.merchant,
            )

    @precondition(lambda self: ReturnRequest.objects.exists())
    @rule(data=st.data())
    def receive_any_return(self, data):
        """Receive any return: one not approved (or received already) must be refused."""
        self.receive(data, self.pick(data, ReturnRequest.objects, "return"))

    @precondition(lambda self: Order.objects.filter(total_paid__gt=0).exists())
    @rule(data=st.data(), confirmed=st.booleans())
    def refund_lines(self, data, confirmed):
        """Refund any units of any lines (restocked or not) and some shipping."""
        order = self.pick(data, Order.objects.filter(total_paid__gt=0), "order")
        lines = self.lines(order)
        quantities = {
            line.pk: data.draw(st.integers(0, line.quantity_refundable), label="units")
            for line in lines
        }
        restock = data.draw(st.sets(st.sampled_from([line.pk for line in lines])), label="restock")
        shipping = data.draw(
            st.sampled_from([ZERO, Decimal("1.00"), order.shipping_refundable]), label="shipping"
        )
        plan = self.attempt(
            order_services.plan_refund,
            order=order,
            quantities=quantities,
            restock=restock,
            shipping=shipping,
        )
        if plan is not None:
            self.attempt(payments.refund_order, plan=plan, actor=self.merchant, confirmed=confirmed)

    @precondition(lambda self: Refund.objects.filter(status=RefundStatus.DUE).exists())
    @rule(data=st.data())
    def record_refund_sent(self, data):
        self.send_refund(self.pick(data, Refund.objects.filter(status=RefundStatus.DUE), "r"))

    @rule(index=st.integers(0, len(PRICES) - 1), delta=st.integers(-3, 3).filter(bool))
    def adjust_stock(self, index, delta):
        """The merchant corrects a count (found, lost, damaged units)."""
        pk = self.variants[index]
        moved = self.attempt(
            adjust_stock, variant_id=pk, delta=delta, reason=StockMovement.Reason.CORRECTION
        )
        if moved is not None:
            self.adjusted[pk] += delta

    @precondition(lambda self: self.order_ids)
    @rule()
    def bring_every_order_to_an_end(self):
        """No order is ever stuck: the merchant's own tools bring every open one to an end
        (its returns approved, received and refunded; the rest shipped and delivered; one
        with nothing shipped cancelled), and every refund due can be sent."""
        self.sandbox_down = False  # the merchant waits for the provider to answer again
        for order in Order.objects.filter(status=OrderStatus.OPEN).order_by("pk"):
            self.wind_down(order)
        for refund in Refund.objects.filter(status=RefundStatus.DUE).order_by("pk"):
            payments.record_refund_sent(refund=refund, actor=self.merchant)
        stuck = list(Order.objects.filter(status=OrderStatus.OPEN).values_list("number", flat=True))
        assert not stuck, f"orders nothing can end: {stuck}"

    def wind_down(self, order: Order) -> None:
        """End one open order the way the merchant would; any refusal here fails the test."""
        for found in order.returns.filter(status__in=OPEN_RETURNS).order_by("pk"):
            if found.status == ReturnStatus.REQUESTED:
                found = order_services.approve_return(return_request=found, actor=self.merchant)
            if found.status == ReturnStatus.APPROVED:
                found = order_services.receive_return(
                    return_request=found, restock=set(), actor=self.merchant
                )
            plan = order_services.plan_return_refund(return_request=found)
            payments.refund_order(plan=plan, actor=self.merchant, confirmed=True)
        if not OrderLine.objects.filter(order=order, quantity_shipped__gt=0).exists():
            payments.cancel_order(
                order=order, actor=self.merchant, by_shopper=False, confirmed=True
            )
            return
        if shippable_orders().filter(pk=order.pk).exists():
            order_services.ship_lines(order=order, carrier="dhl", tracking_number="JD0002")
        if order.shipments.filter(delivered_at__isnull=True).exists():
            order_services.mark_delivered(order=order, actor=self.merchant)

    @rule(down=st.booleans())
    def sandbox_outage(self, down):
        """The card provider stops answering, or answers again: refunds it cannot make stay
        due (and are sent again later), payments it cannot close stay open."""
        self.sandbox_down = down

    @rule(hours=st.sampled_from([1, 24, 24 * 8]))
    def let_time_pass(self, hours):
        """Deadlines pass: every open, unpaid order past its deadline is cancelled, no other
        (an hour passes a card payment's, eight days a bank transfer's)."""
        self.clock += timedelta(hours=hours)
        expected = set(
            Order.objects.filter(
                status=OrderStatus.OPEN,
                payment_status=PaymentStatus.UNPAID,
                payment_deadline__lt=self.clock,
            ).values_list("pk", flat=True)
        )
        before = dict(Order.objects.values_list("pk", "status"))
        assert order_services.expire_unpaid_orders(now=self.clock) == len(expected)
        after = dict(Order.objects.values_list("pk", "status"))
        assert {pk for pk in after if after[pk] != before[pk]} == expected
        assert all(after[pk] == OrderStatus.CANCELLED for pk in expected)
        event(f"expired {len(expected)}")

    # --- Invariants ----------------------------------------------------------------------

    @invariant()
    def books_balance(self):
        """Every invariant of the module docstring, over rows read once per step (a dozen
        queries, whatever the number of orders)."""
        books = Books.read()
        check_stock(books, initial=self.initial, adjusted=self.adjusted)
        check_line_counters(books)
        check_units_with_the_shopper(books)
        check_order_money(books)
        check_payments(books, provider_refunds=self.provider_refunds)
        check_statuses(books)
        found = payments.find_discrepancies()
        assert found == [], [(d.kind, d.note) for d in found]


@dataclass
class Books:
    """Every row of the example that the invariants read."""

    orders: list[Order]
    lines: list[OrderLine]
    variants: dict[int, int]
    #: Variant id -> the sum of its stock movements.
    ledger: dict[int, int]
    payments: list[Payment]
    refunds: list[Refund]
    order_refunds: list[OrderRefund]
    refund_lines: list[OrderRefundLine]
    shipments: list[Shipment]
    shipment_lines: list[ShipmentLine]
    returns: dict[int, ReturnRequest]
    return_lines: list[ReturnLine]

    @classmethod
    def read(cls) -> "Books":
        return cls(
            orders=list(Order.objects.order_by("pk")),
            lines=list(OrderLine.objects.order_by("pk")),
            variants=dict(Variant.objects.values_list("pk", "stock")),
            ledger=dict(
                StockMovement.objects.values("variant")
                .annotate(units=Sum("quantity"))
                .values_list("variant", "units")
            ),
            payments=list(Payment.objects.order_by("pk")),
            refunds=list(Refund.objects.order_by("pk")),
            order_refunds=list(OrderRefund.objects.order_by("pk")),
            refund_lines=list(OrderRefundLine.objects.order_by("pk")),
            shipments=list(Shipment.objects.order_by("pk")),
            shipment_lines=list(ShipmentLine.objects.order_by("pk")),
            returns={r.pk: r for r in ReturnRequest.objects.order_by("pk")},
            return_lines=list(ReturnLine.objects.order_by("pk")),
        )

    def received_return_lines(self) -> list[ReturnLine]:
        return [
            rl
            for rl in self.return_lines
            if self.returns[rl.return_request_id].status in RECEIVED_RETURNS
        ]


def total(rows, *, by: str, field: str) -> dict:
    """Sum `field` of `rows` by `by` (missing keys are 0)."""
    sums: dict = defaultdict(int)
    for row in rows:
        sums[getattr(row, by)] += getattr(row, field)
    return sums


def check_stock(books: Books, *, initial: dict[int, int], adjusted: dict[int, int]) -> None:
    """Never below zero; initial + adjustments - units taken + units put back."""
    taken = total(books.lines, by="variant_id", field="quantity")
    back = total(books.lines, by="variant_id", field="quantity_restocked")
    for pk, start_stock in initial.items():
        stock = books.variants[pk]
        expected = start_stock + adjusted[pk] - taken[pk] + back[pk]
        assert stock >= 0
        assert stock == expected, f"variant {pk}: stock {stock}, expected {expected}"
        assert books.ledger[pk] == stock, f"variant {pk}: movements add up to {books.ledger[pk]}"


def check_line_counters(books: Books) -> None:
    """Each counter equals the sum of its rows and stays within the line."""
    shipped = total(books.shipment_lines, by="line_id", field="quantity")
    refunded = total(books.refund_lines, by="line_id", field="quantity")
    with_returns = {r.pk for r in books.order_refunds if r.return_request_id is not None}
    refunded_returned = total(
        [rl for rl in books.refund_lines if rl.refund_id in with_returns],
        by="line_id",
        field="quantity",
    )
    amounts = total(books.refund_lines, by="line_id", field="amount")
    restocked_by_refunds = total(books.refund_lines, by="line_id", field="restocked")
    received = books.received_return_lines()
    returned = total(received, by="line_id", field="quantity")
    restocked_by_returns = total(
        [rl for rl in received if rl.restock], by="line_id", field="quantity"
    )
    for line in books.lines:
        pk = line.pk
        assert line.quantity_shipped == shipped[pk], f"line {pk}: shipped"
        assert line.quantity_refunded == refunded[pk], f"line {pk}: refunded"
        assert line.quantity_refunded_returned == refunded_returned[pk], f"line {pk}: returns"
        assert line.amount_refunded == amounts[pk], f"line {pk}: amount refunded"
        assert line.quantity_returned == returned[pk], f"line {pk}: returned"
        assert line.quantity_shipped + line.quantity_cancelled <= line.quantity
        assert line.quantity_refunded <= line.quantity
        assert line.quantity_returned <= line.quantity_shipped
        assert ZERO <= line.amount_refunded <= line.total
        if line.quantity_refunded == line.quantity:
            assert line.amount_refunded == line.total, f"line {pk}: rounding lost a cent"
        # Every cancelled unit went back on the shelf; besides those only shipped units can,
        # through a refund or a return (a cancellation restocks without a row of its own).
        assert (
            line.quantity_cancelled
            <= line.quantity_restocked
            <= line.quantity_cancelled + line.quantity_shipped
        ), f"line {pk}: {line.quantity_restocked} restocked"
        by_cancelling = (
            line.quantity_restocked - restocked_by_refunds[pk] - restocked_by_returns[pk]
        )
        assert 0 <= by_cancelling <= line.quantity_cancelled, f"line {pk}: restocked rows"


def check_units_with_the_shopper(books: Books) -> None:
    """Every shipped unit is the shopper's (returnable), or came back in a return, or was
    refunded for them to keep; a return under way claims only units the shopper has."""
    shipped = total(books.shipment_lines, by="line_id", field="quantity")
    returned = total(books.received_return_lines(), by="line_id", field="quantity")
    direct = {r.pk for r in books.order_refunds if r.return_request_id is None}
    refunded_directly = total(
        [rl for rl in books.refund_lines if rl.refund_id in direct], by="line_id", field="quantity"
    )
    claimed = total(
        [
            rl
            for rl in books.return_lines
            if books.returns[rl.return_request_id].status in WAITING_RETURNS
        ],
        by="line_id",
        field="quantity",
    )
    for line in books.lines:
        pk = line.pk
        if not shipped[pk]:
            continue
        # Units refunded before they shipped are the line's cancelled units.
        kept = refunded_directly[pk] - line.quantity_cancelled
        held = shipped[pk] - returned[pk] - kept
        assert kept >= 0 and held >= 0, f"line {pk}: a unit refunded twice ({held} held)"
        assert line.quantity_returnable == held, f"line {pk}: {held} returnable"
        assert claimed[pk] <= held, f"line {pk}: a return claims {claimed[pk]} of {held}"


def check_order_money(books: Books) -> None:
    """An order holds what its payments hold; its refunds by line are paid out in full; a
    cancelled order holds only refunds due."""
    payments_by_order = defaultdict(list)
    for payment in books.payments:
        payments_by_order[payment.order_id].append(payment)
    refunds_by_payment = defaultdict(list)
    for refund in books.refunds:
        refunds_by_payment[refund.payment_id].append(refund)
    paid_out = total(books.refunds, by="order_refund_id", field="amount")
    by_lines = total(books.refund_lines, by="refund_id", field="amount")
    shipping_refunded = total(books.order_refunds, by="order_id", field="shipping")
    for order in books.orders:
        counted = [
            p for p in payments_by_order[order.pk] if p.state in MONEY_TAKEN and not p.surplus
        ]
        refunds = [r for p in counted for r in refunds_by_payment[p.pk]]
        taken = sum((p.amount for p in counted), ZERO)
        back = sum((p.amount_refunded for p in counted), ZERO)
        due = sum((r.amount for r in refunds if r.status == RefundStatus.DUE), ZERO)
        sent = sum((r.amount for r in refunds if r.status == RefundStatus.SUCCEEDED), ZERO)
        assert order.total_paid == taken, f"{order.number}: paid {order.total_paid} != {taken}"
        assert order.total_paid <= order.total
        assert order.held == taken - back, f"{order.number} holds {order.held}"
        assert order.total_refunded == sent
        assert order.payment_status == derive_payment_status(
            total=order.total, paid=order.total_paid, refunded=order.total_refunded
        )
        if order.status == OrderStatus.CANCELLED:
            assert order.held == due, f"cancelled {order.number} holds {order.held}, due {due}"
        assert order.shipping_refunded == shipping_refunded[order.pk]
        assert order.shipping_refunded <= order.shipping_total
    for order_refund in books.order_refunds:
        assert paid_out[order_refund.pk] == order_refund.amount, "a refund not paid out in full"
        assert by_lines[order_refund.pk] + order_refund.shipping == order_refund.amount


def check_payments(books: Books, *, provider_refunds: list[str]) -> None:
    """A payment's refunded amount is its sent refunds; surplus goes back in full; the
    sandbox refunded only what the database keeps."""
    refunds_by_payment = defaultdict(list)
    for refund in books.refunds:
        refunds_by_payment[refund.payment_id].append(refund)
    for payment in books.payments:
        refunds = refunds_by_payment[payment.pk]
        sent = sum((r.amount for r in refunds if r.status == RefundStatus.SUCCEEDED), ZERO)
        due = sum((r.amount for r in refunds if r.status == RefundStatus.DUE), ZERO)
        assert payment.amount_refunded == sent
        if payment.state not in MONEY_TAKEN:
            assert not refunds and not payment.surplus
        if payment.surplus:
            assert payment.amount - payment.amount_refunded == due, "surplus money kept"
    sandbox = {p.pk for p in books.payments if p.provider == "sandbox"}
    kept = sorted(r.reference for r in books.refunds if r.payment_id in sandbox and r.reference)
    assert kept == sorted(provider_refunds), "refunded at the provider, not in the books"


def check_statuses(books: Books) -> None:
    """Fulfilment status as derive_fulfilment_status() says from the rows; order status as
    statuses.py decides it from them."""
    shipped_by_line = total(books.shipment_lines, by="line_id", field="quantity")
    returned_by_line = total(books.received_return_lines(), by="line_id", field="quantity")
    parcels = {sl.shipment_id for sl in books.shipment_lines}
    undelivered = {s.order_id for s in books.shipments if s.pk in parcels and not s.delivered_at}
    lines_by_order = defaultdict(list)
    for line in books.lines:
        lines_by_order[line.order_id].append(line)
    open_returns = {r.order_id for r in books.returns.values() if r.status in OPEN_RETURNS}
    for order in books.orders:
        lines = lines_by_order[order.pk]
        quantity = sum(line.quantity for line in lines)
        cancelled = sum(line.quantity_cancelled for line in lines)
        shipped = sum(shipped_by_line[line.pk] for line in lines)
        returned = sum(returned_by_line[line.pk] for line in lines)
        fulfilment = derive_fulfilment_status(
            shippable=quantity - cancelled,
            shipped=shipped,
            returned=returned,
            undelivered_shipments=order.pk in undelivered,
        )
        assert order.fulfilment_status == fulfilment, f"{order.number}: {fulfilment} expected"
        nothing_to_ship = shipped >= quantity - cancelled
        if order.status == OrderStatus.CANCELLED:
            assert shipped == 0 and cancelled == quantity, f"{order.number}: cancelled, not empty"
            continue
        if shipped == 0 and nothing_to_ship:
            # Every unit came off before shipping: open only while money is still held.
            assert not (order.held <= 0 and order.total_paid > 0), f"{order.number} is open"
            continue
        done = (
            order.payment_status in (PAID_STATUSES | {PaymentStatus.REFUNDED})
            and nothing_to_ship
            and fulfilment in (FulfilmentStatus.DELIVERED, FulfilmentStatus.RETURNED)
            and order.pk not in open_returns
        )
        expected = OrderStatus.COMPLETED if done else OrderStatus.OPEN
        assert order.status == expected, f"{order.number} is {order.status}, not {expected}"


OrderLife.TestCase.settings = settings(
    # 20 examples of up to 80 steps: about 40 s a database on a quiet machine (each step
    # reads every row of the example to check the invariants), and long enough for an order
    # to be paid, shipped, returned, received and refunded between other orders' steps.
    max_examples=int(os.environ.get("ORDER_LIFE_EXAMPLES", "20")),
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
# pytest-django's transaction around the test; each example has its own savepoint inside it.
TestOrderLife = pytest.mark.django_db(transaction=False)(OrderLife.TestCase)
