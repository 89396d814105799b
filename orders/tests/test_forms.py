"""The checkout form's cost: what it copies and labels for each request."""

import pytest
from django import forms
from django.contrib.auth.models import AnonymousUser

from orders.forms import CheckoutForm, ShippingMethodChoice
from orders.tests.factories import ShippingMethodFactory

pytestmark = pytest.mark.django_db


def test_a_guests_checkout_form_copies_only_the_fields_it_sets(monkeypatch):
    copied = []
    deepcopy = forms.Field.__deepcopy__

    def noting(field, memo):
        copied.append(field)
        return deepcopy(field, memo)

    monkeypatch.setattr(forms.Field, "__deepcopy__", noting)
    form = CheckoutForm(user=AnonymousUser(), addresses=[])

    own = {name for name, field in CheckoutForm.base_fields.items() if field in copied}
    assert own == {"payment_method", "shipping_method"}
    shared = set(form.fields) - own
    assert shared >= {"email", "coupon_code"}
    assert all(form.fields[name] is CheckoutForm.base_fields[name] for name in shared)
    assert "save_address" not in form.fields and "points" not in form.fields
    assert list(form.fields) == [name for name in CheckoutForm.base_fields if name in form.fields]


def test_a_posted_checkout_form_labels_its_shipping_methods_only_when_shown(monkeypatch):
    method = ShippingMethodFactory()
    labelled = []
    label_of = ShippingMethodChoice.label_of

    def noting(field, shipping_method):
        labelled.append(shipping_method)
        return label_of(field, shipping_method)

    monkeypatch.setattr(ShippingMethodChoice, "label_of", noting)
    form = CheckoutForm({"shipping_method": str(method.pk)}, user=AnonymousUser(), addresses=[])
    form.is_valid()

    assert form.cleaned_data["shipping_method"] == method
    assert labelled == []
    assert method.name in str(form["shipping_method"])
    assert labelled == [method]
