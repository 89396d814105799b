"""Structured data for search engines (schema.org JSON-LD)."""

import json

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder


def product_structured_data(*, product, variants, images) -> str:
    """schema.org Product with an offer per variant, safe to print inside <script>. URLs at
    SHOP_URL, never the request's Host: the page is cached for every visitor."""
    base = settings.SHOP_URL.rstrip("/")
    url = base + product.get_absolute_url()
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": product.name,
        "description": product.description[:5000],
        "url": url,
        "image": [base + image.large.url for image in images],
        "offers": [
            {
                "@type": "Offer",
                "sku": variant.sku,
                "price": f"{variant.price:.2f}",
                "priceCurrency": settings.SHOP_CURRENCY,
                "availability": "https://schema.org/InStock"
                if variant.stock > 0
                else "https://schema.org/OutOfStock",
                "url": f"{url}?variant={variant.pk}",
            }
            for variant in variants
        ],
    }
    if product.brand:
        data["brand"] = {"@type": "Brand", "name": product.brand.name}
    if len(variants) == 1:
        data["sku"] = variants[0].sku
    if product.rating_count:
        data["aggregateRating"] = {
            "@type": "AggregateRating",
            "ratingValue": f"{product.rating_average:.1f}",
            "reviewCount": product.rating_count,
        }
    text = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False)
    # "</script>" or "<!--" inside a product name must not end the script element.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
