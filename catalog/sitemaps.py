from django.contrib.sitemaps import Sitemap

from catalog.models import Category, Product


class _InEveryLanguage(Sitemap):
    """Each page once per language (/p/x/ and /zh-hans/p/x/), each entry naming the others
    as alternates, English as the default.

    Django pairs every item with every language in memory before cutting the page, so each
    file reads every published product's slug and date, not only its own: fine for
    crawlers, who read sitemaps rarely."""

    i18n = True
    alternates = True
    x_default = True


class ProductSitemap(_InEveryLanguage):
    changefreq = "daily"
    priority = 0.8
    #: Sitemaps allow 50,000 URLs a file; 10,000 (5,000 products in two languages) keeps
    #: each file small and quick to render.
    limit = 10_000

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
