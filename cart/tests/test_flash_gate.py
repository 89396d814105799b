"""The flash sale's crowd told "sold out" before Django (cart.flash_gate): every guarantee of
Buy now kept, through the real WSGI handler, Redis and database (tests of the gate's own
answer skip without REDIS_URL: with no Redis it never answers, Django does)."""

import logging
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from django.utils import translation

from cart.flash_gate import FlashSoldOutGate
from cart.models import CartLine
from promotions import flash
from promotions.models import FlashSale
from promotions.tests.test_flash import buy, flash_sale, shopper
from promotions.tests.test_flash_buy_now import left, needs_redis

pytestmark = pytest.mark.django_db

#: A CSRF secret sent as both cookie and form field: Django's check passes (the view is
#: reached), so Django's answer can be compared with the gate's.
TOKEN = "a" * 32


class Recorder:
    """Django's WSGI handler, noting each request the gate let through."""

    def __init__(self):
        self.django = WSGIHandler()
        self.paths: list[str] = []

    def __call__(self, environ, start_response):
        self.paths.append(environ["PATH_INFO"])
        return self.django(environ, start_response)


@pytest.fixture(autouse=True)
def _keep_the_tests_connection():
    """As Django's test client does: a request through the WSGI handler must not close the
    database connection that holds the test's transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def django_app():
    return Recorder()


@pytest.fixture
def gate(django_app):
    return FlashSoldOutGate(django_app)


def session_of(user) -> str:
    """The key of a new session signed in as `user` (kept in the cache and the database)."""
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def buy_now(
    app,
    sale,
    *,
    session="",
    language="",
    method="POST",
    query="",
    secure=True,
    host="testserver",
    **form,
):
    """POST Buy now to the WSGI `app` as a browser would (urlencoded, with the CSRF cookie
    and field): (status code, headers, body)."""
    path = f"{language}/flash/{sale.pk}/buy/"
    cookies = {settings.CSRF_COOKIE_NAME: TOKEN}
    if session:
        cookies[settings.SESSION_COOKIE_NAME] = session
    environ = (
        RequestFactory()
        .generic(
            method,
            path + (f"?{query}" if query else ""),
            urlencode({"quantity": 1, "csrfmiddlewaretoken": TOKEN, **form}),
            content_type="application/x-www-form-urlencoded",
            secure=secure,
            HTTP_COOKIE="; ".join(f"{k}={v}" for k, v in cookies.items()),
            HTTP_REFERER=f"https://testserver{path}",
            HTTP_HOST=host,
        )
        .environ
    )
    answered = {}

    def start_response(status, headers, exc_info=None):
        answered.update(status=int(status.split()[0]), headers=headers)

    answer = app(environ, start_response)
    try:
        body = b"".join(answer)
    finally:
        # As a WSGI server does: Django's request_finished, which ends what the request
        # kept (catalog.cache's versions), or the next test reads them.
        if hasattr(answer, "close"):
            answer.close()
    return answered["status"], dict(answered["headers"]), body.decode()


def sold_out(cap=1, **fields):
    """A running sale whose every unit another shopper holds (Buy now pressed first)."""
    sale = flash_sale(cap=cap, **fields)
    for index in range(cap):
        holder = shopper(f"holder{index}@example.com")
        flash.hold(sale=flash.sale_of(sale), user=holder, quantity=1)
    flash.schedule()  # the schedule cached, as the sale's product page leaves it
    return sale


def test_sold_out_is_answered_409_before_django_without_a_query(
    gate, django_app, django_assert_num_queries
):
    needs_redis()
    sale = sold_out()
    session = session_of(shopper())
    product_url = sale.variant.product.get_absolute_url()
    with django_assert_num_queries(0):
        status, headers, html = buy_now(gate, sale, session=session, next=product_url)
    assert status == 409 and django_app.paths == []
    assert "Sold out: every unit of the flash sale “Morning flash” has been taken." in html
    assert f'href="{product_url}"' in html  # back where the shopper pressed it
    assert headers["Cache-Control"] == "private, no-store"
    # A guest is told the same, without a CSRF token too: a refusal changes nothing.
    status, _headers, html = buy_now(gate, sale, csrfmiddlewaretoken="", next="https://evil.test/")
    assert status == 409 and django_app.paths == []
    assert 'href="/flash/"' in html and "evil" not in html  # only this shop's addresses
    assert not CartLine.objects.exists() and left(sale) == 0


@pytest.mark.parametrize("language", ["", "/zh-hans"])
def test_the_gate_answers_djangos_page_with_djangos_headers(language):
    needs_redis()
    sale = sold_out()
    session = session_of(shopper())
    with override_settings(SECURE_HSTS_SECONDS=3600):  # before the middleware is made
        django_app = Recorder()
        gate = FlashSoldOutGate(django_app)
        django_answer = buy_now(django_app, sale, session=session, language=language, next="/p")
        gate_answer = buy_now(gate, sale, session=session, language=language, next="/p")
    assert django_app.paths == [f"{language}/flash/{sale.pk}/buy/"]  # Django answered once
    assert gate_answer == django_answer
    status, headers, html = gate_answer
    code = "zh-hans" if language else "en"
    assert status == 409 and headers["Content-Language"] == code
    assert f'<html lang="{"zh-Hans" if language else "en"}">' in html
    assert "Content-Security-Policy" in headers and "Strict-Transport-Security" in headers
    with translation.override(code):
        assert f'href="{reverse("promotions:flash")}"' in html  # the page's own language


def test_the_gate_logs_its_refusal_as_django_logs_it(gate, django_app, caplog):
    needs_redis()
    sale = sold_out()
    session = session_of(shopper())
    with caplog.at_level(logging.WARNING, logger="django.request"):
        buy_now(django_app, sale, session=session)
        buy_now(gate, sale, session=session)
    assert django_app.paths == [f"/flash/{sale.pk}/buy/"]  # Django answered the first only
    by_django, by_gate = [r for r in caplog.records if r.name == "django.request"]
    assert by_django.getMessage() == f"Conflict: /flash/{sale.pk}/buy/"
    for field in ("levelname", "status_code"):
        assert getattr(by_gate, field) == getattr(by_django, field)
    assert by_gate.getMessage() == by_django.getMessage()
    assert by_gate.request.path == by_django.request.path


def test_a_holder_pressing_again_goes_on_to_django_and_checkout(gate, django_app):
    needs_redis()
    sale = flash_sale(cap=1)
    holder = shopper("holder@example.com")
    session = session_of(holder)
    status, headers, _html = buy_now(gate, sale, session=session)  # the last unit, held
    assert status == 302 and headers["Location"] == reverse("orders:checkout")
    django_app.paths.clear()
    status, headers, _html = buy_now(gate, sale, session=session)  # a double click
    assert status == 302 and headers["Location"] == reverse("orders:checkout")
    assert django_app.paths == [f"/flash/{sale.pk}/buy/"]
    # Another browser of the same account holds it too (the customer is the account).
    assert buy_now(gate, sale, session=session_of(holder))[0] == 302
    assert left(sale) == 0 and CartLine.objects.get(variant=sale.variant).quantity == 1


def test_a_forged_session_key_gets_nothing_more_than_djangos_answer(gate, django_app):
    """Nobody passes for a holder: a session key the cache does not know goes to Django,
    which reads no signed-in shopper in it and answers "sold out" itself."""
    needs_redis()
    sale = sold_out()
    holder_session = session_of(shopper("holder0@example.com"))
    other_last = "y" if holder_session.endswith("x") else "x"
    for forged in (holder_session[:-1] + other_last, "0" * 32, holder_session + "x"):
        status, _headers, html = buy_now(gate, sale, session=forged)
        assert status == 409 and "Sold out" in html
    assert django_app.paths == [f"/flash/{sale.pk}/buy/"] * 3
    assert left(sale) == 0 and not CartLine.objects.exists()


def test_a_sale_with_units_left_goes_to_django_which_holds_one(gate, django_app):
    needs_redis()
    sale = flash_sale(cap=2)
    flash.schedule()
    status, headers, _html = buy_now(gate, sale, session=session_of(shopper()))
    assert status == 302 and headers["Location"] == reverse("orders:checkout")
    assert django_app.paths == [f"/flash/{sale.pk}/buy/"] and left(sale) == 1
    # Without a CSRF token Django refuses it, as before: only a refusal skips the check.
    status, _headers, _html = buy_now(
        gate, sale, session=session_of(shopper("b@example.com")), csrfmiddlewaretoken=""
    )
    assert status == 403 and left(sale) == 1


@override_settings(FLASH_REDIS_URL="redis://127.0.0.1:1/0")
def test_with_redis_down_everyone_goes_to_django_and_nothing_is_oversold(gate, django_app):
    sale = flash_sale(cap=1)
    buy(sale, email="quicker@example.com")  # the only unit, placed
    flash.schedule()
    status, _headers, html = buy_now(gate, sale, session=session_of(shopper()))
    assert django_app.paths == [f"/flash/{sale.pk}/buy/"]  # the gate could not tell
    assert status == 409 and "Sold out" in html  # Django read it from the database
    assert FlashSale.objects.get().taken == 1 and not CartLine.objects.exists()


def test_anything_but_buy_now_in_a_known_sale_goes_to_django(gate, django_app):
    needs_redis()
    sale = sold_out()
    session = session_of(shopper())
    assert buy_now(gate, sale, session=session, method="GET")[0] == 405
    assert buy_now(gate, sale, session=session, query="x=1")[0] == 409  # Django's answer
    unknown = FlashSale(pk=sale.pk + 1000)
    assert buy_now(gate, unknown, session=session)[0] == 404
    assert django_app.paths == [f"/flash/{sale.pk}/buy/"] * 2 + [f"/flash/{unknown.pk}/buy/"]


def test_plain_http_where_the_shop_redirects_and_an_unknown_host_go_to_django():
    needs_redis()
    sale = sold_out()
    session = session_of(shopper())
    with override_settings(SECURE_SSL_REDIRECT=True):  # before the middleware is made
        django_app = Recorder()
        gate = FlashSoldOutGate(django_app)
        assert buy_now(gate, sale, session=session, secure=False)[0] == 301  # to HTTPS
    assert buy_now(gate, sale, session=session, host="evil.example.com")[0] == 400
    assert django_app.paths == [f"/flash/{sale.pk}/buy/"] * 2
    assert buy_now(gate, sale, session=session)[0] == 409 and len(django_app.paths) == 2
