"""The header's links for a guest (shop_tags.guest_links): kept per language, cart count and
flash state, and taken from there without asking the template loader."""

import pytest
from django.template import engines
from django.test import override_settings
from django.utils import translation

from shop.templatetags import shop_tags

pytestmark = pytest.mark.django_db


def test_a_guests_links_are_rendered_once_then_taken_without_the_loader(monkeypatch):
    first = shop_tags.guest_links(cart_count=2, language="en")
    assert 'href="/cart/"' in first and ">2<" in first.replace(" ", "")
    engine = engines["django"].engine
    monkeypatch.setattr(engine, "get_template", lambda name: pytest.fail(f"loader asked: {name}"))
    assert shop_tags.guest_links(cart_count=2, language="en") == first


def test_each_language_and_count_has_its_own_links():
    english = shop_tags.guest_links(cart_count=0, language="en")
    with translation.override("zh-hans"):
        chinese = shop_tags.guest_links(cart_count=0, language="zh-hans")
    assert english != chinese
    assert shop_tags.guest_links(cart_count=3, language="en") != english


def test_new_templates_are_read_again(settings):
    shop_tags.guest_links(cart_count=0, language="en")
    templates = [{**settings.TEMPLATES[0], "DIRS": settings.TEMPLATES[0]["DIRS"]}]
    with override_settings(TEMPLATES=templates):
        assert shop_tags._guest_links.cache_info().currsize == 0
