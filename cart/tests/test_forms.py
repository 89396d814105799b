from copy import deepcopy
from unittest import mock

import pytest
from django import forms
from django.http import QueryDict

from cart.forms import AddToCartForm
from catalog.tests.factories import VariantFactory

pytestmark = pytest.mark.django_db


def test_an_add_form_reads_its_classs_fields_and_copies_none():
    """Django deep-copies every field (widget, validators) for each form; the add's form is
    only validated, so it reads the class's, and each form still answers for its own data."""
    variant = VariantFactory(stock=5)

    def no_field_copied(value, memo=None):
        assert not isinstance(value, dict) or not any(
            isinstance(field, forms.Field) for field in value.values()
        ), "a field copied"
        return deepcopy(value, memo)

    with mock.patch("copy.deepcopy", side_effect=no_field_copied):
        good = AddToCartForm(QueryDict(f"variant={variant.pk}&quantity=2"))
        bad = AddToCartForm(QueryDict("variant=abc&quantity=0"))
        assert good.is_valid() and not bad.is_valid()
    assert good.fields["variant"] is AddToCartForm.base_fields["variant"]
    assert good.cleaned_data == {"variant": variant, "quantity": 2}
    assert bad.errors == {
        "variant": ["That option is not available."],
        "quantity": ["Choose at least 1, or remove the item."],
    }
    assert AddToCartForm(QueryDict(f"variant={variant.pk}&quantity=1")).is_valid()
