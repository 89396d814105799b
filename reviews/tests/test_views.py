import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from catalog.tests.factories import ProductFactory
from orders.models import FulfilmentStatus
from reviews import services
from reviews.models import HelpfulVote, Review, ReviewStatus
from reviews.tests.factories import ReviewFactory, order_holding

pytestmark = pytest.mark.django_db

#: Product page on a cold cache: catalog's 13 (catalog/tests/test_views.py PRODUCT_BUDGET,
#: less the query for a product the recommendations do not know; the group offer and the flash
#: sales' schedule included) plus the histogram (one GROUP BY) and the first page of reviews
#: with their authors (and whether each bought the product, in the same query).
PRODUCT_PAGE_BUDGET = 13 + 2
#: Reviews page for a signed-in shopper: session, user, product, their review, eligibility
#: (their review, their orders of it), histogram, count, one page of reviews with authors,
#: their votes on that page.
REVIEWS_PAGE_BUDGET = 11


@pytest.fixture
def product():
    return ProductFactory(name="Kettle")


def approved(product, n, **kwargs):
    reviews = ReviewFactory.create_batch(n, product=product, **kwargs)
    services.refresh_ratings(product_ids=[product.pk])
    return reviews


def list_url(product, **params):
    url = reverse("reviews:list", kwargs={"slug": product.slug})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


@pytest.mark.parametrize("n", [1, 100])
def test_product_page_costs_the_same_for_1_and_100_reviews(
    client, product, n, django_assert_max_num_queries
):
    approved(product, n)
    with django_assert_max_num_queries(PRODUCT_PAGE_BUDGET):
        response = client.get(product.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="review"') == min(n, 5)
    assert "4.0 out of 5" in html
    with django_assert_max_num_queries(3):  # from the cache: the product's id and the holes
        client.get(product.get_absolute_url())


@pytest.mark.parametrize("n", [1, 100])
def test_reviews_page_costs_the_same_for_1_and_100_reviews(
    client, product, n, django_assert_max_num_queries
):
    reviews = approved(product, n)
    user = UserFactory()
    HelpfulVote.objects.create(review=reviews[0], user=user)
    client.force_login(user)
    with django_assert_max_num_queries(REVIEWS_PAGE_BUDGET):
        response = client.get(list_url(product, sort="helpful"))
    assert response.status_code == 200
    assert response.content.decode().count('class="review"') == min(n, 10)


def test_product_page_shows_average_count_histogram_and_reply(client, product):
    review, *_ = approved(product, 1, rating=5, title="Lovely")
    ReviewFactory(product=product, rating=3, status=ReviewStatus.PENDING, title="Hidden")
    services.reply_to_review(review=review, reply="Glad you like it")
    html = client.get(product.get_absolute_url()).content.decode()
    assert "Lovely" in html and "Hidden" not in html
    assert "Glad you like it" in html and "Reply from" in html
    assert "5.0 out of 5" in html and "See the review" in html
    assert 'max="100" value="100"' in html and 'max="100" value="0"' in html


def test_reviews_are_escaped_never_executed(client, product):
    approved(
        product,
        1,
        title="<script>alert(1)</script>",
        body='<img src=x onerror="alert(2)"> **bold** [link](http://evil)',
    )
    for url in (product.get_absolute_url(), list_url(product)):
        html = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<img src=x" not in html and "&lt;img src=x onerror=" in html
        assert "**bold**" in html  # markdown is shown as typed, not rendered


def test_the_cached_product_page_shows_no_visitors_form_state(client, product):
    approved(product, 2)
    user = UserFactory()
    order_holding(product, user=user)

    def reviews_section():
        html = client.get(product.get_absolute_url()).content.decode()
        start = html.index('<section class="reviews"')
        return html[start : html.index("</section>", start)]

    client.force_login(user)
    as_buyer = reviews_section()
    client.logout()
    assert reviews_section() == as_buyer  # the same for everybody: nothing personal in it
    assert 'name="rating"' not in as_buyer and "Write a review" in as_buyer


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (None, "Sign in to write a review."),
        ("none", "Only shoppers who received this product can review it."),
        (FulfilmentStatus.SHIPPED, "once your order of it has been delivered"),
    ],
)
def test_reviews_page_says_why_a_visitor_cannot_review(client, product, setup, message):
    if setup is not None:
        user = UserFactory()
        if setup != "none":
            order_holding(product, user=user, fulfilment=setup)
        client.force_login(user)
    html = client.get(list_url(product)).content.decode()
    assert message in html
    assert 'name="rating"' not in html


def test_a_shopper_who_received_the_product_writes_a_review(client, product):
    user = UserFactory()
    order_holding(product, user=user)
    client.force_login(user)
    assert 'name="rating"' in client.get(list_url(product)).content.decode()
    response = client.post(
        reverse("reviews:write", kwargs={"slug": product.slug}),
        {"rating": "4", "title": "Good", "body": "Quiet."},
        follow=True,
    )
    html = response.content.decode()
    assert "will appear once we have checked it" in html
    assert "Awaiting approval" in html and "Edit your review" in html
    review = Review.objects.get()
    assert (review.user, review.rating, review.status) == (user, 4, ReviewStatus.PENDING)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"title": "No rating", "body": "kept"}, "Choose a rating from 1 to 5 stars."),
        ({"rating": "9", "title": "t", "body": "kept"}, "Select a valid choice"),
        ({"rating": "3", "title": "x" * 121, "body": "kept"}, "at most 120 characters"),
        ({"rating": "3", "body": "kept" + "y" * 4000}, "at most 4000 characters"),
    ],
)
def test_bad_input_shows_a_message_and_keeps_what_was_typed(client, product, data, message):
    user = UserFactory()
    order_holding(product, user=user)
    client.force_login(user)
    response = client.post(reverse("reviews:write", kwargs={"slug": product.slug}), data)
    html = response.content.decode()
    assert response.status_code == 400
    assert message in html and "kept" in html
    assert not Review.objects.exists()


def test_writing_without_a_delivered_order_is_refused(client, product):
    client.force_login(UserFactory())
    response = client.post(
        reverse("reviews:write", kwargs={"slug": product.slug}), {"rating": "5"}, follow=True
    )
    assert "Only shoppers who received this product" in response.content.decode()
    assert not Review.objects.exists()


def test_writing_needs_sign_in(client, product):
    response = client.post(reverse("reviews:write", kwargs={"slug": product.slug}), {"rating": 5})
    assert response.status_code == 302 and "/login" in response.url


def test_edit_sends_the_review_back_to_moderation(client, product):
    review, *_ = approved(product, 1, rating=5)
    client.force_login(review.user)
    url = reverse("reviews:edit", kwargs={"pk": review.pk})
    assert 'value="5" id="id_rating_0" required checked' in client.get(url).content.decode()
    client.post(url, {"rating": "2", "title": "Changed my mind", "body": ""})
    review.refresh_from_db()
    assert (review.rating, review.status) == (2, ReviewStatus.PENDING)
    product.refresh_from_db()
    assert product.rating_count == 0


def test_another_users_review_cannot_be_edited_or_deleted(client, product):
    review, *_ = approved(product, 1)
    client.force_login(UserFactory())
    for name in ("reviews:edit", "reviews:delete"):
        url = reverse(name, kwargs={"pk": review.pk})
        assert client.get(url).status_code == 404
        assert client.post(url, {"rating": "1"}).status_code == 404
    review.refresh_from_db()
    assert review.rating == 4


def test_delete_own_review_after_confirming(client, product):
    review, *_ = approved(product, 1)
    client.force_login(review.user)
    url = reverse("reviews:delete", kwargs={"pk": review.pk})
    assert "Delete review" in client.get(url).content.decode()
    response = client.post(url)
    assert response.status_code == 302
    assert not Review.objects.exists()
    product.refresh_from_db()
    assert product.rating_count == 0


def test_helpful_vote_once_per_user(client, product):
    review, *_ = approved(product, 1)
    client.force_login(UserFactory())
    url = reverse("reviews:helpful", kwargs={"pk": review.pk})
    first = client.post(url, {"sort": "helpful", "page": "1"})
    assert first.url.endswith(f"?sort=helpful&page=1#review-{review.pk}")
    second = client.post(url, {"sort": "<bad>", "page": "x"}, follow=True)
    html = second.content.decode()
    assert "You already found this review helpful." in html
    assert "You found this helpful." in html
    review.refresh_from_db()
    assert review.helpful_count == 1


def test_helpful_vote_on_own_review_is_refused(client, product):
    review, *_ = approved(product, 1)
    client.force_login(review.user)
    response = client.post(reverse("reviews:helpful", kwargs={"pk": review.pk}), follow=True)
    assert "You cannot vote on your own review." in response.content.decode()
    assert not HelpfulVote.objects.exists()


def test_anonymous_helpful_vote_goes_to_sign_in(client, product):
    review, *_ = approved(product, 1)
    response = client.post(reverse("reviews:helpful", kwargs={"pk": review.pk}))
    assert response.status_code == 302 and "login" in response.url
    assert "reviews" in response.url
    assert client.get(reverse("reviews:helpful", kwargs={"pk": review.pk})).status_code == 405


def test_sorting_and_paging(client, product):
    for rating in (1, 5, 3):
        ReviewFactory(product=product, rating=rating, title=f"Rated {rating}")
    services.refresh_ratings(product_ids=[product.pk])

    def order(sort):
        html = client.get(list_url(product, sort=sort)).content.decode()
        return sorted((1, 3, 5), key=lambda r: html.index(f"Rated {r}<"))

    assert order("highest") == [5, 3, 1]
    assert order("lowest") == [1, 3, 5]
    assert order("newest") == [3, 5, 1]
    assert client.get(list_url(product, sort="nonsense", page="zz")).status_code == 200


def test_unpublished_product_has_no_reviews_page(client):
    product = ProductFactory(is_published=False)
    assert client.get(list_url(product)).status_code == 404
