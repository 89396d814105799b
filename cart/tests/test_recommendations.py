"""The cart page shows what is often bought with its products, and what was viewed last."""

import re

import pytest
from django.core.signing import get_cookie_signer
from django.test import Client
from django.urls import reverse

from cart.tests.test_views import CART_BUDGET, add
from catalog import cache, recently_viewed, services
from catalog.tests.factories import CategoryFactory, ProductFactory

#: The cart page (CART_BUDGET) with its recommendations: the products often bought with the
#: cart's and their images, the recently viewed products and their images.
BUDGET = CART_BUDGET + 4


def names_in(html: str, title_id: str) -> list[str]:
    start = html.find(f'<h2 id="{title_id}"')
    if start < 0:
        return []
    return re.findall(
        r'class="product-card__name">([^<]+)</h3>', html[start : html.find("</section>", start)]
    )


@pytest.mark.django_db
@pytest.mark.parametrize("lines", [1, 6])
def test_cart_shows_products_often_bought_with_it_in_a_fixed_budget(
    client, lines, django_assert_max_num_queries
):
    category = CategoryFactory(name="Tea")
    in_cart = [ProductFactory(name=f"Tea {n}", category=category) for n in range(lines)]
    cup, pot, sold_out = (
        ProductFactory(name=name, category=CategoryFactory(name=f"{name}s"), variants__stock=s)
        for name, s in (("Cup", 5), ("Pot", 5), ("Kettle", 0))
    )
    services.replace_recommendations(
        bought_together=[
            (in_cart[0].pk, sold_out.pk, 9.0),
            (in_cart[0].pk, pot.pk, 2.0),
            *((p.pk, cup.pk, 1.0) for p in in_cart),
        ]
    )
    for product in in_cart:
        add(client, product.variants.get())
    client.cookies[recently_viewed.COOKIE] = get_cookie_signer(
        salt=recently_viewed.COOKIE + recently_viewed.SALT
    ).sign(f"{pot.pk}.{in_cart[0].pk}")
    with django_assert_max_num_queries(BUDGET):
        html = client.get(reverse("cart:detail")).content.decode()
    often = names_in(html, "often-bought-title")
    # Cup is bought with every line; Pot with one, in more orders; never the sold-out Kettle.
    assert often[:2] == (["Cup", "Pot"] if lines > 1 else ["Pot", "Cup"])
    assert "Kettle" not in often and not set(often) & {p.name for p in in_cart}
    assert names_in(html, "recently-viewed-title") == ["Pot"]


@pytest.mark.django_db
def test_an_empty_cart_shows_recently_viewed_only(client):
    tea = ProductFactory(name="Green Tea")
    client.get(tea.get_absolute_url())
    html = client.get(reverse("cart:detail")).content.decode()
    assert names_in(html, "often-bought-title") == []
    assert names_in(html, "recently-viewed-title") == ["Green Tea"]


@pytest.mark.django_db
def test_often_bought_is_asked_once_per_set_of_products_and_follows_the_catalog(
    client, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    tea, cup, pot = (ProductFactory(name=name) for name in ("Tea", "Cup", "Pot"))
    with django_capture_on_commit_callbacks(execute=True):
        services.replace_recommendations(bought_together=[(tea.pk, cup.pk, 1.0)])
    add(client, tea.variants.get())
    assert names_in(client.get(reverse("cart:detail")).content.decode(), "often-bought-title") == [
        "Cup"
    ]
    # Shared by every cart holding the same products: the cart's own queries only.
    with django_assert_max_num_queries(CART_BUDGET):
        html = client.get(reverse("cart:detail")).content.decode()
    assert names_in(html, "often-bought-title") == ["Cup"]
    with django_capture_on_commit_callbacks(execute=True):
        services.replace_recommendations(bought_together=[(tea.pk, pot.pk, 1.0)])
    html = client.get(reverse("cart:detail")).content.decode()
    assert names_in(html, "often-bought-title") == ["Pot"]


def often_bought_token(html: str) -> str:
    section = html[html.find('<h2 id="often-bought-title"') :]
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', section).group(1)


@pytest.mark.django_db
def test_often_bought_is_shared_html_but_each_shopper_gets_their_own_csrf_token(
    django_capture_on_commit_callbacks,
):
    """The section is kept as HTML for every cart with the same products: the second
    shopper's page is the first's section, yet its forms work only with their own token
    (a token of the first shopper's would be refused with a 403)."""
    tea, cup = (ProductFactory(name=name) for name in ("Tea", "Cup"))
    with django_capture_on_commit_callbacks(execute=True):
        services.replace_recommendations(bought_together=[(tea.pk, cup.pk, 1.0)])
    tokens = []
    for _shopper in range(2):
        shopper = Client(enforce_csrf_checks=True)
        html = shopper.get(reverse("cart:detail")).content.decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        data = {"variant": tea.variants.get().pk, "quantity": 1, "csrfmiddlewaretoken": token}
        assert shopper.post(reverse("cart:add"), data).status_code == 302
        html = shopper.get(reverse("cart:detail")).content.decode()
        assert names_in(html, "often-bought-title") == ["Cup"]
        assert cache.CSRF_PLACEHOLDER not in html
        token = often_bought_token(html)
        data = {"variant": cup.variants.get().pk, "quantity": 1, "csrfmiddlewaretoken": token}
        assert shopper.post(reverse("cart:add"), data).status_code == 302
        tokens.append(shopper.cookies["csrftoken"].value)
    assert tokens[0] != tokens[1]
