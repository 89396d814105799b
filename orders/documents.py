"""The invoice and the credit notes as pages and as PDFs: each renders one document template
(templates/orders/_invoice_document.html, _credit_note_document.html, sharing their parts),
the PDF through WeasyPrint (no browser, no network: it may fetch nothing)."""

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from django.template.loader import render_to_string
from django.utils import translation

from orders.models import ZERO, CreditNote, Order, OrderRefundLine
from orders.services.invoicing import buyer_of
from taxes import conf as tax_conf


def invoice_of(order: Order):
    try:
        return order.invoice
    except ObjectDoesNotExist:
        return None


def invoice_context(order: Order) -> dict:
    """The invoice's seller and buyer as issued (or as they stand, before payment)."""
    invoice = invoice_of(order)
    return {
        "order": order,
        "invoice": invoice,
        "seller": invoice.seller if invoice else tax_conf.seller().as_dict(),
        "buyer": invoice.buyer if invoice else buyer_of(order),
    }


def invoice_pdf(order: Order) -> bytes:
    """The invoice as a PDF (A4), in the active language. `order` as order_for_page()
    reads it (lines and tax rows loaded)."""
    from weasyprint import HTML, URLFetcher

    context = {**invoice_context(order), "LANGUAGE_CODE": translation.get_language()}
    html = render_to_string("orders/invoice_pdf.html", context)
    # Nothing outside the document is fetched: no file, no URL (the template needs none).
    return HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=set())).write_pdf()


def pdf_filename(order: Order) -> str:
    invoice = invoice_of(order)
    return f"{invoice.number if invoice else order.number}.pdf"


# --- Credit notes -------------------------------------------------------------------------


@dataclass
class CreditTaxRow:
    """One rate of what a credit note gives back (tax_row_label reads name, exempt, percent)."""

    name: str
    percent: Decimal
    exempt: bool = False
    net: Decimal = ZERO
    tax: Decimal = ZERO

    @property
    def gross(self) -> Decimal:
        return self.net + self.tax


def credit_notes_of(order: Order) -> list[CreditNote]:
    """The order's credit notes, oldest first; no query when nothing of an invoiced order
    was refunded (its lines, as the order page loads them, say so)."""
    lines = getattr(order, "line_list", None)
    lines = lines if lines is not None else list(order.lines.all())
    refunded = order.shipping_refunded or any(line.quantity_refunded for line in lines)
    if invoice_of(order) is None or not refunded:
        return []
    return list(order.credit_notes.all())


def credit_note_of(order: Order, *, number: str = "", pk: int | None = None) -> CreditNote:
    """The credit note `number` (or `pk`) of `order` with its refund and the refund's lines
    (2 queries), or 404."""
    found = {"number": number} if number else {"pk": pk}
    credit_note = (
        CreditNote.objects.select_related("refund").filter(order_id=order.pk, **found).first()
    )
    if credit_note is None:
        raise Http404
    credit_note.order = order
    credit_note.refund.order = order
    credit_note.line_list = list(
        OrderRefundLine.objects.filter(refund_id=credit_note.refund_id).select_related("line")
    )
    return credit_note


def credit_tax_rows(credit_note: CreditNote) -> list[CreditTaxRow]:
    """What the credit note gives back by rate: its lines' and its shipping's net and tax,
    named as the order's own rows by rate are."""
    order, refund = credit_note.order, credit_note.refund
    known = {row.rate: row for row in order.tax_rows}
    rows: dict[Decimal, CreditTaxRow] = {}

    def add(rate: Decimal, net: Decimal, tax: Decimal) -> None:
        if rate not in rows:
            same = known.get(rate)
            rows[rate] = CreditTaxRow(
                name=same.name if same else "",
                percent=rate,
                exempt=same.exempt if same else False,
            )
        rows[rate].net += net
        rows[rate].tax += tax

    for item in credit_note.line_list:
        add(item.line.tax_rate, item.net, item.tax)
    if refund.shipping:
        add(order.shipping_tax_rate, refund.shipping - refund.shipping_tax, refund.shipping_tax)
    return [rows[rate] for rate in sorted(rows, reverse=True)]


def credit_note_context(credit_note: CreditNote) -> dict:
    refund = credit_note.refund
    return {
        "order": credit_note.order,
        "credit_note": credit_note,
        "refund": refund,
        "refund_lines": credit_note.line_list,
        "shipping_net": refund.shipping - refund.shipping_tax,
        "tax_rows": credit_tax_rows(credit_note),
        "net": refund.amount - refund.tax,
        "seller": credit_note.seller,
        "buyer": credit_note.buyer,
    }


def credit_note_pdf(credit_note: CreditNote) -> bytes:
    """The credit note as a PDF (A4), in the active language, like invoice_pdf()."""
    from weasyprint import HTML, URLFetcher

    context = {**credit_note_context(credit_note), "LANGUAGE_CODE": translation.get_language()}
    html = render_to_string("orders/credit_note_pdf.html", context)
    return HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=set())).write_pdf()
