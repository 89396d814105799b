"""The reviews page of a product (per visitor, never cached) and the forms that write.

The product page itself is cached for everybody (catalog.cache): it shows only what is the
same for every visitor (reviews/templatetags) and links here for anything personal.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from reviews import selectors, services
from reviews.forms import SORT_LABELS, ReviewForm, ReviewListForm

#: Reviews per page: a screenful of text on a phone, and a bounded query.
PAGE_SIZE = 10


def _reviews_url(product) -> str:
    return reverse("reviews:list", kwargs={"slug": product.slug})


def product_reviews(request, slug):
    product = selectors.reviewable_product(slug=slug)
    return _render_reviews_page(request, product=product, form=None)


def _render_reviews_page(request, *, product, form, status=200):
    list_form = ReviewListForm(request.GET)
    sort = list_form.chosen_sort()
    paginator = Paginator(selectors.approved_reviews(product=product, sort=sort), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    reviews = list(page.object_list)
    own = selectors.own_review(user=request.user, product=product)
    eligibility = (
        selectors.review_eligibility(user=request.user, product=product) if own is None else None
    )
    if form is None and eligibility and eligibility.can_review:
        form = ReviewForm()
    context = {
        "product": product,
        "breadcrumbs": [product],
        "page": page,
        "reviews": reviews,
        "histogram": selectors.rating_histogram(product=product),
        "sort": sort,
        "sort_labels": SORT_LABELS,
        "own_review": own,
        "eligibility": eligibility,
        "form": form,
        "voted": selectors.voted_review_ids(
            user=request.user, review_ids=[review.pk for review in reviews]
        ),
        "page_range": paginator.get_elided_page_range(page.number, on_each_side=2),
    }
    return render(request, "reviews/product_reviews.html", context, status=status)


@login_required
@require_POST
def write(request, slug):
    product = selectors.reviewable_product(slug=slug)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return _render_reviews_page(request, product=product, form=form, status=400)
    try:
        review = services.write_review(user=request.user, product=product, **form.cleaned_data)
    except services.ReviewNotAllowed as exc:
        messages.error(request, exc.message)
        return redirect(_reviews_url(product))
    messages.success(request, _published_message(review))
    return redirect(_reviews_url(product))


@login_required
def edit(request, pk):
    review = selectors.get_review_for_user(pk=pk, user=request.user)
    if request.method == "POST":
        form = ReviewForm(request.POST)
        if form.is_valid():
            services.edit_review(review=review, **form.cleaned_data)
            messages.success(request, _published_message(review))
            return redirect(_reviews_url(review.product))
    else:
        form = ReviewForm(
            initial={"rating": review.rating, "title": review.title, "body": review.body}
        )
    status = 400 if form.is_bound else 200
    return render(request, "reviews/edit.html", {"review": review, "form": form}, status=status)


@login_required
def delete(request, pk):
    review = selectors.get_review_for_user(pk=pk, user=request.user)
    if request.method == "POST":
        services.delete_review(review=review)
        messages.success(request, _("Your review was deleted."))
        return redirect(_reviews_url(review.product))
    return render(request, "reviews/delete.html", {"review": review})


@require_POST
def helpful(request, pk):
    review = selectors.get_approved_review(pk=pk)
    back = _reviews_url(review.product)
    if not request.user.is_authenticated:
        # After signing in the shopper lands on the reviews page, not on this POST-only URL.
        return redirect_to_login(back)
    try:
        counted = services.vote_helpful(review=review, user=request.user)
    except services.VoteNotAllowed as exc:
        messages.error(request, exc.message)
    else:
        if counted:
            messages.success(request, _("Thank you: your vote was counted."))
        else:
            messages.info(request, _("You already found this review helpful."))
    # Back to where the shopper was: only our own sort and page go into the address.
    params = {}
    if request.POST.get("sort") in SORT_LABELS:
        params["sort"] = request.POST["sort"]
    if request.POST.get("page", "").isdigit():
        params["page"] = request.POST["page"]
    query = f"?{urlencode(params)}" if params else ""
    return redirect(f"{back}{query}#review-{review.pk}")


def _published_message(review) -> str:
    if review.status == review.Status.APPROVED:
        return _("Thank you: your review is published.")
    return _("Thank you: your review will appear once we have checked it.")
