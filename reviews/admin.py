"""The merchant's moderation queue: pending reviews first, bulk approve/reject, replies.

Every change goes through reviews.services, so the products' stored ratings and the cached
pages follow what the merchant does here.
"""

from django.contrib import admin, messages
from django.db.models import Case, IntegerField, Value, When
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from reviews import services
from reviews.models import Review, ReviewStatus

#: Pending first (the queue), then rejected and approved, newest first within each.
PENDING_FIRST = Case(
    When(status=ReviewStatus.PENDING, then=Value(0)),
    default=Value(1),
    output_field=IntegerField(),
)


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ("__str__", "product", "user", "rating", "status", "created_at", "replied_at")
    list_filter = ("status", "rating")
    search_fields = ("title", "body", "product__name", "user__email")
    ordering = (PENDING_FIRST.asc(), "-created_at", "-pk")
    list_select_related = ("product", "user")
    raw_id_fields = ("product", "user")
    show_full_result_count = False
    actions = ("approve", "reject")
    fields = (
        "product",
        "user",
        "rating",
        "title",
        "body",
        "status",
        "helpful_count",
        "created_at",
        "merchant_reply",
        "replied_at",
    )
    readonly_fields = (
        "product",
        "user",
        "rating",
        "title",
        "body",
        "status",
        "helpful_count",
        "created_at",
        "replied_at",
    )

    def has_add_permission(self, request):
        return False  # reviews are written by shoppers who received the product

    def has_change_permission(self, request, obj=None):
        # The reply is the one field edited here: "reply to reviews" is enough to answer.
        return super().has_change_permission(request, obj) or request.user.has_perm(
            "reviews.reply_review"
        )

    def has_moderate_permission(self, request):
        """Approving and rejecting is moderation: "change review", not "reply"."""
        return super().has_change_permission(request)

    @admin.action(description=_("Approve selected reviews"), permissions=["moderate"])
    def approve(self, request, queryset):
        changed = services.approve_reviews(review_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            ngettext("%(n)d review approved.", "%(n)d reviews approved.", changed) % {"n": changed},
            messages.SUCCESS,
        )

    @admin.action(description=_("Reject selected reviews"), permissions=["moderate"])
    def reject(self, request, queryset):
        changed = services.reject_reviews(review_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            ngettext("%(n)d review rejected.", "%(n)d reviews rejected.", changed) % {"n": changed},
            messages.SUCCESS,
        )

    def save_model(self, request, obj, form, change):
        # Only the reply is editable here; it goes through the service (dated, pages refreshed).
        if "merchant_reply" in form.changed_data:
            services.reply_to_review(review=obj, reply=obj.merchant_reply)
