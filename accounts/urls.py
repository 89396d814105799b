from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    # Signing up, in and out.
    path("accounts/register/", views.register, name="register"),
    path("accounts/register/done/", views.register_done, name="register_done"),
    path("accounts/activate/resend/", views.resend_activation, name="resend_activation"),
    path("accounts/activate/<str:token>/", views.activate, name="activate"),
    path("accounts/login/", views.SignInView.as_view(), name="login"),
    path("accounts/login/phone/", views.phone_sign_in, name="phone_sign_in"),
    path("accounts/login/phone/code/", views.phone_sign_in_verify, name="phone_sign_in_verify"),
    path("accounts/logout/", views.SignOutView.as_view(), name="logout"),
    # Passwords.
    path("accounts/password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password/reset/sent/",
        views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/complete/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("accounts/password/change/", views.password_change, name="password_change"),
    path(
        "accounts/email/confirm/<str:token>/",
        views.email_change_confirm,
        name="email_change_confirm",
    ),
    # The signed-in shopper's own pages.
    path("account/", views.profile, name="profile"),
    path("account/email/", views.email_change, name="email_change"),
    path("account/phone/", views.phone_change, name="phone_change"),
    path("account/phone/code/", views.phone_change_verify, name="phone_change_verify"),
    path("account/delete/", views.delete_account, name="delete_account"),
    path("account/addresses/", views.address_list, name="address_list"),
    path("account/addresses/add/", views.address_create, name="address_create"),
    path("account/addresses/<int:pk>/edit/", views.address_update, name="address_update"),
    path("account/addresses/<int:pk>/delete/", views.address_delete, name="address_delete"),
    path(
        "account/addresses/<int:pk>/default/",
        views.address_set_default,
        name="address_set_default",
    ),
]
