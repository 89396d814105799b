from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.sitemaps import views as sitemap_views
from django.urls import include, path

from catalog import views as catalog_views
from catalog.sitemaps import SITEMAPS
from shop import views
from shop.resolvers import keep_matches

admin.site.site_header = settings.SHOP_NAME
admin.site.site_title = settings.SHOP_NAME

# Health checks first: asked every few seconds by machines, they should not be matched
# against every shopper page before their own (/livez is also the benchmark's bare view).
urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("livez", views.livez, name="livez"),
]

# Shopper pages, in each language: English unprefixed, Chinese under /zh-hans/. Their resolver
# remembers where each path leads (shop/resolvers.py).
urlpatterns += keep_matches(
    i18n_patterns(
        path("", catalog_views.home, name="home"),
        path("", include("catalog.urls")),
        path("", include("cart.urls")),
        path("", include("orders.urls")),
        # The providers' callbacks (/payments/webhook/<provider>/) are English, so unprefixed:
        # the URL the merchant gives a provider stays as it was.
        path("", include("payments.urls")),
        path("", include("reviews.urls")),
        path("", include("accounts.urls")),
        path("", include("promotions.urls")),
        path("", include("groupbuys.urls")),
        prefix_default_language=False,
    )
)

# One URL for every language: machines, the merchant's admin, the language switch.
urlpatterns += [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("robots.txt", views.robots_txt, name="robots-txt"),
    path("sitemap.xml", sitemap_views.index, {"sitemaps": SITEMAPS}, name="sitemap-index"),
    path(
        "sitemap-<section>.xml",
        sitemap_views.sitemap,
        {"sitemaps": SITEMAPS},
        name="django.contrib.sitemaps.views.sitemap",
    ),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler500 = "shop.views.server_error"
