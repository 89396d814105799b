from django.urls import path

from catalog import views

app_name = "catalog"

urlpatterns = [
    path("products/", views.all_products, name="products"),
    path("c/<slug:slug>/", views.category, name="category"),
    path("p/<slug:slug>/", views.product_detail, name="product"),
    path("search/", views.search, name="search"),
    path("search/suggest", views.search_suggest, name="search-suggest"),
    path("account/wishlist/", views.wishlist, name="wishlist"),
    path("account/wishlist/add/<int:product_id>/", views.wishlist_add, name="wishlist-add"),
    path(
        "account/wishlist/remove/<int:product_id>/", views.wishlist_remove, name="wishlist-remove"
    ),
]
