from django.contrib.sitemaps import Sitemap

from catalog.models import Category, Product


class _InEveryLanguage(Sitemap):
    """Each page once per language (/p/x/ and /zh-hans/p/x/), each entry naming the others
    as alternates, English as the default."""

    i18n = True
    alternates = True
    x_default = True


class ProductSitemap(_InEveryLanguage):
    changefreq = "daily"
    priority = 0.8
    #: Sitemaps allow 50,000 URLs a file; 5,000 products (10,000 URLs, one per language)
    #: keep each file small and quick to render.
    limit = 5_000

    def items(self):
        return Product.objects.published().order_by("pk").only("slug", "updated_at")

    def lastmod(self, product):
        return product.updated_at


class CategorySitemap(_InEveryLanguage):
    changefreq = "weekly"
    priority = 0.6

    def items(self):
        return Category.objects.active().order_by("pk").only("slug")


SITEMAPS = {"products": ProductSitemap, "categories": CategorySitemap}
