"""The sandbox gateway's own side: what its hosted page does when the shopper pays or
declines. It builds the callback a real gateway would send (JSON, HMAC-SHA256 over the raw
body) and delivers it through the same function the webhook endpoint uses
(services.receive_callback: raw bytes + signature header -> verify -> store -> process).

Delivery goes through a Celery task: with a broker it is a real background delivery and a
"late" callback is a countdown; without one tasks run inline, so a late callback is held by a
timer thread instead (development only). "Twice" is two deliveries of the same event.
"""

import json
import secrets
import threading

from django.conf import settings
from django.db import connection

from payments.models import Payment
from payments.providers.sandbox import SIGNATURE_HEADER, sign

OUTCOMES = {"pay": "payment.captured", "decline": "payment.failed"}


def build_callback(
    *, payment: Payment, outcome: str, event_id: str = "", amount=None, currency: str = ""
) -> tuple[bytes, dict[str, str]]:
    """The signed body and headers of the callback for `outcome` ("pay" or "decline")."""
    event = {
        "id": event_id or "evt_" + secrets.token_hex(12),
        "type": OUTCOMES[outcome],
        "payment": payment.reference,
        "order": payment.order.number,
        "amount": str(payment.amount if amount is None else amount),
        "currency": currency or payment.currency,
    }
    if outcome == "decline":
        event["reason"] = "Card declined (sandbox)"
    body = json.dumps(event, separators=(",", ":")).encode()
    return body, {SIGNATURE_HEADER: sign(body), "Content-Type": "application/json"}


def send_callback(*, payment: Payment, outcome: str, times: int = 1, late: bool = False) -> str:
    """Deliver the callback for `outcome` `times` times, now or late; returns its event id."""
    from payments import tasks

    body, headers = build_callback(payment=payment, outcome=outcome)
    event_id = json.loads(body)["id"]
    signature = headers[SIGNATURE_HEADER]
    delay = settings.SANDBOX_LATE_CALLBACK_SECONDS if late else 0
    for _i in range(times):
        if delay and settings.CELERY_TASK_ALWAYS_EAGER:
            timer = threading.Timer(delay, _deliver_in_thread, args=(body, signature))
            timer.daemon = True
            timer.start()
        elif delay:
            tasks.deliver_sandbox_callback.apply_async(
                kwargs={"body": body.decode(), "signature": signature}, countdown=delay
            )
        else:
            tasks.deliver_sandbox_callback.delay(body=body.decode(), signature=signature)
    return event_id


def _deliver_in_thread(body: bytes, signature: str) -> None:
    from payments import tasks

    try:
        tasks.deliver_sandbox_callback(body=body.decode(), signature=signature)
    finally:
        connection.close()  # this thread's own connection, never reused
