"""The invoice as a page and as a PDF: both render templates/orders/_invoice_document.html,
the PDF through WeasyPrint (no browser, no network: it may fetch nothing)."""

from django.core.exceptions import ObjectDoesNotExist
from django.template.loader import render_to_string
from django.utils import translation

from orders.models import Order
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
