"""A URLconf with a view that fails, to see the 500 page as a shopper would."""

from django.urls import path

from shop.urls import handler500, urlpatterns  # noqa: F401  (Django reads handler500 here)


def broken_view(request):
    raise RuntimeError("a bug")


urlpatterns = [*urlpatterns, path("broken/", broken_view)]
