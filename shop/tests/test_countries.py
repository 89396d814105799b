from django.utils import translation
from django_countries import countries
from django_countries.fields import Country

from shop.countries import country_name


def test_country_names_are_django_countries_names_in_the_active_language():
    for language in ("en", "zh-hans"):
        with translation.override(language):
            for code, name in countries:
                assert country_name(code) == name == Country(code).name
                assert country_name(Country(code)) == name
    with translation.override("zh-hans"):
        assert country_name("DE") == "德国"
    with translation.override("en"):
        assert country_name("DE") == "Germany"
    assert country_name("") == country_name("XX") == ""
