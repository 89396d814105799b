"""A shopper whose order was delivered writes a review; after the merchant approves it, the
product page (cached for everybody) shows it, escaped, with the new average."""

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import PASSWORD, UserFactory
from catalog.tests.factories import ProductFactory
from e2e.conftest import DESKTOP, PHONE, assert_accessible
from reviews import services
from reviews.models import Review
from reviews.tests.factories import ReviewFactory, order_holding


@pytest.fixture
def kettle(transactional_db):
    product = ProductFactory(name="Copper Kettle", description="Boils a litre in two minutes.")
    for rating, title in ((5, "Fast and quiet"), (4, "Handsome"), (2, "Lid is stiff")):
        review = ReviewFactory(product=product, rating=rating, title=title)
    services.reply_to_review(review=review, reply="Thank you: a new lid is on its way to you.")
    services.refresh_ratings(product_ids=[product.pk])
    return product


def both_sizes(page, screenshot, name):
    page.set_viewport_size(DESKTOP)
    screenshot(f"{name}-desktop")
    page.set_viewport_size(PHONE)
    screenshot(f"{name}-phone")
    page.set_viewport_size(DESKTOP)


def test_shopper_reviews_a_delivered_product_and_sees_it_after_approval(
    live_server, page, screenshot, kettle
):
    user = UserFactory(email="ada@example.com", full_name="Ada Lovelace")
    order_holding(kettle, user=user)
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email or phone number").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.goto(live_server.url + kettle.get_absolute_url())
    expect(page.get_by_role("heading", name="Customer reviews")).to_be_visible()
    page.get_by_role("link", name="Write a review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reviews of Copper Kettle")
    page.get_by_label("4 stars: good").check()
    page.get_by_label("Title").fill("<b>Solid</b> kettle")
    page.get_by_label("Your review").fill("<script>alert('x')</script> Heats **fast**.")
    page.get_by_role("button", name="Send review").click()
    expect(
        page.get_by_role("status").filter(has_text="will appear once we have checked it")
    ).to_be_visible()
    expect(page.get_by_text("Status: Awaiting approval")).to_be_visible()
    assert_accessible(page)
    both_sizes(page, screenshot, "reviews-page")

    # Not shown until the merchant approves it.
    page.goto(live_server.url + kettle.get_absolute_url())
    expect(page.get_by_text("<b>Solid</b> kettle")).to_have_count(0)
    services.approve_reviews(review_ids=list(Review.objects.values_list("pk", flat=True)))

    page.reload()
    reviews = page.locator("#reviews")
    expect(reviews.get_by_role("heading", name="<b>Solid</b> kettle")).to_be_visible()
    expect(reviews.get_by_text("<script>alert('x')</script> Heats **fast**.")).to_be_visible()
    expect(reviews).to_contain_text("3.8 out of 5")
    expect(reviews).to_contain_text("4 reviews")
    assert_accessible(page)
    both_sizes(page, screenshot, "reviews-product-page")


def test_reviews_page_sorts_and_votes_without_javascript(live_server, browser, kettle):
    UserFactory(email="grace@example.com")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(live_server.url + f"/p/{kettle.slug}/reviews/")
    expect(page.get_by_text("Sign in to write a review.")).to_be_visible()
    page.get_by_label("Sort by").select_option("lowest")
    page.get_by_role("button", name="Sort", exact=True).click()
    expect(page.locator(".review__title").first).to_have_text("Lid is stiff")

    page.get_by_role("button", name="Helpful").first.click()  # anonymous: sign in first
    page.get_by_label("Email or phone number").fill("grace@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reviews of Copper Kettle")
    page.get_by_role("button", name="Helpful").first.click()
    expect(page.get_by_role("status").filter(has_text="your vote was counted")).to_be_visible()
    expect(page.get_by_text("1 shopper found this helpful")).to_be_visible()
    expect(page.get_by_text("You found this helpful.")).to_be_visible()
    context.close()  # (axe needs JavaScript: the first test checks this page's accessibility)
