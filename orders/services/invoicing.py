"""Invoices and fapiao: the invoice of a paid order, with its own sequential, gap-free number,
and the merchant's record of a fapiao (发票) issued for a Chinese buyer's request."""

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orders import locks
from orders.errors import OrderError
from orders.models import CreditNote, FapiaoRequest, Invoice, Order, OrderRefund
from taxes import conf as tax_conf

INVOICE_SERIES = "invoice"
CREDIT_NOTE_SERIES = "credit_note"


def format_number(sequence: int, *, prefix: str | None = None) -> str:
    """ "INV-000042": the prefix (INVOICE_NUMBER_PREFIX) and six digits at least."""
    return f"{settings.INVOICE_NUMBER_PREFIX if prefix is None else prefix}{sequence:06d}"


def buyer_of(order: Order) -> dict:
    return {
        "name": order.ship_name,
        "company": order.buyer_company,
        "address": order.address_lines,
        "email": order.email,
        "vat_number": order.buyer_vat_number,
        "country": str(order.ship_country),
    }


@transaction.atomic
def issue_invoice(*, order: Order) -> Invoice:
    """The invoice of `order`, issued now if it has none (idempotent: the same invoice
    again otherwise). Called when the order becomes paid, in that transaction.

    The number comes from the series' counter row, locked (select_for_update) until this
    transaction ends: concurrent payments queue for it, and a transaction that rolls back
    gives its number back with it, so invoice numbers run 1, 2, 3, ... without a gap. The
    seller (settings) and the buyer (the order) are copied, as the invoice must stay what
    it was when issued.
    """
    existing = Invoice.objects.filter(order_id=order.pk).first()
    if existing is not None:
        return existing
    counter = locks.counter_for_update(series=INVOICE_SERIES)
    counter.last += 1
    counter.save(update_fields=["last"])
    return Invoice.objects.create(
        order=order,
        sequence=counter.last,
        number=format_number(counter.last),
        issued_at=timezone.now(),
        seller=tax_conf.seller().as_dict(),
        buyer=buyer_of(order),
    )


@transaction.atomic
def issue_credit_note(*, order_refund: OrderRefund) -> CreditNote | None:
    """The credit note of `order_refund`, issued now (idempotent: the same one again), or
    None when its order has no invoice: a refund of an order never invoiced corrects no
    invoice, so it needs no credit note. Called by refund_lines(), in its transaction.

    Numbered like invoices, from its own series' locked counter: a refund that rolls back
    gives its number back, so credit notes run CN-000001, CN-000002, ... without a gap.
    """
    existing = CreditNote.objects.filter(refund_id=order_refund.pk).first()
    if existing is not None:
        return existing
    order = order_refund.order
    invoice = Invoice.objects.filter(order_id=order.pk).first()
    if invoice is None:
        return None
    counter = locks.counter_for_update(series=CREDIT_NOTE_SERIES)
    counter.last += 1
    counter.save(update_fields=["last"])
    return CreditNote.objects.create(
        order=order,
        refund=order_refund,
        sequence=counter.last,
        number=format_number(counter.last, prefix=settings.CREDIT_NOTE_NUMBER_PREFIX),
        invoice_number=invoice.number,
        issued_at=timezone.now(),
        seller=tax_conf.seller().as_dict(),
        buyer=buyer_of(order),
    )


@transaction.atomic
def mark_fapiao_issued(*, fapiao: FapiaoRequest, number: str, actor=None) -> FapiaoRequest:
    """Record the number of the fapiao the merchant issued for a request (a correction
    overwrites it); the shopper sees it on the order page."""
    number = " ".join((number or "").split())
    if not number:
        raise OrderError(_("Enter the fapiao’s number."))
    if len(number) > 40:
        raise OrderError(_("A fapiao number has at most 40 characters."))
    locked = FapiaoRequest.objects.select_for_update().get(pk=fapiao.pk)
    locked.status = FapiaoRequest.Status.ISSUED
    locked.number = number
    locked.issued_at = timezone.now()
    locked.issued_by = actor if actor is not None and actor.is_authenticated else None
    locked.save(update_fields=["status", "number", "issued_at", "issued_by"])
    for field in ("status", "number", "issued_at", "issued_by_id"):
        setattr(fapiao, field, getattr(locked, field))
    return fapiao
