import pytest
from django.utils import translation
from django_countries import countries

from accounts.forms import AddressForm, CodeForm, RegistrationForm

pytestmark = pytest.mark.django_db

ADDRESS = {
    "full_name": "Li  Wei",
    "phone": "+86 138 0013 8000",
    "line1": "1 Chang'an Avenue",
    "line2": "",
    "city": "Beijing",
    "region": "Beijing Shi",
    "postcode": "100000",
    "country": "CN",
}


def test_registration_runs_djangos_password_validators():
    form = RegistrationForm({"email": "kim@example.com", "password": "password"})
    assert not form.is_valid()
    assert "too common" in " ".join(form.errors["password"])


def test_registration_password_may_not_resemble_the_email():
    form = RegistrationForm({"email": "kimberly.lee@example.com", "password": "kimberly.lee"})
    assert not form.is_valid()
    assert "too similar" in " ".join(form.errors["password"])


def test_a_valid_address_is_cleaned_to_one_spelling():
    form = AddressForm(ADDRESS)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["full_name"] == "Li Wei"
    assert form.cleaned_data["phone"] == "+8613800138000"
    assert form.cleaned_data["region"] == "北京市"  # the province's value in the post's data


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"postcode": "10000"}, "postcode"),  # China: six digits
        ({"postcode": ""}, "postcode"),
        ({"region": ""}, "region"),  # China needs the province
        ({"country": "ZZ"}, "country"),
        ({"country": "cn"}, "country"),  # codes as the list has them, as Django's choices
        ({"country": "CHN"}, "country"),
        ({"country": "C\x00N"}, "country"),
        ({"country": ""}, "country"),
        ({"line1": ""}, "line1"),
        ({"city": ""}, "city"),
        ({"phone": "138"}, "phone"),
        ({"country": "US", "postcode": "1234"}, "postcode"),
        ({"country": "GB", "region": "", "postcode": "NOT A CODE"}, "postcode"),
        ({"country": "US", "region": "Beijing Shi", "postcode": "94016"}, "region"),
        ({"country": "US", "region": "", "postcode": "94016"}, "region"),
        ({"country": "SG", "postcode": "12345"}, "postcode"),  # Singapore: six digits
        ({"line1": "1 Main\x00 Street"}, "line1"),
        ({"city": "Bei\x00jing"}, "city"),
        ({"region": "\x00"}, "region"),
        ({"postcode": "100\x00000"}, "postcode"),
    ],
)
def test_bad_addresses_are_refused_on_the_right_field(changes, field):
    form = AddressForm({**ADDRESS, **changes})
    assert not form.is_valid()
    assert field in form.errors


def test_the_country_list_is_django_countries_in_the_page_language_and_each_is_accepted():
    offered = list(AddressForm()["country"].field.choices)
    assert offered == [("", "---------"), *countries]
    with translation.override("zh-hans"):
        chinese = list(AddressForm()["country"].field.choices)
        assert chinese == [("", "---------"), *countries]
    assert chinese != offered and {code for code, _name in chinese} == {c for c, _n in offered}
    for code, _name in offered[1:]:
        form = AddressForm({**ADDRESS, "country": code})
        form.is_valid()
        assert "country" not in form.errors, code


def test_a_refused_country_is_told_on_its_field():
    form = AddressForm({**ADDRESS, "country": "ZZ"})
    assert not form.is_valid()
    assert form.errors["country"] == [
        "Select a valid choice. ZZ is not one of the available choices."
    ]


def test_postcode_is_optional_where_the_post_has_none():
    form = AddressForm({**ADDRESS, "country": "HK", "postcode": "", "region": "Kowloon"})
    assert form.is_valid(), form.errors


def test_a_us_state_is_a_list_and_a_typed_name_finds_its_code():
    form = AddressForm({**ADDRESS, "country": "US", "region": "california", "postcode": "94016"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["region"] == "CA"
    html = str(form["region"])
    assert html.startswith("<select") and '<option value="NY">New York</option>' in html
    assert form["region"].label == "State" and form["postcode"].label == "ZIP code"
    assert "required" in html and 'pattern="' in str(form["postcode"])


def test_a_country_without_regions_asks_none_and_drops_what_was_sent():
    form = AddressForm({**ADDRESS, "country": "SG", "region": "Beijing Shi", "city": "",
                        "postcode": "546080"})  # fmt: skip
    assert form.is_valid(), form.errors
    assert (form.cleaned_data["region"], form.cleaned_data["city"]) == ("", "")
    assert form["region"].is_hidden and form["city"].is_hidden


def test_each_address_form_follows_its_own_country_whatever_came_before():
    """The fields a country's rules change are each form's own (shop.forms): a US form's
    state list and ZIP code never reach a Singapore form made after it, nor the reverse."""
    region = AddressForm.base_fields["region"]
    widget, label, required = region.widget, region.label, region.required
    us = AddressForm({**ADDRESS, "country": "US", "region": "CA", "postcode": "94016"})
    sg = AddressForm({**ADDRESS, "country": "SG", "region": "", "postcode": "546080"})
    us_again = AddressForm({**ADDRESS, "country": "US", "region": "CA", "postcode": "94016"})

    assert us.is_valid() and sg.is_valid() and us_again.is_valid()
    assert sg["region"].is_hidden and sg["city"].is_hidden and not us["region"].is_hidden
    assert str(us["region"]) == str(us_again["region"])
    assert us["postcode"].label == "ZIP code" != sg["postcode"].label
    assert us.fields["full_name"] is sg.fields["full_name"] is AddressForm.base_fields["full_name"]
    assert (region.widget, region.label, region.required) == (widget, label, required)
    assert "make_default" in AddressForm(show_make_default=True).fields
    assert "make_default" not in AddressForm(show_make_default=False).fields


def test_an_unbound_form_starts_on_the_shops_country(settings):
    assert AddressForm().country_code == settings.ADDRESS_DEFAULT_COUNTRY
    assert AddressForm(initial={"country": "cn"})["region"].label == "Province"


@pytest.mark.parametrize(
    ("raw", "ok"), [("123456", True), ("123 456", True), ("12345", False), ("abcdef", False)]
)
def test_codes_are_six_digits(raw, ok):
    assert CodeForm({"code": raw}).is_valid() is ok
