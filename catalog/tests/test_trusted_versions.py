"""The versions a process trusts (catalog.cache._TrustedVersions): read from the cache by a
request that only reads, taken without a round trip while the change mark read with them
stands and was read less than TRUST_SECONDS ago. A change made in the process is seen at
once, one made by another process within TRUST_SECONDS, and at once by a request that
writes.

TRUST_SECONDS is a minute here, so that a slow machine does not see the trust run out
between two steps of a test; trust_runs_out() moves the mark's reading back instead."""

from decimal import Decimal

import pytest
from django.core.cache import cache as django_cache
from django.test import Client

from catalog import cache, services
from catalog.apps import TAX_RATES_SCOPE
from catalog.models import Variant
from catalog.tests.factories import CategoryFactory, ProductFactory
from taxes import selectors as tax_selectors


@pytest.fixture(autouse=True)
def a_long_trust(monkeypatch):
    monkeypatch.setattr(cache, "TRUST_SECONDS", 60.0)


def trust_runs_out():
    """As TRUST_SECONDS passing since the mark was read."""
    cache._trusted.checked -= cache.TRUST_SECONDS + 1


@pytest.fixture
def oxford(db):
    product = ProductFactory(
        name="Oxford", category=CategoryFactory(), variants__price=Decimal("30.00")
    )
    Client().get(product.get_absolute_url())  # rendered, its versions started from the clock
    Client().get(product.get_absolute_url())  # its versions read from the cache: trusted
    return product


@pytest.fixture
def another_process(monkeypatch, django_capture_on_commit_callbacks):
    """Runs a change as another process makes it: in the database and the cache, its own
    trusted versions forgotten, not this process's."""

    def change(write):
        here = cache._trusted
        monkeypatch.setattr(cache, "_trusted", cache._TrustedVersions())
        with django_capture_on_commit_callbacks(execute=True):
            write()
        monkeypatch.setattr(cache, "_trusted", here)

    return change


def new_price(product):
    Variant.objects.filter(product=product).update(price=Decimal("24.50"))
    services.refresh_products(product_ids=[product.pk])


def in_request(method: str, read):
    """What `read()` gives inside a request of `method`, as Django's handler starts and
    ends one."""
    cache.request_started(environ={"REQUEST_METHOD": method})
    try:
        return read()
    finally:
        cache.request_finished()


def test_a_change_made_in_this_process_shows_at_once(oxford, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        new_price(oxford)
    html = Client().get(oxford.get_absolute_url()).content.decode()
    assert "$24.50" in html and "$30.00" not in html


def test_a_change_made_by_another_process_shows_within_the_trusted_seconds(oxford, another_process):
    another_process(lambda: new_price(oxford))
    url = oxford.get_absolute_url()
    assert "$30.00" in Client().get(url).content.decode()  # the held page, trusted versions
    trust_runs_out()
    html = Client().get(url).content.decode()
    assert "$24.50" in html and "$30.00" not in html


def test_a_request_that_writes_reads_the_versions_from_the_cache(oxford, another_process):
    scopes = [cache.product_scope(oxford.pk)]
    reading = in_request("GET", lambda: cache.versions(scopes))
    another_process(lambda: new_price(oxford))
    assert in_request("GET", lambda: cache.versions(scopes)) == reading
    assert in_request("HEAD", lambda: cache.versions(scopes)) == reading
    assert in_request("POST", lambda: cache.versions(scopes)) != reading
    assert cache.versions(scopes) != reading  # outside a request: a task, a command


def test_the_mark_moving_gives_up_every_trusted_version(oxford, another_process):
    product, other = cache.product_scope(oxford.pk), cache.product_scope(oxford.pk + 1)
    in_request("GET", lambda: cache.versions([other]))  # started from the clock
    in_request("GET", lambda: cache.versions([product, other]))
    assert set(cache._trusted.known([product, other])) == {product, other}
    another_process(lambda: cache.bump([product]))
    trust_runs_out()
    in_request("GET", lambda: cache.versions([cache.CATALOG]))  # the mark read again: moved
    assert product not in cache._trusted.known([product, other])
    assert other not in cache._trusted.known([product, other])


def test_what_was_asked_before_a_change_here_is_not_trusted():
    generation = cache._trusted.generation
    cache.own_version_moved()  # a change made here
    cache._trusted.learn(None, {cache.CATALOG: 1}, generation=generation, asked_at=0.0)
    assert cache._trusted.known([cache.CATALOG]) == {}


def test_versions_started_from_the_clock_are_not_trusted(db):
    """With the cache out of reach every read starts them: trusting one would keep pages
    rendered then."""
    started = in_request("GET", lambda: cache.versions([cache.CATALOG]))
    assert cache._trusted.known([cache.CATALOG]) == {}
    assert in_request("GET", lambda: cache.versions([cache.CATALOG])) == started
    assert cache._trusted.known([cache.CATALOG]) == started


def test_new_tax_rates_show_at_once_here_and_move_the_mark(db):
    in_request("GET", lambda: cache.versions([TAX_RATES_SCOPE]))
    before = in_request("GET", lambda: cache.versions([TAX_RATES_SCOPE]))
    mark = cache._trusted.mark
    tax_selectors.rates_changed()
    after = in_request("GET", lambda: cache.versions([TAX_RATES_SCOPE]))
    assert after != before
    assert cache._trusted.mark != mark


def test_a_mark_the_cache_lost_trusts_nothing_and_is_started_again(oxford):
    scopes = [cache.product_scope(oxford.pk)]
    in_request("GET", lambda: cache.versions(scopes))
    assert cache._trusted.known(scopes)
    django_cache.delete(cache.MARK_KEY)  # the cache emptied or restarted since
    trust_runs_out()
    in_request("GET", lambda: cache.versions(scopes))
    assert cache._trusted.known(scopes) == {}
    assert django_cache.get(cache.MARK_KEY) is not None
    in_request("GET", lambda: cache.versions(scopes))
    assert cache._trusted.known(scopes)


def test_a_version_read_long_ago_is_read_again_whatever_the_mark(oxford):
    """A writer that does not move the mark (a process of an earlier release) is seen within
    SCOPE_TRUST_SECONDS."""
    scope = cache.product_scope(oxford.pk)
    version = in_request("GET", lambda: cache.versions([scope]))[scope]
    django_cache.set(f"catalog:version:{scope}", version + 1, timeout=None)  # no mark moved
    assert in_request("GET", lambda: cache.versions([scope]))[scope] == version
    held, read_at = cache._trusted.versions[scope]
    cache._trusted.versions[scope] = (held, read_at - cache.SCOPE_TRUST_SECONDS - 1)
    assert in_request("GET", lambda: cache.versions([scope]))[scope] == version + 1
