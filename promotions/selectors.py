"""Reads of promotions that pricing, pages and the admin share. Each is a fixed number of
queries, whatever the number of lines or promotions."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Lower

from catalog import cache as catalog_cache
from catalog import selectors as catalog_selectors
from promotions.calculator import Scope
from promotions.models import (
    Coupon,
    CouponRedemption,
    CustomerSpend,
    FlashSale,
    MembershipTier,
    Offer,
    PointsEntry,
    PromotionUse,
    SpendTier,
)
from promotions.points import Movement
from promotions.pricing import ZERO
from shop.held import held_per_version


def _scopes(model, owner_ids: list[int]) -> dict[int, Scope]:
    """The categories and products of each promotion: two queries on the link tables, ids
    only (never whole product rows)."""
    if not owner_ids:
        return {}
    owner = model._meta.model_name  # "offer" / "coupon": the link tables' column
    products: dict[int, set[int]] = defaultdict(set)
    categories: dict[int, set[int]] = defaultdict(set)
    links = model.products.through.objects.filter(**{f"{owner}_id__in": owner_ids})
    for owner_id, product_id in links.values_list(f"{owner}_id", "product_id"):
        products[owner_id].add(product_id)
    links = model.categories.through.objects.filter(**{f"{owner}_id__in": owner_ids})
    for owner_id, category_id in links.values_list(f"{owner}_id", "category_id"):
        categories[owner_id].add(category_id)
    return {
        pk: Scope(product_ids=frozenset(products[pk]), category_ids=frozenset(categories[pk]))
        for pk in owner_ids
    }


@dataclass(frozen=True)
class RunningOffer:
    offer: Offer
    scope: Scope
    #: (threshold, amount), lowest threshold first; empty for a sale.
    tiers: tuple[tuple[Decimal, Decimal], ...]

    def runs_at(self, now: datetime) -> bool:
        """As Offer.objects.running(): active, from `valid_from` (included) to `valid_until`
        (excluded), either end open when empty."""
        offer = self.offer
        return (
            offer.is_active
            and (offer.valid_from is None or offer.valid_from <= now)
            and (offer.valid_until is None or offer.valid_until > now)
        )


def running_offers(
    *, now: datetime, kind: str | None = None, version: int | None = None
) -> list[RunningOffer]:
    """Offers running at `now`, from the offers' schedule (no query while it is held);
    `version` the offers' version when the caller has just read it."""
    return [
        running
        for running in offer_schedule(version=version)
        if running.runs_at(now) and (kind is None or running.offer.kind == kind)
    ]


#: The version scope (catalog.cache's versions) every offer, tier and offer scope moves.
OFFERS_SCOPE = "promotions:offers"
#: A safety net behind the version: the cache's copy of the schedule expires after this
#: (seconds); a process holds its own while the version stands.
SCHEDULE_TIMEOUT = 15 * 60


def offers_version() -> int:
    return catalog_cache.versions([OFFERS_SCOPE])[OFFERS_SCOPE]


def offer_schedule(*, version: int | None = None) -> list[RunningOffer]:
    """Every active offer, with its scope and tiers, for the offers' current
    version: kept in this process and in the cache, built in at most 4 queries when the
    version moves (promotions.receivers moves it on every change of an offer, its tiers or
    its categories and products). Which of them run is decided at each call from their
    windows, so an offer starts and ends on time without any change to the schedule."""
    return held_per_version(
        "promotions:offer-schedule",
        version or offers_version(),
        _build_schedule,
        timeout=SCHEDULE_TIMEOUT,
    )


def _build_schedule() -> list[RunningOffer]:
    # Every active offer, ended ones too: prices are also worked out for other moments
    # than now (an order's, a test's), and the window is judged at each call.
    offers = list(Offer.objects.filter(is_active=True).order_by("pk"))
    if not offers:
        return []
    ids = [offer.pk for offer in offers]
    scopes = _scopes(Offer, ids)
    tiers: dict[int, list] = defaultdict(list)
    if any(offer.kind == Offer.Kind.SPEND for offer in offers):
        rows = SpendTier.objects.filter(offer_id__in=ids).order_by("threshold")
        for offer_id, threshold, amount in rows.values_list("offer_id", "threshold", "amount"):
            tiers[offer_id].append((threshold, amount))
    return [
        RunningOffer(offer=offer, scope=scopes[offer.pk], tiers=tuple(tiers[offer.pk]))
        for offer in offers
    ]


def offers_changed() -> None:
    """An offer, its tiers or its scope changed: a new schedule for every process when the
    write commits (catalog.cache.bump: never for a write that rolls back, and a schedule read
    from the old rows before the commit is left behind)."""
    catalog_cache.bump([OFFERS_SCOPE])


def coupon_with_scope(*, code: str) -> tuple[Coupon, Scope] | None:
    """The coupon for a code typed in any case: 1 query, plus 2 for its categories and
    products when it exists."""
    code = code.strip()
    if not code:
        return None
    coupon = Coupon.objects.filter(code__iexact=code).order_by("pk").first()
    if coupon is None:
        return None
    return coupon, _scopes(Coupon, [coupon.pk])[coupon.pk]


def customer_emails(*, user, email: str) -> set[str]:
    """The addresses that name this customer, lower-cased: the one given for the order and,
    signed in, the account's."""
    emails = {email.strip().lower()} if email and email.strip() else set()
    if _signed_in(user) and user.email:
        emails.add(user.email.strip().lower())
    return emails


def _signed_in(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False)


def customer_uses(*, coupon: Coupon, user, email: str) -> int:
    """Live (not released) redemptions of `coupon` by this customer: 1 query, or none.

    One customer is the signed-in user and every address that names them, in any case: the
    redemptions of the user, those made with their addresses (as a guest, or signed in with
    that order email), and those of the account an address belongs to. So a once-per-
    customer coupon used as a guest cannot be used again signed in, nor the other way round.
    """
    emails = customer_emails(user=user, email=email)
    who = Q(user=user) if _signed_in(user) else Q()
    if emails:
        who |= Q(email_lower__in=emails) | Q(user_email_lower__in=emails)
    if not who:
        return 0
    return (
        CouponRedemption.objects.alias(
            email_lower=Lower("email"), user_email_lower=Lower("user__email")
        )
        .filter(who, coupon=coupon, released_at__isnull=True)
        .count()
    )


@dataclass(frozen=True)
class Membership:
    spend: Decimal
    tier: MembershipTier | None
    next_tier: MembershipTier | None

    @property
    def to_next(self) -> Decimal | None:
        """What is left to spend to reach the next tier."""
        return None if self.next_tier is None else self.next_tier.min_spend - self.spend


def membership(*, user) -> Membership | None:
    """A customer's tier, spend and next tier in 1 query (the tiers, each carrying the
    customer's spend); None for a guest or when the shop has no tiers."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    spend = CustomerSpend.objects.filter(user=user).values("paid_total")[:1]
    tiers = list(MembershipTier.objects.annotate(spend=Subquery(spend)).order_by("min_spend"))
    if not tiers:
        return None
    paid = tiers[0].spend if tiers[0].spend is not None else ZERO
    reached = [tier for tier in tiers if tier.min_spend <= paid]
    ahead = [tier for tier in tiers if tier.min_spend > paid]
    return Membership(
        spend=paid, tier=reached[-1] if reached else None, next_tier=ahead[0] if ahead else None
    )


def offers_with_usage():
    return Offer.objects.annotate(use_count=Count("uses", filter=Q(uses__released_at__isnull=True)))


def tiers_with_usage():
    return MembershipTier.objects.annotate(
        use_count=Count("uses", filter=Q(uses__released_at__isnull=True))
    )


def promotion_uses(*, offer=None, tier=None):
    filters = {"offer": offer} if offer is not None else {"tier": tier}
    return PromotionUse.objects.filter(**filters).order_by("-used_at", "-pk")


# --- Points -----------------------------------------------------------------------------


def points_balance(*, user) -> int:
    """The customer's points: the sum of their ledger (1 query; 0 for a guest)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return 0
    return PointsEntry.objects.filter(user=user).aggregate(total=Sum("amount"))["total"] or 0


def points_movements(*, user) -> list[Movement]:
    """The customer's ledger, oldest first, as promotions.points reads it (1 query)."""
    rows = PointsEntry.objects.filter(user=user).order_by("created_at", "pk")
    return [
        Movement(amount=amount, expires_at=expires_at)
        for amount, expires_at in rows.values_list("amount", "expires_at")
    ]


def points_history(*, user) -> QuerySet[PointsEntry]:
    """The customer's entries, newest first, for their points page."""
    return PointsEntry.objects.filter(user=user).order_by("-created_at", "-pk")


def order_points(*, order_number: str) -> dict[str, int]:
    """Points an order moved, by reason (1 query)."""
    rows = (
        PointsEntry.objects.filter(order_number=order_number)
        .values("reason")
        .annotate(total=Sum("amount"))
    )
    return {row["reason"]: row["total"] for row in rows}


def points_balances(*, user_ids) -> dict[int, int]:
    """Balances of many customers at once (1 query), for the admin's lists."""
    rows = (
        PointsEntry.objects.filter(user_id__in=list(user_ids))
        .values("user_id")
        .annotate(total=Sum("amount"))
    )
    return {row["user_id"]: row["total"] for row in rows}


def flash_sales_for_page(*, now: datetime) -> list[FlashSale]:
    """Flash sales running or to come, soonest first, with their product and its first
    picture: 1 query. `taken` is read fresh (the page is not cached)."""
    return list(
        catalog_selectors.with_first_image(
            FlashSale.objects.not_over(now)
            .filter(variant__product__is_published=True, variant__product__category__is_active=True)
            .select_related("variant", "variant__product"),
            product="variant__product",
        ).order_by("starts_at", "pk")
    )
