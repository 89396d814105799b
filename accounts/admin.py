from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import BaseUserCreationForm, UserChangeForm
from django.utils.translation import gettext_lazy as _

from accounts.models import Address, User


class UserCreationForm(BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "phone", "full_name")


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class AddressInline(admin.StackedInline):
    model = Address
    extra = 0
    fields = (
        ("full_name", "phone"),
        ("line1", "line2"),
        ("city", "region", "postcode", "country"),
        "is_default_shipping",
    )


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    list_display = ("full_name", "user", "city", "postcode", "country", "is_default_shipping")
    list_filter = ("country", "is_default_shipping")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    search_fields = ("full_name", "user__email", "user__phone", "line1", "postcode", "city")
    show_full_result_count = False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    inlines = (AddressInline,)
    form = UserEditForm
    add_form = UserCreationForm
    ordering = ("-date_joined",)
    list_display = ("email", "phone", "full_name", "is_active", "is_staff", "date_joined")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("email", "phone", "full_name")
    fieldsets = (
        (None, {"fields": ("email", "phone", "password")}),
        (_("Personal info"), {"fields": ("full_name",)}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "phone", "full_name", "password1", "password2"),
            },
        ),
    )
