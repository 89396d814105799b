from django.contrib.sitemaps import Sitemap

from catalog.models import Category, Product


class ProductSitemap(Sitemap):
    changefreq = "daily"
    priority = 0.8
    #: Sitemaps allow 50,000 URLs a file; 10,000 keeps each file small and quick to render.
    limit = 10_000

    def items(self):
        return Product.objects.published().order_by("pk").only("slug", "updated_at")

    def lastmod(self, product):
        return product.updated_at


class CategorySitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.6

    def items(self):
        return Category.objects.active().order_by("pk").only("slug")


SITEMAPS = {"products": ProductSitemap, "categories": CategorySitemap}
