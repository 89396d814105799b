from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.facet_rows import VARIANTS_PER_CHUNK  # noqa: F401  (documented there)
from catalog.images import Thumbnail, validate_product_image

MONEY = {"max_digits": 12, "decimal_places": 2}


class CategoryQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)

    def roots(self):
        return self.filter(parent__isnull=True)


class Category(models.Model):
    """A node of the category tree.

    `path` materialises the ancestors ("/3/17/" for a category under 17 under 3), so
    breadcrumbs and "everything below" are each one indexed query.
    """

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=140, unique=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        related_name="children",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
    )
    #: Primary keys of the ancestors, root first: "/" for a root, "/3/17/" two levels down.
    path = models.CharField(max_length=255, default="/", editable=False, db_index=True)
    description = models.TextField(_("description"), blank=True)
    image = models.ImageField(
        _("image"), upload_to="categories/", blank=True, validators=[validate_product_image]
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    objects = CategoryQuerySet.as_manager()

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["position", "name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("catalog:category", kwargs={"slug": self.slug})

    @property
    def subtree_path(self) -> str:
        """The `path` prefix of every descendant."""
        return f"{self.path}{self.pk}/"

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part]

    @property
    def depth(self) -> int:
        return len(self.ancestor_ids)

    def subtree_filter(self, prefix: str = "") -> Q:
        """Matches this category and all below it; `prefix` is the lookup to a category."""
        return Q(**{f"{prefix}pk": self.pk}) | Q(**{f"{prefix}path__startswith": self.subtree_path})


class Brand(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)
    slug = models.SlugField(_("slug"), max_length=140, unique=True)

    class Meta:
        verbose_name = _("brand")
        verbose_name_plural = _("brands")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=60, unique=True)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self):
        return self.name


class OptionType(models.Model):
    """What variants of a product differ in: colour, size, capacity."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("option type")
        verbose_name_plural = _("option types")
        ordering = ["position", "name"]

    def __str__(self):
        return self.name


class OptionValue(models.Model):
    option_type = models.ForeignKey(
        OptionType, verbose_name=_("option"), related_name="values", on_delete=models.CASCADE
    )
    value = models.CharField(_("value"), max_length=60)
    slug = models.SlugField(_("slug"), max_length=80)
    position = models.PositiveIntegerField(_("position"), default=0)
    #: The colour of the value's swatch in the listing's colour filter and on product pages
    #: without a picture of it, e.g. "#1f3a60". Empty: a button with its name (sizes).
    swatch = models.CharField(
        _("swatch colour"),
        max_length=7,
        blank=True,
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("A colour such as #1f3a60."))],
        help_text=_(
            "For colours: the swatch of the listing's colour filter, and of product pages "
            "without a picture of this colour, e.g. #1f3a60. Leave empty for sizes and other "
            "options (shown as buttons)."
        ),
    )

    class Meta:
        verbose_name = _("option value")
        verbose_name_plural = _("option values")
        ordering = ["option_type__position", "position", "value"]
        constraints = [
            models.UniqueConstraint(fields=["option_type", "slug"], name="option_value_unique_slug")
        ]

    def __str__(self):
        return f"{self.option_type.name}: {self.value}"


class ProductQuerySet(models.QuerySet):
    def published(self):
        return self.filter(is_published=True, category__is_active=True)


class Product(models.Model):
    """What a shopper browses. What is sold is a Variant of it."""

    name = models.CharField(_("name"), max_length=200)
    #: Part of the product's URL: never changed once published, or links break.
    slug = models.SlugField(_("slug"), max_length=220, unique=True)
    description = models.TextField(_("description"), blank=True)
    brand = models.ForeignKey(
        Brand,
        verbose_name=_("brand"),
        related_name="products",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
    )
    category = models.ForeignKey(
        Category, verbose_name=_("category"), related_name="products", on_delete=models.PROTECT
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), related_name="products", blank=True)
    #: Which rate the product gets in each country (taxes app); empty: the standard class.
    tax_class = models.ForeignKey(
        "taxes.TaxClass",
        verbose_name=_("tax class"),
        related_name="+",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        help_text=_("Empty: the standard rate."),
    )
    is_published = models.BooleanField(_("published"), default=False)
    is_featured = models.BooleanField(_("featured"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    # Kept up to date by catalog.services.refresh_product_summary() so that listings sort and
    # filter on one table, without aggregating variants for every card.
    #: Lowest price of the product's active variants.
    price = models.DecimalField(_("price from"), **MONEY, default=Decimal("0.00"))
    #: The compare-at price of the variant giving `price`, when it is higher (a sale).
    compare_at_price = models.DecimalField(_("compare-at price"), **MONEY, null=True, blank=True)
    #: Lowest sale price of the active variants while a promotion's sale runs, else NULL;
    #: kept by catalog.services.set_sale_prices() (called by promotions), for display only:
    #: what the cart charges is computed by promotions.services.price_cart().
    sale_price = models.DecimalField(
        _("sale price from"), **MONEY, null=True, blank=True, editable=False
    )
    #: Units in stock over all active variants: recomputed by refresh_products(), moved by
    #: the same units as its variants by catalog.stock.
    stock = models.PositiveIntegerField(_("stock"), default=0)
    #: Units sold over all orders, for "best-selling".
    sold_count = models.PositiveIntegerField(_("sold"), default=0)
    #: Kept by the reviews app when a review is approved, edited, rejected or deleted.
    rating_average = models.DecimalField(
        _("average rating"), max_digits=3, decimal_places=2, default=Decimal("0.00")
    )
    rating_count = models.PositiveIntegerField(_("ratings"), default=0)

    objects = ProductQuerySet.as_manager()

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["-created_at", "-pk"]
        indexes = [
            # Shoppers only ever see published products. A partial index that also holds what
            # a listing counts and filters on lets PostgreSQL count a category and its brands
            # from the index alone (for 20,000 of 100,000 products: 57 ms -> 5 ms for the
            # count, 140 ms -> 15 ms for the brand facet).
            # The sort keys too: a filtered page sorts the category's matching products
            # without reading the table (100,000 products, a 40,000-product category: the
            # page of a filtered listing 57 ms -> see bench/results/facets.md).
            models.Index(
                fields=["category"],
                include=[
                    "id",
                    "brand",
                    "price",
                    "stock",
                    "is_featured",
                    "sold_count",
                    "created_at",
                    "rating_average",
                    "rating_count",
                ],
                condition=Q(is_published=True),
                name="product_published_listing",
            ),
            models.Index(fields=["is_published", "-created_at"], name="product_newest"),
            models.Index(fields=["is_published", "price"], name="product_price"),
            models.Index(fields=["is_published", "-sold_count"], name="product_best_selling"),
            models.Index(
                fields=["is_published", "-rating_average", "-rating_count"],
                name="product_top_rated",
            ),
            models.Index(
                fields=["is_featured"], condition=Q(is_featured=True), name="product_featured"
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("catalog:product", kwargs={"slug": self.slug})

    @property
    def in_stock(self) -> bool:
        return self.stock > 0

    @property
    def on_sale(self) -> bool:
        return self.compare_at_price is not None and self.compare_at_price > self.price


class Specification(models.Model):
    """One row of a product's specification table, e.g. "Weight: 180 g"."""

    product = models.ForeignKey(Product, related_name="specifications", on_delete=models.CASCADE)
    name = models.CharField(_("name"), max_length=80)
    value = models.CharField(_("value"), max_length=255)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("specification")
        verbose_name_plural = _("specifications")
        ordering = ["position", "pk"]

    def __str__(self):
        return f"{self.name}: {self.value}"


class VariantQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)


#: Units at or below which an active variant counts as low on stock (admin filters, lists,
#: and the "Only 3 left" label of the product page).
LOW_STOCK = 5


def stock_label(stock: int) -> tuple[str, int | None]:
    """What a shopper reads about a stock level: ("out", None) for "Sold out", ("low", n)
    for "Only n left", ("in", None) for "In stock". A stock change that keeps the label
    changes nothing a cached page shows (catalog.stock invalidates by this)."""
    if stock <= 0:
        return ("out", None)
    if stock <= LOW_STOCK:
        return ("low", stock)
    return ("in", None)


class Variant(models.Model):
    """The thing that is sold: one SKU with its own price and stock.

    A product without options has exactly one variant.
    """

    product = models.ForeignKey(
        Product, verbose_name=_("product"), related_name="variants", on_delete=models.CASCADE
    )
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    option_values = models.ManyToManyField(
        OptionValue, verbose_name=_("options"), related_name="variants", blank=True
    )
    price = models.DecimalField(
        _("price"), **MONEY, validators=[MinValueValidator(Decimal("0.00"))]
    )
    #: The "was" price, shown struck through when higher than the price.
    compare_at_price = models.DecimalField(
        _("compare-at price"),
        **MONEY,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.00"))],
    )
    #: This variant's price under the sale running now (a promotion), else NULL; kept by
    #: catalog.services.set_sale_prices(), for display only.
    sale_price = models.DecimalField(
        _("sale price"), **MONEY, null=True, blank=True, editable=False
    )
    #: The running total of this variant's StockMovements, changed only with one of them, by
    #: catalog.stock (never written back from a form).
    stock = models.PositiveIntegerField(_("stock"), default=0)
    #: Shipping weight in grams.
    weight_grams = models.PositiveIntegerField(_("weight (g)"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    objects = VariantQuerySet.as_manager()

    class Meta:
        verbose_name = _("variant")
        verbose_name_plural = _("variants")
        ordering = ["position", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(stock__gte=0), name="variant_stock_not_negative"),
            models.CheckConstraint(condition=Q(price__gte=0), name="variant_price_not_negative"),
        ]
        indexes = [models.Index(fields=["product", "is_active"], name="variant_product_active")]

    def __str__(self):
        return f"{self.product.name} ({self.sku})"

    @property
    def on_sale(self) -> bool:
        return self.compare_at_price is not None and self.compare_at_price > self.price

    @property
    def options_label(self) -> str:
        """ "Red / M", from option values prefetched in option order."""
        return " / ".join(value.value for value in self.option_values.all())

    @property
    def stock_level(self) -> str:
        """ "out", "low" or "in": the class of the stock label shown to shoppers."""
        return stock_label(self.stock)[0]


class StockMovement(models.Model):
    """One change of a variant's stock, with its reason: the ledger that explains it.

    `Variant.stock` is the running total of its movements (the fast column pages read);
    both are written together, under the variant's row lock, only by catalog.stock, so the
    sum of a variant's movements always equals its stock.
    """

    class Reason(models.TextChoices):
        OPENING = "opening", _("Opening balance")
        RECEIVED = "received", _("Received")
        CORRECTION = "correction", _("Correction")
        COUNT = "count", _("Stocktake")
        SALE = "sale", _("Sale")
        CANCEL = "cancel", _("Order cancelled")
        RETURN = "return", _("Returned")

    variant = models.ForeignKey(
        Variant,
        verbose_name=_("variant"),
        related_name="stock_movements",
        # A deleted variant has no stock left to explain; its sales stay on the order lines.
        on_delete=models.CASCADE,
    )
    #: Units in (positive) or out (negative).
    quantity = models.IntegerField(_("quantity"))
    #: The variant's stock right after this movement.
    stock_after = models.PositiveIntegerField(_("stock after"))
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    #: What caused it, e.g. an order number or "CSV import".
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    note = models.CharField(_("note"), max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        related_name="+",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["variant", "created_at"], name="stock_movement_variant"),
            models.Index(
                fields=["reference"], condition=~Q(reference=""), name="stock_movement_reference"
            ),
        ]

    def __str__(self):
        return f"{self.variant_id}: {self.quantity:+d} ({self.get_reason_display()})"


class ProductOption(models.Model):
    """What listings filter and count on: one row per published product, option value and
    block of 63 variants, for the values its active variants offer.

    Derived by catalog.services.refresh_product_facets() (called by refresh_products(),
    set_published() and the bulk tools); each worker's listing index (catalog.facets) loads
    these rows, so that no request joins through variants. Each of the product's active
    variants has a bit (its slot, by primary key): `variants` holds the slots of those
    offering this value, `in_stock_variants` those also in stock. A product has a red
    variant in M in stock when the red row's and the M row's masks share a bit with each
    other and with the stock: one variant is both, not one red and another M.
    """

    product = models.ForeignKey(Product, related_name="+", on_delete=models.CASCADE)
    option_value = models.ForeignKey(OptionValue, related_name="+", on_delete=models.CASCADE)
    option_type = models.ForeignKey(OptionType, related_name="+", on_delete=models.CASCADE)
    #: Which block of VARIANTS_PER_CHUNK variants (by primary key) the masks describe.
    chunk = models.PositiveSmallIntegerField(default=0)
    #: Bit n set: the product's n-th active variant of this chunk offers this value.
    variants = models.BigIntegerField()
    #: The bits of `variants` whose variant is in stock.
    in_stock_variants = models.BigIntegerField()
    #: The product has more than one chunk (more than 63 active variants): a value may have
    #: a row in each, and is counted once.
    spans_chunks = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["product", "chunk", "option_value"], name="product_option_unique_chunk"
            )
        ]

    def __str__(self):
        return f"{self.product_id}: {self.option_value_id}"


class ProductChange(models.Model):
    """A product whose listing facts (price, stock, options, brand, tags, category, sort
    keys, publication) changed: the journal the listing index of each worker follows
    (catalog.facets). Written in the transaction of the change; no row: every product."""

    product_id = models.IntegerField(null=True)
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self):
        return f"{self.pk}: {self.product_id}"


class ProductImage(models.Model):
    product = models.ForeignKey(Product, related_name="images", on_delete=models.CASCADE)
    image = models.ImageField(
        _("image"), upload_to="products/%Y/%m/", validators=[validate_product_image]
    )
    alt_text = models.CharField(
        _("alternative text"),
        max_length=200,
        blank=True,
        help_text=_("What the picture shows, for shoppers who cannot see it."),
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    #: The options the picture shows (e.g. Colour: Red): it comes first on the product page
    #: when the chosen variant has all of them. Empty: the product as a whole.
    option_values = models.ManyToManyField(
        OptionValue,
        verbose_name=_("shows"),
        related_name="images",
        blank=True,
        help_text=_(
            "The options this picture shows, e.g. a colour: it comes first when a shopper "
            "chooses a variant with them. Leave empty for a picture of the whole product."
        ),
    )
    #: Size name -> {"name": storage name, "width": px, "height": px}; made once on upload.
    thumbnails = models.JSONField(default=dict, editable=False)

    class Meta:
        verbose_name = _("image")
        verbose_name_plural = _("images")
        ordering = ["position", "pk"]

    def __str__(self):
        return self.alt_text or self.image.name

    def shows(self, variant: "Variant") -> bool:
        """Whether this picture is of `variant`: it names options, and the variant has them
        all. Reads prefetched option values (the product page's selector)."""
        values = {value.pk for value in self.option_values.all()}
        return bool(values) and values <= {value.pk for value in variant.option_values.all()}

    def _thumbnail(self, size: str) -> Thumbnail:
        return Thumbnail.from_record(self.thumbnails.get(size), fallback=self.image, size=size)

    @property
    def small(self) -> Thumbnail:
        return self._thumbnail("small")

    @property
    def card(self) -> Thumbnail:
        return self._thumbnail("card")

    @property
    def large(self) -> Thumbnail:
        return self._thumbnail("large")


class WishlistItem(models.Model):
    """A product a shopper keeps an eye on. Kept in the catalog: accounts imports nothing."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, related_name="wishlist_items", on_delete=models.CASCADE
    )
    product = models.ForeignKey(Product, related_name="wishlist_items", on_delete=models.CASCADE)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("wishlist item")
        verbose_name_plural = _("wishlist items")
        ordering = ["-added_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "product"], name="wishlist_item_unique")
        ]

    def __str__(self):
        return f"{self.user} ♥ {self.product}"


class SearchTerm(models.Model):
    """A word of the catalog (product, brand, tag and category names) for "did you mean".

    Misspelt queries are matched against these few thousand words (held in memory by
    catalog.search), never against every product.
    """

    word = models.CharField(max_length=64, unique=True)
    #: How many products name the word: between corrections as close as each other, the
    #: commoner word wins. Exact after recount_search_terms() (daily); a word new since
    #: counts the products it arrived with.
    product_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("search term")
        verbose_name_plural = _("search terms")

    def __str__(self):
        return self.word


class SearchDocument(models.Model):
    """A product's words as PostgreSQL searches them: a weighted document (name > brand,
    tags > description), written by catalog.services; no rows elsewhere (SQLite searches
    the products' text).

    A table of its own, not a column of the product: a common word matches a third of the
    catalog, and finding those products read a third of the products' pages, which are wide
    (descriptions, prices, counts) and rewritten by every sale. At 100,000 products that was
    150 MB, most of it outside PostgreSQL's buffers; these rows are a quarter of it.
    """

    product = models.OneToOneField(
        Product, on_delete=models.CASCADE, primary_key=True, related_name="search_document"
    )
    #: GIN-indexed without a pending list (migration 0018; PostgreSQL only).
    document = SearchVectorField()

    def __str__(self):
        return f"search document of product {self.product_id}"


class RecommendationKind(models.TextChoices):
    BOUGHT_TOGETHER = "bought_together", _("Frequently bought together")
    SIMILAR = "similar", _("Similar")


class ProductRecommendation(models.Model):
    """A product shown beside another, precomputed (catalog.services.replace_recommendations).

    Each product's rows are ranked 1, 2, ...: the products bought with it in paid orders
    first, then similar ones. Pages filter out what is unpublished or sold out when they read
    (stock moves between two rebuilds), so a product keeps more rows than a page shows.
    """

    Kind = RecommendationKind

    #: Not indexed alone: the unique (product, rank) index serves every read by product.
    product = models.ForeignKey(Product, related_name="+", on_delete=models.CASCADE, db_index=False)
    recommended = models.ForeignKey(
        Product, related_name="recommended_in", on_delete=models.CASCADE
    )
    kind = models.CharField(max_length=16, choices=RecommendationKind.choices)
    #: Bought together: the number of paid orders holding both; similar: the points of
    #: likeness (services.SIMILARITY_POINTS).
    score = models.FloatField()
    rank = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["product", "rank"], name="product_recommendation_unique_rank"
            ),
            models.UniqueConstraint(
                fields=["product", "recommended"], name="product_recommendation_unique_pair"
            ),
        ]

    def __str__(self):
        return f"{self.product_id} → {self.recommended_id} ({self.kind} #{self.rank})"
