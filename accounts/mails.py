"""The account mails: rendered from templates/accounts/email/<name>.{txt,html,_subject.txt}."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation

#: The mails this module may render (a task argument cannot pick an arbitrary template).
MAILS = ("activation", "already_registered", "password_reset", "email_change")


def render_and_send(*, name: str, to: str, context: dict, language: str) -> None:
    if name not in MAILS:
        raise ValueError(f"unknown account mail {name!r}")
    with translation.override(language):
        context = {"shop_name": settings.SHOP_NAME, **context}
        subject = render_to_string(f"accounts/email/{name}_subject.txt", context)
        text = render_to_string(f"accounts/email/{name}.txt", context)
        html = render_to_string(f"accounts/email/{name}.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()), body=text, from_email=None, to=[to]
    )
    message.attach_alternative(html, "text/html")
    message.send()


def queue_mail(*, name: str, to: str, context: dict) -> None:
    """Send after the surrounding transaction commits, in a Celery worker.

    Context values must be JSON-serialisable (strings, numbers): they travel via the broker.
    """
    from accounts.tasks import send_account_mail

    language = translation.get_language() or settings.LANGUAGE_CODE
    transaction.on_commit(
        lambda: send_account_mail.delay(name=name, to=to, context=context, language=language)
    )
