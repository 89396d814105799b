"""Group buys (拼团): a product at a group price when enough shoppers pay before a deadline.

An offer names the product (and, if chosen, some of its variants), the group price, the
size of a group and how long a group stays open. A shopper starts a group or joins an open
one; each member holds a seat from joining until they pay (or their seat lapses), so a group
never has more members than its size. When the last seat is paid the group is complete and
every member's order ships; at the deadline without that, every paid member is refunded.
"""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 12, "decimal_places": 2}


class GroupOfferQuerySet(models.QuerySet):
    def running(self, *, now=None):
        now = now or timezone.now()
        return self.filter(is_active=True, starts_at__lte=now, ends_at__gt=now)


class GroupOffer(models.Model):
    product = models.ForeignKey(
        "catalog.Product",
        verbose_name=_("product"),
        related_name="+",
        on_delete=models.CASCADE,
    )
    #: The variants sold at the group price; none chosen: every variant of the product.
    variants = models.ManyToManyField(
        "catalog.Variant", verbose_name=_("variants"), related_name="+", blank=True
    )
    group_price = models.DecimalField(_("group price"), **MONEY)
    #: How many paying shoppers complete a group (the starter included).
    group_size = models.PositiveSmallIntegerField(_("group size"), default=2)
    #: How long a group stays open to joiners after it is started.
    hours = models.PositiveSmallIntegerField(_("hours to fill a group"), default=24)
    starts_at = models.DateTimeField(_("groups may start from"), default=timezone.now)
    ends_at = models.DateTimeField(_("groups may start until"))
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = GroupOfferQuerySet.as_manager()

    class Meta:
        verbose_name = _("group offer")
        verbose_name_plural = _("group offers")
        ordering = ["-starts_at", "pk"]
        constraints = [
            # 2: a group of one is a discount; 100: a group a shop's crowd can still fill.
            models.CheckConstraint(
                condition=Q(group_size__gte=2, group_size__lte=100),
                name="group_offer_size_2_to_100",
            ),
            # At most a week: longer, and shoppers forget they paid.
            models.CheckConstraint(
                condition=Q(hours__gte=1, hours__lte=168), name="group_offer_hours_1_to_168"
            ),
            models.CheckConstraint(
                condition=Q(group_price__gt=0), name="group_offer_price_positive"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="group_offer_ends_after_start"
            ),
        ]

    def __str__(self):
        return f"{self.product} · {self.group_size} × {self.group_price}"

    def clean(self):
        errors = {}
        if self.group_size is not None and not 2 <= self.group_size <= 100:
            errors["group_size"] = _("A group has between 2 and 100 shoppers.")
        if self.hours is not None and not 1 <= self.hours <= 168:
            errors["hours"] = _("A group stays open between 1 and 168 hours (a week).")
        if self.group_price is not None and self.group_price <= 0:
            errors["group_price"] = _("The group price must be more than zero.")
        elif self.group_price is not None and self.product_id:
            prices = self.product.variants.values_list("price", flat=True)
            if prices and self.group_price >= min(prices):
                errors["group_price"] = _(
                    "The group price must be lower than the product's lowest price (%(price)s)."
                ) % {"price": min(prices)}
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = _("The offer must end after it starts.")
        if errors:
            raise ValidationError(errors)

    def covers(self, variant) -> bool:
        """Whether `variant` is sold at the group price (variants prefetched or not)."""
        if variant.product_id != self.product_id:
            return False
        chosen = [v.pk for v in self.variants.all()]
        return not chosen or variant.pk in chosen


class GroupState(models.TextChoices):
    OPEN = "open", _("Open")
    COMPLETE = "complete", _("Complete")
    FAILED = "failed", _("Failed")


def new_code() -> str:
    """The group's link: 12 random characters, so a group is found only through its link."""
    return secrets.token_urlsafe(9)


class Group(models.Model):
    offer = models.ForeignKey(
        GroupOffer, verbose_name=_("offer"), related_name="groups", on_delete=models.PROTECT
    )
    code = models.CharField(_("link code"), max_length=16, unique=True, default=new_code)
    leader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        related_name="+",
        on_delete=models.SET_NULL,
        null=True,
    )
    state = models.CharField(
        _("state"), max_length=10, choices=GroupState.choices, default=GroupState.OPEN
    )
    deadline = models.DateTimeField(_("deadline"), db_index=True)
    created_at = models.DateTimeField(_("started"), auto_now_add=True)
    #: When the group completed or failed.
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("group")
        verbose_name_plural = _("groups")
        ordering = ["-created_at", "pk"]
        indexes = [models.Index(fields=["state", "deadline"], name="group_state_deadline")]

    def __str__(self):
        return f"{_('Group')} {self.code}"

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("groupbuys:group", kwargs={"code": self.code})


class MemberState(models.TextChoices):
    #: Joined, holds a seat until `reserved_until` while they pay.
    RESERVED = "reserved", _("Joined, not paid")
    PAID = "paid", _("Paid")
    #: Did not pay in time (or the group ended first): the seat went back.
    RELEASED = "released", _("Released")
    #: Paid, and given the money back (the group failed, or filled before the payment).
    REFUNDED = "refunded", _("Refunded")


class Membership(models.Model):
    group = models.ForeignKey(
        Group, verbose_name=_("group"), related_name="memberships", on_delete=models.CASCADE
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shopper"),
        related_name="+",
        on_delete=models.CASCADE,
    )
    variant = models.ForeignKey(
        "catalog.Variant", verbose_name=_("variant"), related_name="+", on_delete=models.PROTECT
    )
    state = models.CharField(
        _("state"), max_length=10, choices=MemberState.choices, default=MemberState.RESERVED
    )
    #: A member who has not paid by then loses the seat to the next joiner.
    reserved_until = models.DateTimeField(_("seat held until"))
    #: The order that paid for the seat (set when its payment arrives).
    order = models.ForeignKey(
        "orders.Order",
        verbose_name=_("order"),
        related_name="+",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    joined_at = models.DateTimeField(_("joined"), auto_now_add=True)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    refunded_at = models.DateTimeField(_("refunded"), null=True, blank=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["joined_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="group_member_once"),
        ]

    def __str__(self):
        return f"{self.user} · {self.get_state_display()}"


def holds_seat(*, now) -> Q:
    """Members who count against the group's size at `now`: paid, or joined and still
    within their time to pay."""
    return Q(state=MemberState.PAID) | Q(state=MemberState.RESERVED, reserved_until__gt=now)
