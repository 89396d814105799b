from django.contrib import admin

from cart.models import Cart, CartLine


class CartLineInline(admin.TabularInline):
    model = CartLine
    raw_id_fields = ("variant",)
    readonly_fields = ("variant", "quantity", "is_selected", "seen_price", "added_at")
    extra = 0
    can_delete = False


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    """Carts are the shoppers' own: the merchant may look (to help a shopper), not edit."""

    list_display = ("__str__", "user", "coupon_code", "updated_at")
    list_select_related = ("user",)
    search_fields = ("user__email", "coupon_code")
    raw_id_fields = ("user",)
    readonly_fields = ("user", "coupon_code", "created_at", "updated_at")
    inlines = [CartLineInline]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False
