"""Refunds by line: what the merchant chooses to give back and what that does to the order.

Amounts come from the order's snapshot, never from today's prices: a line's total already
has its share of the order's discounts, so refunding k of its n units gives back k/n of it,
rounded so that refunding every unit, in any number of steps, gives back the line's total
exactly, and the same for its tax (taxes.calculation.split_refund); refunded shipping gives
back its share of the order's shipping tax likewise. An invoiced order's refund gets a
credit note, issued with it. Units refunded before they ship come off the order and go back
on the shelf; shipped units go back on the shelf only when the merchant says so (a return
restocks at receipt instead).

This module moves no money: the payments app sends it through the providers and reports
what went back with payment_status.record_refund().
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from orders import locks
from orders.errors import OrderError
from orders.models import (
    ZERO,
    EventKind,
    Order,
    OrderLine,
    OrderRefund,
    OrderRefundLine,
    ReturnLine,
    ReturnRequest,
    ReturnStatus,
)
from orders.services.cancelling import restock_units
from orders.services.invoicing import issue_credit_note
from orders.services.statuses import record_event, refresh_statuses
from promotions.pricing import format_money
from shop.money import minor_units
from taxes.calculation import RefundSplit, split_refund
from taxes.money import round_to


class RefundRejected(OrderError):
    """The refund asked for is not possible as it stands; nothing was changed."""


@dataclass
class RefundLinePlan:
    line: OrderLine
    quantity: int
    #: Gross: net + tax.
    amount: Decimal
    net: Decimal
    tax: Decimal
    #: Units taken off the order before they shipped.
    cancel: int
    #: Units this refund puts back on the shelf.
    restock: int


@dataclass
class RefundPlan:
    """What a refund will give back, for the confirmation page and for refund_lines()."""

    order: Order
    lines: list[RefundLinePlan] = field(default_factory=list)
    shipping: Decimal = ZERO
    #: The tax in `shipping`.
    shipping_tax: Decimal = ZERO
    reason: str = ""
    return_request: ReturnRequest | None = None

    @property
    def amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO) + self.shipping

    @property
    def tax(self) -> Decimal:
        return sum((line.tax for line in self.lines), ZERO) + self.shipping_tax


def line_refund_split(line: OrderLine, *, units: int, currency: str) -> RefundSplit:
    """Net, tax and gross that refunding `units` more of `line` gives back (cumulative
    rounding: all units, in any steps, add up to the line's total and its tax exactly)."""
    if line.net + line.tax != line.total:
        # A line without a tax snapshot (placed before taxes were kept): all of it is net.
        gross = line_refund_amount(line, units=units, currency=currency)
        return RefundSplit(net=gross, tax=ZERO, gross=gross)
    return split_refund(
        net=line.net,
        tax=line.tax,
        gross=line.total,
        units=units,
        quantity=line.quantity,
        units_refunded_before=line.quantity_refunded,
        minor_units=minor_units(currency),
    )


def line_refund_amount(line: OrderLine, *, units: int, currency: str | None = None) -> Decimal:
    """What refunding `units` more of `line` gives back (cumulative rounding: all units
    together always add up to the line's total)."""
    after = line.quantity_refunded + units
    if after >= line.quantity:
        return line.total - line.amount_refunded
    share = round_to(line.total * after / line.quantity, minor_units(currency))
    return max(share - line.amount_refunded, ZERO)


def shipping_refund_tax(order: Order, *, amount: Decimal, shipping_gross: Decimal) -> Decimal:
    """The tax in refunding `amount` more of the order's shipping: its share of the shipping
    tax, cumulative over what was refunded before, so refunding all of the shipping in any
    steps gives back exactly `order.shipping_tax`.

    The share is of the shipping's gross (what the shopper paid for it, tax included), as a
    refund's amounts are gross."""
    if not amount or not order.shipping_tax or shipping_gross <= 0:
        return ZERO
    places = minor_units(order.currency)

    def tax_through(refunded: Decimal) -> Decimal:
        if refunded >= shipping_gross:
            return order.shipping_tax
        return round_to(order.shipping_tax * refunded / shipping_gross, places)

    before = order.shipping_refunded
    return tax_through(before + amount) - tax_through(before)


def committed_refunds(order: Order) -> Decimal:
    """What refunds already decided add up to (sent or still due)."""
    return order.refunds.aggregate(total=Sum("amount"))["total"] or ZERO


def plan_refund(
    *,
    order: Order,
    quantities: dict[int, int],
    restock: set[int] | frozenset[int] = frozenset(),
    shipping: Decimal = ZERO,
    reason: str = "",
    return_request: ReturnRequest | None = None,
) -> RefundPlan:
    """Check and price a refund of `quantities` (order line id -> units) plus `shipping`.
    Lines in `restock` put their shipped units back on the shelf too. Raises RefundRejected
    with the reason. Units in a return under way are refunded with their return only."""
    lines = {line.pk: line for line in OrderLine.objects.filter(order=order).order_by("pk")}
    # Units on their way back in a return are refunded by that return, not twice.
    returning = dict(
        ReturnLine.objects.filter(
            return_request__order=order,
            return_request__status__in=[
                ReturnStatus.REQUESTED,
                ReturnStatus.APPROVED,
                ReturnStatus.RECEIVED,
            ],
        )
        .exclude(return_request=return_request)
        .values("line_id")
        .annotate(units=Sum("quantity"))
        .values_list("line_id", "units")
    )
    plan = RefundPlan(order=order, reason=reason.strip()[:500], return_request=return_request)
    for line_id, units in sorted(quantities.items()):
        if not units:
            continue
        line = lines.get(line_id)
        if line is None:
            raise RefundRejected(_("That line is not on this order."))
        most = line.quantity_refundable - returning.get(line_id, 0)
        if units < 0 or units > most:
            raise RefundRejected(
                _(
                    "%(name)s: at most %(max)s can be refunded here; units in a return are "
                    "refunded by the return."
                )
                % {"name": line.product_name, "max": max(most, 0)}
            )
        # A return refunds units that came back; otherwise unshipped units go first.
        from_return = return_request is not None
        unshipped = 0 if from_return else min(units, line.quantity_to_ship)
        shipped = units - unshipped
        split = line_refund_split(line, units=units, currency=order.currency)
        plan.lines.append(
            RefundLinePlan(
                line=line,
                quantity=units,
                amount=split.gross,
                net=split.net,
                tax=split.tax,
                cancel=unshipped,
                restock=unshipped + (shipped if line_id in restock and not from_return else 0),
            )
        )
    shipping = Decimal(shipping or ZERO)
    if shipping < 0 or shipping > order.shipping_refundable:
        raise RefundRejected(
            _("Shipping: at most %(max)s can be refunded.") % {"max": order.shipping_refundable}
        )
    plan.shipping = shipping
    shipping_gross = order.total - sum((line.total for line in lines.values()), ZERO)
    plan.shipping_tax = shipping_refund_tax(order, amount=shipping, shipping_gross=shipping_gross)
    if plan.amount <= 0:
        raise RefundRejected(_("Choose what to refund: at least one item or the shipping."))
    left = order.total_paid - committed_refunds(order)
    if plan.amount > left:
        raise RefundRejected(
            _("The order has only %(left)s left to refund.") % {"left": max(left, ZERO)}
        )
    return plan


def refund_lines(*, plan: RefundPlan, actor=None) -> OrderRefund:
    """Record the refund of `plan` on the order (locked here, in the caller's transaction),
    re-checked under the lock: the rows, the lines' counters, the units back on the shelf,
    the return refunded, the statuses. Raises RefundRejected if the order changed since the
    plan was made."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("refund_lines() runs inside the payments app's transaction")
    order = locks.order_for_update(pk=plan.order.pk)
    fresh = plan_refund(
        order=order,
        quantities={line.line.pk: line.quantity for line in plan.lines},
        restock={line.line.pk for line in plan.lines if line.restock > line.cancel},
        shipping=plan.shipping,
        reason=plan.reason,
        return_request=plan.return_request,
    )
    if fresh.amount != plan.amount:
        raise RefundRejected(_("The order changed since this refund was prepared: look again."))
    refund = OrderRefund.objects.create(
        order=order,
        return_request=plan.return_request,
        amount=fresh.amount,
        shipping=fresh.shipping,
        tax=fresh.tax,
        shipping_tax=fresh.shipping_tax,
        reason=fresh.reason,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
    )
    cancelled: dict[int, int] = {}
    returned: dict[int, int] = {}
    for item in fresh.lines:
        line = item.line
        line.quantity_cancelled += item.cancel
        line.quantity_refunded += item.quantity
        if plan.return_request is not None:
            line.quantity_refunded_returned += item.quantity
        line.amount_refunded += item.amount
        line.quantity_restocked += item.restock
        line.save(
            update_fields=[
                "quantity_cancelled",
                "quantity_refunded",
                "quantity_refunded_returned",
                "amount_refunded",
                "quantity_restocked",
            ]
        )
        OrderRefundLine.objects.create(
            refund=refund,
            line=line,
            quantity=item.quantity,
            amount=item.amount,
            net=item.net,
            tax=item.tax,
            restocked=item.restock,
        )
        if line.variant_id:
            # Unshipped units never left the shelf; shipped ones restocked came back.
            cancelled[line.variant_id] = cancelled.get(line.variant_id, 0) + item.cancel
            back = item.restock - item.cancel
            returned[line.variant_id] = returned.get(line.variant_id, 0) + back
    restock_units(quantities=cancelled, reference=order.number)
    restock_units(quantities=returned, reference=order.number, returned=True)
    if fresh.shipping:
        order.shipping_refunded += fresh.shipping
        order.save(update_fields=["shipping_refunded", "updated_at"])
    if plan.return_request is not None:
        _mark_return_refunded(plan.return_request, actor=actor)
    # Only an invoiced order gets one: a refund of an order never invoiced corrects nothing.
    issue_credit_note(order_refund=refund)
    note = _("Refund of %(amount)s decided") % {"amount": format_money(fresh.amount)}
    if fresh.reason:
        note = f"{note}: {fresh.reason}"
    record_event(order, kind=EventKind.NOTE, actor=actor, note=note)
    refresh_statuses(order, actor=actor, note=note)
    plan.order = order
    return refund


def _mark_return_refunded(return_request: ReturnRequest, *, actor) -> None:
    from orders.services.returns import move_return

    locked = ReturnRequest.objects.select_for_update().get(pk=return_request.pk)
    move_return(locked, to=ReturnStatus.REFUNDED, actor=actor)
