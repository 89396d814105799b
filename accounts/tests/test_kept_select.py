"""The country select keeps its HTML per choices, value, attributes and language: a kept
one is never another shopper's choice, another language's names, or another field's."""

from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils import translation

from accounts.forms import AddressForm, KeptSelect


def country_select(**initial) -> str:
    return str(AddressForm(prefix="ship", initial=initial)["country"])


def test_the_kept_select_is_the_one_django_renders():
    KeptSelect._kept.clear()
    for country in ("GB", "CN", "GB"):
        form = AddressForm(prefix="ship", initial={"country": country})
        kept = form.fields["country"].widget
        plain = forms.Select(attrs=kept.attrs, choices=kept.choices)
        assert str(form["country"]) == form["country"].as_widget(widget=plain)
    assert len(KeptSelect._kept) == 2


def test_each_choice_and_language_has_its_own_select():
    gb, cn = country_select(country="GB"), country_select(country="CN")
    assert '<option value="GB" selected>' in gb and '<option value="GB" selected>' not in cn
    assert '<option value="CN" selected>' in cn
    with translation.override("zh-hans"):
        chinese = country_select(country="GB")
    assert chinese != gb and "英国" in chinese
    assert country_select(country="GB") == gb


def test_a_field_of_another_name_or_with_other_attributes_is_not_served_the_kept_one():
    widget = KeptSelect(choices=[("a", "A"), ("b", "B")], attrs={"class": "x"})
    first = widget.render("one", "a", renderer=DjangoTemplates())
    assert 'name="one"' in first and 'class="x"' in first
    assert 'name="two"' in widget.render("two", "a", renderer=DjangoTemplates())
    assert 'id="z"' in widget.render("one", "a", attrs={"id": "z"}, renderer=DjangoTemplates())
    other = KeptSelect(choices=[("a", "A"), ("c", "C")], attrs={"class": "x"})
    assert 'value="c"' in other.render("one", "a", renderer=DjangoTemplates())


def test_the_store_is_emptied_when_it_is_full():
    KeptSelect._kept.clear()
    widget = KeptSelect(choices=[("a", "A")])
    for n in range(KeptSelect.KEPT + 5):
        widget.render("field", f"value-{n}")
    assert len(KeptSelect._kept) <= KeptSelect.KEPT
