"""The merchant's tools for the catalog.

Every write that spans rows goes through catalog.services: saving a product refreshes its
summary columns (price, stock, search document) and the cached pages that show it; bulk
actions are single UPDATEs. Lists stay fast on a large catalog: related rows are joined, no
full count on the product list, foreign keys to big tables use autocomplete.

Stock is never written back from a form. Variant forms show the stock read-only with the
value the page loaded in a hidden field, and take an adjustment (units received or removed,
with a reason) or a counted quantity, which catalog.stock records as a movement; a form
whose stock moved since it was loaded is refused with what the merchant typed kept. Saving
a variant writes only the columns the merchant changed, so a price change never touches
the stock (or a sale price set by promotions meanwhile).
"""

from catalog.admin import products, stock, taxonomy, variants  # noqa: F401 (registers them)
from catalog.admin.stock import save_variant_form  # noqa: F401 (used by tests and imports)
from catalog.admin.variants import VariantAdminForm  # noqa: F401
