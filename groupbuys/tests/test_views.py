from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog.tests.factories import ProductFactory, VariantFactory
from catalog.tests.test_views import PRODUCT_BUDGET
from groupbuys import services
from groupbuys.models import Group, Membership
from groupbuys.tests.factories import GroupOfferFactory, shopper, variant_of

pytestmark = pytest.mark.django_db

#: The group page: the session's user, the group with its offer and product, the offer's
#: variants, the members with their users; the product's variants when the offer names
#: none. Whatever the number of members.
GROUP_PAGE_BUDGET = 8
#: The product page with a running offer, cold: catalog's budget (which counts the offer's
#: lookup) plus the offer's variants and its open groups, whatever the number of groups.
PRODUCT_PAGE_BUDGET = PRODUCT_BUDGET + 2


def _group(size=3, members=1):
    offer = GroupOfferFactory(group_size=size)
    group = services.start_group(
        offer=offer, variant=variant_of(offer), user=shopper("Jonathan")
    ).group
    for i in range(members - 1):
        services.join_group(group=group, variant=variant_of(offer), user=shopper(f"Mei {i}x"))
    return offer, group


@pytest.mark.parametrize("members", [1, 6])
def test_the_group_page_shows_masked_members_and_time_left_in_a_fixed_budget(
    client, members, django_assert_max_num_queries
):
    _offer, group = _group(size=10, members=members)
    with django_assert_max_num_queries(GROUP_PAGE_BUDGET):
        response = client.get(group.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert "J***n" in html and "Jonathan" not in html
    assert html.count('class="group-members__item"') == members
    assert "23 h 59 min" in html or "24 h 0 min" in html
    assert "Join this group at" in html
    assert f"{10 - members} seats left" in html
    assert group.get_absolute_url() in html  # the link to share


def test_the_product_page_offers_to_start_a_group_and_lists_open_ones(
    client, django_assert_max_num_queries
):
    offer, group = _group(size=3, members=2)
    for _i in range(3):  # more open groups cost no query more
        services.start_group(offer=offer, variant=variant_of(offer), user=shopper())
    ProductFactory.create_batch(3, category=offer.product.category)
    with django_assert_max_num_queries(PRODUCT_PAGE_BUDGET):
        response = client.get(offer.product.get_absolute_url())
    html = response.content.decode()
    assert "Start a group at $20.00" in html
    assert group.get_absolute_url() in html and "1 seat left" in html


def test_a_join_changes_the_cached_product_page(client, django_capture_on_commit_callbacks):
    offer, group = _group(size=3, members=1)
    assert "2 seats left" in client.get(offer.product.get_absolute_url()).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        services.join_group(group=group, variant=variant_of(offer), user=shopper("Bo"))
    assert "1 seat left" in client.get(offer.product.get_absolute_url()).content.decode()


def test_start_then_checkout_at_the_group_price(client):
    offer = GroupOfferFactory()
    user = shopper()
    client.force_login(user)
    response = client.post(
        reverse("groupbuys:start", kwargs={"offer_id": offer.pk}),
        {"variant": variant_of(offer).pk},
        follow=True,
    )
    assert response.redirect_chain[-1][0].endswith(reverse("orders:checkout"))
    group = Group.objects.get()
    assert group.get_absolute_url() in response.content.decode()  # the link to share
    assert Membership.objects.get().user == user


def test_join_through_the_link(client):
    offer, group = _group(size=2)
    client.force_login(shopper("Bo"))
    response = client.post(
        reverse("groupbuys:join", kwargs={"code": group.code}), {"variant": variant_of(offer).pk}
    )
    assert response.status_code == 302 and response.url == reverse("orders:checkout")
    assert group.memberships.count() == 2


@pytest.mark.parametrize("code", ["nope", "x" * 40, "abc%20def", "../../admin"])
def test_an_unknown_or_tampered_link_is_a_404(client, code):
    _offer, group = _group()
    assert client.get(f"/groups/{code}/").status_code == 404
    assert client.get(f"/groups/{group.code[:-1]}/").status_code == 404
    client.force_login(shopper("Bo"))
    assert client.post(f"/groups/{code}/join/", {"variant": 1}).status_code == 404


def _join(client, group, variant):
    return client.post(
        reverse("groupbuys:join", kwargs={"code": group.code}),
        {"variant": variant},
        follow=True,
    )


@pytest.mark.parametrize(
    "situation, message",
    [
        ("full", "This group is full"),
        ("expired", "This group has ended"),
        ("no_variant", "Choose an option first"),
        ("bad_variant", "That option is not available"),
        ("other_product", "Choose one of the offer"),
        ("twice", "You are in this group already"),
    ],
)
def test_a_refused_join_says_why_on_the_group_page(client, situation, message):
    offer, group = _group(size=2)
    joiner = shopper("Bo")
    variant = variant_of(offer).pk
    if situation == "full":
        services.join_group(group=group, variant=variant_of(offer), user=shopper("Cy"))
    elif situation == "expired":
        Group.objects.filter(pk=group.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    elif situation == "no_variant":
        variant = ""
    elif situation == "bad_variant":
        variant = "99999999"
    elif situation == "other_product":
        variant = VariantFactory().pk
    elif situation == "twice":
        joiner = group.leader
    client.force_login(joiner)
    before = Membership.objects.count()
    response = _join(client, group, variant)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == group.get_absolute_url()
    assert message in response.content.decode()
    assert Membership.objects.count() == before


def test_a_guest_is_asked_to_sign_in_and_comes_back_to_the_group(client):
    offer, group = _group()
    response = client.post(
        reverse("groupbuys:join", kwargs={"code": group.code}), {"variant": variant_of(offer).pk}
    )
    assert response.status_code == 302
    assert reverse("accounts:login") in response.url and group.code in response.url
    assert group.memberships.count() == 1


@pytest.mark.parametrize(
    "change, message",
    [
        ({"ends_at": "past"}, "This group offer has ended"),
        ({"variant": ""}, "Choose an option first"),
        ({"variant": "abc"}, "That option is not available"),
    ],
)
def test_a_refused_start_says_why_on_the_product_page(client, change, message):
    offer = GroupOfferFactory()
    if change.get("ends_at"):
        offer.starts_at = timezone.now() - timedelta(days=2)
        offer.ends_at = timezone.now() - timedelta(days=1)
        offer.save()
    client.force_login(shopper())
    response = client.post(
        reverse("groupbuys:start", kwargs={"offer_id": offer.pk}),
        {"variant": change.get("variant", variant_of(offer).pk)},
        follow=True,
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Group.objects.exists()


def test_starting_with_a_sold_out_option_says_so(client):
    offer = GroupOfferFactory()
    variant_of(offer).__class__.objects.filter(pk=variant_of(offer).pk).update(stock=0)
    client.force_login(shopper())
    response = client.post(
        reverse("groupbuys:start", kwargs={"offer_id": offer.pk}),
        {"variant": variant_of(offer).pk},
        follow=True,
    )
    assert "sold out" in response.content.decode()
    assert not Group.objects.exists()


def test_a_member_who_has_not_paid_is_sent_to_checkout(client):
    _offer, group = _group()
    client.force_login(group.leader)
    html = client.get(group.get_absolute_url()).content.decode()
    assert "pay to keep your seat" in html and reverse("orders:checkout") in html


def test_start_on_an_unknown_offer_is_a_404_and_a_get_is_refused(client):
    client.force_login(shopper())
    assert client.post("/group-offers/999999/start/", {"variant": 1}).status_code == 404
    assert client.get("/group-offers/1/start/").status_code == 405
    _offer, group = _group()
    assert client.get(f"/groups/{group.code}/join/").status_code == 405


def test_a_finished_group_says_so_and_offers_no_join(client):
    _offer, group = _group()
    Group.objects.filter(pk=group.pk).update(state="failed")
    html = client.get(group.get_absolute_url()).content.decode()
    assert "did not fill in time" in html and "Join this group at" not in html


def test_the_group_page_reads_in_chinese(client):
    _offer, group = _group()
    html = client.get(f"/zh-hans{group.get_absolute_url()}").content.decode()
    assert "拼团" in html


def test_the_merchant_sees_groups_and_validates_offers(admin_client, django_assert_max_num_queries):
    offer, _group_ = _group(members=2)
    with django_assert_max_num_queries(12):
        assert admin_client.get("/admin/groupbuys/group/").status_code == 200
    detail = admin_client.get(f"/admin/groupbuys/group/{_group_.pk}/change/")
    member = _group_.memberships.last()
    assert detail.status_code == 200 and str(member.user) in detail.content.decode()
    stranger = VariantFactory()
    response = admin_client.post(
        "/admin/groupbuys/groupoffer/add/",
        {
            "product": offer.product.pk,
            "variants": str(stranger.pk),
            "group_price": "45.00",
            "group_size": "1",
            "hours": "500",
            "starts_at_0": "2026-01-02",
            "starts_at_1": "10:00",
            "ends_at_0": "2026-01-01",
            "ends_at_1": "10:00",
            "is_active": "on",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    for error in [
        "lower than the product",
        "between 2 and 100",
        "between 1 and 168",
        "end after it starts",
        "variants of",
    ]:
        assert error in html, error
    assert offer.product.pk and Decimal("20.00") == offer.group_price
