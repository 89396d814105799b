from smtplib import SMTPException

from celery import shared_task

from accounts.mails import render_and_send


@shared_task(
    autoretry_for=(OSError, SMTPException), retry_backoff=True, max_retries=5, acks_late=True
)
def send_account_mail(*, name: str, to: str, context: dict, language: str) -> None:
    """Render and send one account mail (activation, password reset, email change)."""
    render_and_send(name=name, to=to, context=context, language=language)
