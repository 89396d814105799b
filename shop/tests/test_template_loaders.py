"""The shop's template loader: each template kept per language, its constant
{% translate %} written out once, rendering exactly as Django's own loader does."""

import pytest
from django.template import Context, Engine
from django.template.loader import get_template
from django.utils import translation

from shop.template_loaders import TranslatedNode

TEMPLATES = {
    "page.html": (
        '{% load i18n %}<p title="{% translate \'Subtotal\' %}">{% translate "Ship to" %}</p>'
        '{% translate "Fish & <chips>" %}|{% autoescape off %}{% translate "Fish & <chips>" %}'
        "{% endautoescape %}|{% if shown %}{% translate 'Subtotal' %}{% else %}"
        "{% translate 'Ship to' %}{% endif %}|{% for n in numbers %}{% translate 'Subtotal' %}"
        '{% empty %}{% translate "Ship to" %}{% endfor %}|{% include "part.html" %}'
        '|{% translate word %}|{% translate "Subtotal" as kept %}{{ kept }}'
        '|{% translate "May" context "month name" %}|{% translate "Subtotal"|upper %}'
        '|{% translate "Ship to" noop %}|{% language "en" %}{% translate "Subtotal" %}'
        "{% endlanguage %}"
    ),
    "part.html": '{% load i18n %}{% with x=1 %}{% translate "Ship to" %}{% endwith %}',
    "child.html": '{% extends "base.html" %}{% load i18n %}{% block b %}'
    '{% translate "Subtotal" %}{% endblock %}',
    "base.html": '{% load i18n %}{% translate "Ship to" %}:{% block b %}{% endblock %}',
}
CONTEXTS = ({"shown": True, "numbers": [1, 2], "word": "Subtotal"}, {"word": "Ship to"})


def engine(loader: str) -> Engine:
    return Engine(
        loaders=[(loader, [("django.template.loaders.locmem.Loader", TEMPLATES)])],
        libraries={"i18n": "django.templatetags.i18n"},
    )


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("name", ["page.html", "child.html"])
def test_templates_render_as_djangos_own_cached_loader_renders_them(language, name):
    ours, djangos = (
        engine("shop.template_loaders.Loader"),
        engine("django.template.loaders.cached.Loader"),
    )
    with translation.override(language):
        for context in CONTEXTS:
            expected = djangos.get_template(name).render(Context(context))
            assert ours.get_template(name).render(Context(context)) == expected
            assert ours.get_template(name).render(Context(context)) == expected  # kept


def test_each_language_keeps_its_own_template():
    ours = engine("shop.template_loaders.Loader")
    with translation.override("en"):
        english = ours.get_template("page.html").render(Context(CONTEXTS[0]))
    with translation.override("zh-hans"):
        chinese = ours.get_template("page.html").render(Context(CONTEXTS[0]))
    with translation.override("en"):
        assert ours.get_template("page.html").render(Context(CONTEXTS[0])) == english
    assert "Ship to" in english and "收货地址" not in english
    assert "收货地址" in chinese and "Ship to</p>" not in chinese
    assert chinese.endswith("|Subtotal")  # {% language "en" %} is not written out in Chinese


def test_only_constant_translations_are_written_out():
    with translation.override("en"):
        template = engine("shop.template_loaders.Loader").get_template("page.html")
    written = template.nodelist.get_nodes_by_type(TranslatedNode)
    # The title, "Ship to", both "Fish & <chips>", the if's two branches, the loop's body and
    # its empty branch: not the variable, `as`, the context, the filter, noop, nor
    # {% language %}'s.
    assert len(written) == 8


def test_the_shops_pages_use_it():
    with translation.override("zh-hans"):
        template = get_template("orders/_review_body.html")
    assert template.template.nodelist.get_nodes_by_type(TranslatedNode)
