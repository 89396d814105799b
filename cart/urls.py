from django.urls import path

from cart import views

app_name = "cart"

urlpatterns = [
    path("cart/", views.detail, name="detail"),
    path("cart/add/", views.add, name="add"),
    path("cart/update/", views.update, name="update"),
    path("cart/lines/<int:line_id>/remove/", views.remove, name="remove"),
    path("cart/empty/", views.empty, name="empty"),
    path("cart/coupon/", views.coupon, name="coupon"),
    path("cart/coupon/remove/", views.remove_coupon, name="remove-coupon"),
    path("flash/<int:sale_id>/buy/", views.buy_flash, name="flash-buy"),
]
