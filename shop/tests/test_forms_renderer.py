"""The shop's form renderer writes Django's smallest form templates in Python: every form
must come out byte for byte as Django's own renderer makes it."""

import re
from pathlib import Path

import django.forms
import pytest
from django import forms
from django.forms.renderers import DjangoTemplates, get_default_renderer
from django.test import override_settings
from django.urls import reverse
from django.utils.safestring import mark_safe

from accounts.forms import AddressForm
from catalog.tests.factories import VariantFactory
from orders.forms import CheckoutForm
from orders.tests.factories import ShippingMethodFactory
from shop.forms_renderer import ShopFormRenderer

SHOP = ShopFormRenderer()
DJANGO = DjangoTemplates()


class EveryWidget(forms.Form):
    """Each widget the renderer writes, with values and attributes that escaping, the
    stringformat filter and True/False attributes treat differently."""

    name = forms.CharField(label='Name & "quote" <b>', help_text="Help <i>kept</i>")
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    quantity = forms.IntegerField(min_value=1, max_value=10_000, initial=1_500)
    secret = forms.CharField(widget=forms.PasswordInput(render_value=True), required=False)
    hidden = forms.CharField(widget=forms.HiddenInput, initial=mark_safe("<safe> & sound"))
    when = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), required=False)
    phone = forms.CharField(
        widget=forms.TextInput(attrs={"type": "tel", "data-x": True, "data-off": False}),
        required=False,
    )
    agree = forms.BooleanField(label="I agree.", required=False)
    size = forms.ChoiceField(
        choices=[(1, 1_000), ("m", "M <medium>"), ("l", mark_safe("<b>L</b>"))],
        widget=forms.RadioSelect,
    )
    colours = forms.MultipleChoiceField(
        choices=[("red", "Red"), ("blue", 'Blue "sky"')],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    upload = forms.FileField(required=False)
    site = forms.URLField(required=False, label_suffix=" →", assume_scheme="https")


def html(form_factory, renderer) -> str:
    """The form as a page shows it, field by field: label, widget, each radio, errors."""
    form = form_factory(renderer)
    parts = [str(form)]
    for field in form:
        parts += [field.label_tag(), str(field), str(field.errors), field.legend_tag()]
        parts += [radio.tag() + str(radio) for radio in field.subwidgets]
    parts.append(str(form.non_field_errors()))
    return "\n".join(parts)


def same_both_ways(form_factory) -> str:
    ours, django = html(form_factory, SHOP), html(form_factory, DJANGO)
    assert ours == django
    return ours


def test_every_widget_unbound_renders_as_djangos():
    rendered = same_both_ways(lambda r: EveryWidget(renderer=r, auto_id="id_%s"))
    assert 'value="<safe> & sound"' in rendered  # a safe value stays as it is
    assert "data-x" in rendered and "data-off" not in rendered


def test_every_widget_bound_with_bad_input_renders_as_djangos():
    data = {
        "name": "",
        "email": 'not-an-email"><script>',
        "quantity": "0",
        "secret": "s3cr&t",
        "hidden": "x",
        "when": "yesterday",
        "size": "xl",
        "colours": ["red", "green"],
        "site": "not a url",
    }
    rendered = same_both_ways(lambda r: EveryWidget(data, renderer=r))
    assert 'class="errorlist"' in rendered
    assert "&quot;&gt;&lt;script&gt;" in rendered


def test_without_ids_and_with_a_prefix_renders_as_djangos():
    same_both_ways(lambda r: EveryWidget(renderer=r, auto_id=False))
    same_both_ways(lambda r: EveryWidget({"name": "x"}, renderer=r, prefix="p"))


@pytest.mark.django_db
@pytest.mark.parametrize("country", ["GB", "US", "CN", "DE"])
def test_the_address_form_renders_as_djangos(country):
    same_both_ways(lambda r: AddressForm(prefix="ship", initial={"country": country}, renderer=r))
    bad = {"ship-country": country, "ship-postcode": "??", "ship-phone": "12"}
    same_both_ways(lambda r: AddressForm(bad, prefix="ship", renderer=r))


@pytest.mark.django_db
def test_the_checkout_form_renders_as_djangos(django_user_model):
    from django.contrib.auth.models import AnonymousUser

    ShippingMethodFactory()
    ShippingMethodFactory()

    def checkout_form(renderer, data=None):
        form = CheckoutForm(data, user=AnonymousUser(), addresses=[], renderer=renderer)
        form.address_form.renderer = renderer
        return form

    same_both_ways(checkout_form)
    same_both_ways(lambda r: checkout_form(r, {"email": "x", "shipping_method": "99"}))


@pytest.mark.django_db
def test_the_checkout_page_is_the_same_page_with_djangos_renderer(client):
    client.post(reverse("cart:add"), {"variant": VariantFactory().pk, "quantity": 1})
    ShippingMethodFactory()
    client.get(reverse("orders:checkout"))  # the cart's "added" message shown and gone

    def page() -> str:
        get_default_renderer.cache_clear()
        text = client.get(reverse("orders:checkout")).content.decode()
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)

    try:
        with override_settings(FORM_RENDERER="django.forms.renderers.DjangoTemplates"):
            django = page()
        ours = page()
    finally:
        get_default_renderer.cache_clear()
    assert ours == django
    assert 'name="ship-line1"' in ours


def test_a_template_an_app_overrides_is_not_replaced(settings, tmp_path):
    folder = tmp_path / "django" / "forms" / "widgets"
    folder.mkdir(parents=True)
    (folder / "text.html").write_text('<input class="mine" name="{{ widget.name }}">')

    class Overridden(ShopFormRenderer):
        @property
        def engine(self):
            return self.backend(
                {
                    "APP_DIRS": True,
                    "DIRS": [tmp_path, Path(django.forms.__file__).parent / "templates"],
                    "NAME": "overridden",
                    "OPTIONS": {},
                }
            )

    renderer = Overridden()
    assert "django/forms/widgets/text.html" not in renderer.written
    assert "django/forms/widgets/email.html" in renderer.written
    form = EveryWidget(renderer=renderer)
    assert str(form["name"]) == '<input class="mine" name="name">'
