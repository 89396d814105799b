"""The merchant's tax pages: rates listed and filtered in a fixed number of queries, an
overlapping period refused with a message."""

from datetime import date

import pytest
from django.urls import reverse

from taxes.models import TaxClass, TaxRate
from taxes.tests.factories import rates

pytestmark = pytest.mark.django_db

#: Session, user, the page of rates with their classes, the filters' classes; no count.
RATE_LIST_BUDGET = 8


@pytest.mark.parametrize("count", [1, 40])
def test_the_rate_list_queries_do_not_grow(admin_client, count, django_assert_max_num_queries):
    rates(*[(code, "", "standard", "20") for code in ["DE", "FR", "IT", "ES", "NL"] * 8][:count])
    for filters in ({}, {"valid": "now"}, {"valid": "past"}, {"country": "DE"}):
        with django_assert_max_num_queries(RATE_LIST_BUDGET):
            response = admin_client.get(reverse("admin:taxes_taxrate_changelist"), filters)
        assert response.status_code == 200


def test_an_overlapping_rate_is_refused_with_a_message(admin_client):
    standard = TaxClass.objects.get_or_create(code="standard", defaults={"name": "Standard"})[0]
    rates(("DE", "", "standard", "19"))
    response = admin_client.post(
        reverse("admin:taxes_taxrate_add"),
        {
            "country": "DE",
            "region": "",
            "tax_class": standard.pk,
            "rate": "21",
            "name": "VAT",
            "valid_from": "2026-01-01",
            "valid_until": "",
        },
    )
    assert response.status_code == 200
    assert "overlaps this period" in response.content.decode()
    assert TaxRate.objects.count() == 1


def test_a_new_rate_after_the_old_one_ends_is_saved(admin_client):
    standard = TaxClass.objects.get_or_create(code="standard", defaults={"name": "Standard"})[0]
    old = rates(("DE", "", "standard", "19"))[0]
    old.valid_until = date(2027, 1, 1)
    old.save()
    response = admin_client.post(
        reverse("admin:taxes_taxrate_add"),
        {
            "country": "DE",
            "region": "",
            "tax_class": standard.pk,
            "rate": "21",
            "name": "VAT",
            "valid_from": "2027-01-01",
            "valid_until": "",
        },
    )
    assert response.status_code == 302
    assert TaxRate.objects.count() == 2
