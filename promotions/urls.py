from django.urls import path

from promotions import views

app_name = "promotions"

urlpatterns = [
    path("account/points/", views.account_points, name="points"),
    path("flash/", views.flash_sales, name="flash"),
]
