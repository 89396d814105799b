"""Returns: the shopper asks to send units back; the merchant approves or rejects, receives
the parcel and chooses per line what goes back on the shelf; the refund of the received
units (refunds.plan_refund with the return) closes it.

Every move of a return follows RETURN_TRANSITIONS and writes an event on the order's
timeline. A return under way keeps the order open.
"""

from django.db import transaction
from django.utils.translation import gettext as _

from orders import locks
from orders.errors import ForbiddenTransition, OrderError
from orders.models import (
    EventKind,
    Order,
    OrderStatus,
    ReturnLine,
    ReturnRequest,
    ReturnStatus,
)
from orders.selectors import returnable_quantities
from orders.services.cancelling import restock_units
from orders.services.refunds import RefundPlan, plan_refund
from orders.services.statuses import record_event, refresh_statuses

R = ReturnStatus

RETURN_TRANSITIONS: dict[str, set[str]] = {
    R.REQUESTED: {R.APPROVED, R.REJECTED},
    R.APPROVED: {R.RECEIVED, R.REJECTED},
    R.RECEIVED: {R.REFUNDED},
    R.REJECTED: set(),
    R.REFUNDED: set(),
}


def move_return(return_request: ReturnRequest, *, to: str, actor=None, note: str = "") -> None:
    """Move a locked return along RETURN_TRANSITIONS, with its event on the order."""
    from_status = return_request.status
    if to not in RETURN_TRANSITIONS[from_status]:
        raise ForbiddenTransition(
            number=return_request.order.number,
            from_state=R(from_status).label,
            to_state=R(to).label,
        )
    return_request.status = to
    return_request.save(update_fields=["status", "updated_at"])
    record_event(
        return_request.order,
        kind=EventKind.RETURN,
        from_status=from_status,
        to_status=to,
        actor=actor,
        note=note,
    )


@transaction.atomic
def request_return(
    *, order: Order, quantities: dict[int, int], reason: str, note: str = "", actor=None
) -> ReturnRequest:
    """The shopper asks to return `quantities` (order line id -> units) for `reason`."""
    locked = locks.order_for_update(pk=order.pk)
    if locked.status == OrderStatus.CANCELLED:
        raise OrderError(_("A cancelled order cannot be returned."))
    if reason not in ReturnRequest.Reason.values:
        raise OrderError(_("Choose why you are returning it."))
    allowed = returnable_quantities(locked)
    chosen = {line_id: units for line_id, units in quantities.items() if units}
    if not chosen:
        raise OrderError(_("Choose at least one item to return."))
    for line_id, units in chosen.items():
        if units < 0 or units > allowed.get(line_id, 0):
            raise OrderError(
                _("You can return at most %(max)s of that item.") % {"max": allowed.get(line_id, 0)}
            )
    return_request = ReturnRequest.objects.create(
        order=locked, reason=reason, note=note.strip()[:500]
    )
    ReturnLine.objects.bulk_create(
        [
            ReturnLine(return_request=return_request, line_id=line_id, quantity=units)
            for line_id, units in sorted(chosen.items())
        ]
    )
    record_event(
        locked,
        kind=EventKind.RETURN,
        to_status=R.REQUESTED,
        actor=actor,
        note=return_request.get_reason_display(),
    )
    refresh_statuses(locked, actor=actor)
    return return_request


def _locked_return(return_request: ReturnRequest) -> ReturnRequest:
    locks.order_for_update(pk=return_request.order_id)
    return (
        ReturnRequest.objects.select_for_update().select_related("order").get(pk=return_request.pk)
    )


@transaction.atomic
def approve_return(*, return_request: ReturnRequest, actor=None) -> ReturnRequest:
    locked = _locked_return(return_request)
    move_return(locked, to=R.APPROVED, actor=actor, note=_("The shopper may send it back"))
    return locked


@transaction.atomic
def reject_return(*, return_request: ReturnRequest, answer: str, actor=None) -> ReturnRequest:
    """Refuse the return, telling the shopper why (`answer` is shown on their order)."""
    answer = answer.strip()[:500]
    if not answer:
        raise OrderError(_("Say why the return is rejected: the shopper reads it."))
    locked = _locked_return(return_request)
    move_return(locked, to=R.REJECTED, actor=actor, note=answer)
    locked.answer = answer
    locked.save(update_fields=["answer", "updated_at"])
    refresh_statuses(locked.order, actor=actor)
    return locked


@transaction.atomic
def receive_return(
    *, return_request: ReturnRequest, restock: set[int] | frozenset[int], actor=None
) -> ReturnRequest:
    """The parcel arrived: its units count as returned; those of the return lines in
    `restock` (ids) go back on the shelf, the rest (damaged, used) do not."""
    locked = _locked_return(return_request)
    move_return(locked, to=R.RECEIVED, actor=actor, note=_("Parcel received"))
    quantities: dict[int, int] = {}
    for return_line in locked.lines.select_related("line").select_for_update().order_by("pk"):
        line = return_line.line
        if return_line.quantity > line.quantity_returnable:
            raise OrderError(
                _("%(name)s: only %(max)s can still come back.")
                % {"name": line.product_name, "max": line.quantity_returnable}
            )
        return_line.restock = return_line.pk in restock
        return_line.save(update_fields=["restock"])
        line.quantity_returned += return_line.quantity
        fields = ["quantity_returned"]
        if return_line.restock:
            line.quantity_restocked += return_line.quantity
            fields.append("quantity_restocked")
            if line.variant_id:
                quantities[line.variant_id] = (
                    quantities.get(line.variant_id, 0) + return_line.quantity
                )
        line.save(update_fields=fields)
    restock_units(quantities=quantities, reference=locked.order.number, returned=True)
    refresh_statuses(locked.order, actor=actor)
    return locked


def plan_return_refund(*, return_request: ReturnRequest, shipping=None) -> RefundPlan:
    """The refund of a received return: its units, optionally the shipping."""
    if return_request.status != R.RECEIVED:
        raise OrderError(_("Refund a return once its parcel has been received."))
    quantities: dict[int, int] = {}
    for return_line in return_request.lines.all():
        quantities[return_line.line_id] = (
            quantities.get(return_line.line_id, 0) + return_line.quantity
        )
    return plan_refund(
        order=return_request.order,
        quantities=quantities,
        shipping=shipping or 0,
        reason=_("Return %(id)s") % {"id": return_request.pk},
        return_request=return_request,
    )
