from django.urls import path

from reviews import views

app_name = "reviews"

urlpatterns = [
    path("p/<slug:slug>/reviews/", views.product_reviews, name="list"),
    path("p/<slug:slug>/reviews/write/", views.write, name="write"),
    path("reviews/<int:pk>/edit/", views.edit, name="edit"),
    path("reviews/<int:pk>/delete/", views.delete, name="delete"),
    path("reviews/<int:pk>/helpful/", views.helpful, name="helpful"),
]
