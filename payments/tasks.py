from celery import shared_task

from payments import services
from payments.errors import PaymentError
from payments.providers.sandbox import SIGNATURE_HEADER


@shared_task(acks_late=True)
def deliver_sandbox_callback(*, body: str, signature: str) -> int:
    """One delivery of a sandbox callback, as if POSTed to /payments/webhook/sandbox/."""
    try:
        result = services.receive_callback(
            provider_code="sandbox",
            body=body.encode(),
            headers={SIGNATURE_HEADER: signature, "Content-Type": "application/json"},
        )
    except PaymentError:
        return 0  # stored and flagged by receive_callback; a gateway would get a 400
    return len(result.deliveries)


@shared_task(acks_late=True)
def reconcile_payments() -> dict[str, int]:
    """`manage.py reconcile_payments --apply` on Celery beat (payments-reconcile): lost
    notifications found by asking Alipay and WeChat Pay, expired trades closed there, lost
    captures counted on their orders. What needs the merchant stays listed for the command."""
    result = services.reconcile_payments(apply=True)
    return {
        "asked": len(result.checks),
        "discrepancies": len(result.found),
        "repaired": result.repaired,
    }
