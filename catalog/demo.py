"""A believable demo catalog, made fast with bulk inserts (10,000 products in seconds).

Deterministic for a given count, and idempotent: products are keyed by their number, so a
second run adds only what is missing (`--products 100`, then `--products 10000`, adds 9,900).
Pictures are drawn with Pillow into a small pool shared by many products, so that the
catalog's size does not multiply image work. Each variant's stock starts the ledger with an
opening movement, inserted in bulk like the variants.
"""

import io
import random
from decimal import Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import translation
from django.utils.text import slugify
from PIL import Image, ImageDraw

from catalog.images import make_thumbnails
from catalog.models import (
    Brand,
    Category,
    OptionType,
    OptionValue,
    Product,
    ProductImage,
    Specification,
    Tag,
    Variant,
)
from catalog.services import (
    record_opening_stock,
    recount_search_terms,
    refresh_products,
    save_category,
)

TREE = {
    "Clothing": {
        "Men": ["T-shirts", "Shirts", "Jackets"],
        "Women": ["Dresses", "Tops", "Coats"],
        "Kids": ["Kids' T-shirts", "Kids' Jackets"],
    },
    "Electronics": {"Phones": [], "Laptops": [], "Headphones": [], "Accessories": []},
    "Home & Kitchen": {"Cookware": [], "Tableware": [], "Decor": []},
    "Sports & Outdoors": {"Running": [], "Camping": [], "Cycling": []},
    "Books": {"Fiction": [], "Non-fiction": []},
}
BRANDS = {
    "Clothing": ["Northwind", "Fjell", "Linden & Co", "Harbor Lane", "Sable"],
    "Electronics": ["Apple", "Orbit", "Lumen", "Voltra", "Kestrel"],
    "Home & Kitchen": ["Hearth", "Copperleaf", "Stoneware Studio", "Maison Vert"],
    "Sports & Outdoors": ["Trailhead", "Summit", "Velo", "Pacer"],
    "Books": ["Paper Crane Press", "Lantern Books"],
}
NOUNS = {
    "T-shirts": ["T-shirt", "Crew Tee", "Pocket Tee"],
    "Shirts": ["Oxford Shirt", "Linen Shirt", "Flannel Shirt"],
    "Jackets": ["Rain Jacket", "Bomber Jacket", "Field Jacket"],
    "Dresses": ["Wrap Dress", "Shirt Dress", "Midi Dress"],
    "Tops": ["Blouse", "Knit Top", "Tank Top"],
    "Coats": ["Wool Coat", "Trench Coat", "Puffer Coat"],
    "Kids' T-shirts": ["Kids' Tee", "Kids' Graphic Tee"],
    "Kids' Jackets": ["Kids' Rain Jacket", "Kids' Fleece"],
    "Phones": ["iPhone", "Smartphone", "Phone"],
    "Laptops": ["Laptop", "Ultrabook", "Notebook"],
    "Headphones": ["Wireless Headphones", "Earbuds", "Studio Headphones"],
    "Accessories": ["Charger", "USB-C Cable", "Phone Case", "Power Bank"],
    "Cookware": ["Frying Pan", "Saucepan", "Dutch Oven", "Wok"],
    "Tableware": ["Dinner Plate Set", "Mug", "Serving Bowl"],
    "Decor": ["Table Lamp", "Vase", "Throw Cushion", "Wall Clock"],
    "Running": ["Running Shoes", "Running Shorts", "Hydration Vest"],
    "Camping": ["Tent", "Sleeping Bag", "Camp Stove", "Headlamp"],
    "Cycling": ["Bike Helmet", "Cycling Gloves", "Bike Light"],
    "Fiction": ["Novel", "Short Stories", "Mystery"],
    "Non-fiction": ["Cookbook", "Field Guide", "Biography"],
}
ADJECTIVES = [
    "Classic", "Everyday", "Essential", "Premium", "Lightweight", "Organic", "Recycled",
    "Vintage", "Modern", "Compact", "Pro", "Ultra", "Heritage", "Coastal", "Alpine", "Urban",
]  # fmt: skip
COLOURS = {
    "Black": (33, 37, 41),
    "White": (236, 236, 232),
    "Navy": (31, 58, 96),
    "Red": (178, 34, 34),
    "Green": (46, 110, 73),
    "Grey": (128, 134, 139),
    "Sand": (214, 190, 150),
}
SIZES = ["XS", "S", "M", "L", "XL"]
CAPACITIES = ["128 GB", "256 GB", "512 GB"]
TAGS = ["New", "Bestseller", "Eco-friendly", "Gift idea", "Limited edition", "Sale"]
SIZED = {"Clothing", "Running"}
WITH_CAPACITY = {"Phones", "Laptops"}
PRICE_RANGES = {
    "Clothing": (15, 180),
    "Electronics": (9, 1400),
    "Home & Kitchen": (8, 260),
    "Sports & Outdoors": (12, 450),
    "Books": (8, 45),
}
BATCH = 1000


#: Demo prices in yuan: about seven to the dollar.
YUAN_PER_DOLLAR = 7


def local_price(dollars: Decimal) -> Decimal:
    """A demo price (written in dollars) in the shop's currency. A yuan shop prices as shops
    in China do: about seven yuan to the dollar, in whole yuan ending in 9 (in 99 from a
    thousand up): $15 is ¥109, $1,400 is ¥9,899. Other currencies keep the figures."""
    if settings.SHOP_CURRENCY != "CNY":
        return dollars
    yuan = int(dollars * YUAN_PER_DOLLAR)
    if yuan >= 1000:
        return Decimal(yuan // 100 * 100 + 99)
    return Decimal(yuan // 10 * 10 + 9)


#: The demo's Simplified Chinese: category, option, tag and specification names and values
#: (README "Languages"). Anything missing here shows in English.
CHINESE = {
    # Categories
    "Clothing": "服装", "Men": "男装", "Women": "女装", "Kids": "童装",
    "T-shirts": "T 恤", "Shirts": "衬衫", "Jackets": "夹克", "Dresses": "连衣裙",
    "Tops": "上衣", "Coats": "大衣", "Kids' T-shirts": "儿童 T 恤", "Kids' Jackets": "儿童夹克",
    "Electronics": "电子产品", "Phones": "手机", "Laptops": "笔记本电脑", "Headphones": "耳机",
    "Accessories": "配件", "Home & Kitchen": "家居厨房", "Cookware": "炊具",
    "Tableware": "餐具", "Decor": "家居装饰", "Sports & Outdoors": "运动户外",
    "Running": "跑步", "Camping": "露营", "Cycling": "骑行", "Books": "图书",
    "Fiction": "小说", "Non-fiction": "非虚构",
    # Options and their values
    "Colour": "颜色", "Size": "尺码", "Capacity": "容量",
    "Black": "黑色", "White": "白色", "Navy": "藏青色", "Red": "红色", "Green": "绿色",
    "Grey": "灰色", "Sand": "沙色",
    # Tags
    "New": "新品", "Bestseller": "畅销", "Eco-friendly": "环保", "Gift idea": "礼品推荐",
    "Limited edition": "限量版", "Sale": "特价",
    # Specifications
    "Material": "材质", "Care": "护理", "Fit": "版型", "Battery life": "续航",
    "Connectivity": "连接", "Warranty": "保修", "Dishwasher safe": "可用洗碗机",
    "Weight": "重量", "Water resistance": "防水", "Pages": "页数", "Format": "装帧",
    "Language": "语言",
    "100% cotton": "100% 棉", "Linen": "亚麻", "Merino wool": "美利奴羊毛",
    "Recycled polyester": "再生涤纶", "Machine wash at 30 °C": "30 °C 机洗",
    "Regular": "常规", "Slim": "修身", "Relaxed": "宽松", "2 years": "2 年",
    "Cast iron": "铸铁", "Stoneware": "炻器", "Stainless steel": "不锈钢", "Oak": "橡木",
    "Yes": "是", "No": "否", "None": "无", "Splash-proof": "防溅", "Waterproof": "防水",
    "Paperback": "平装", "Hardcover": "精装", "English": "英文",
}  # fmt: skip


def chinese(text: str) -> str | None:
    """The demo's Chinese for `text` ("12 hours" is "12 小时"); None: none (English shows)."""
    if text in CHINESE:
        return CHINESE[text]
    number, _, unit = text.partition(" ")
    if unit == "hours" and number.isdigit():
        return f"{number} 小时"
    if unit in ("g", "GB") or (number.isdigit() and not unit):
        return text  # numbers and units read the same
    return None


def create_demo_catalog(*, products: int, seed: int = 2026) -> int:
    """Make sure demo products 1..`products` exist; returns how many were added."""
    # The names below are English: looked up and written as such whatever the caller's language.
    with translation.override("en"):
        return _create_demo_catalog(products=products, seed=seed)


def _create_demo_catalog(*, products: int, seed: int) -> int:
    with transaction.atomic():
        leaves = _categories()
        brands = _brands()
        options = _options()
        tags = list(_tags())
    images = _image_pool(leaves)
    existing = set(Product.objects.filter(slug__startswith="demo-").values_list("slug", flat=True))
    missing = [n for n in range(1, products + 1) if _slug(n) not in existing]
    for start in range(0, len(missing), BATCH):
        with transaction.atomic():
            _create_batch(
                missing[start : start + BATCH], leaves, brands, options, tags, images, seed
            )
    if missing:
        recount_search_terms()  # words counted batch by batch: make the counts exact
    return len(missing)


def _slug(number: int) -> str:
    return f"demo-{number:06d}"


def _categories() -> list[tuple[Category, str]]:
    """The tree, created once; returns (leaf category, top-level name) pairs."""
    leaves = []
    for position, (top_name, children) in enumerate(TREE.items()):
        top = _category(top_name, None, position)
        for child_position, (child_name, grandchildren) in enumerate(children.items()):
            child = _category(child_name, top, child_position)
            if not grandchildren:
                leaves.append((child, top_name))
            for leaf_position, leaf_name in enumerate(grandchildren):
                leaves.append((_category(leaf_name, child, leaf_position), top_name))
    return leaves


def _category(name: str, parent: Category | None, position: int) -> Category:
    slug = slugify(name if parent is None or parent.parent_id is None else f"{parent.name} {name}")
    if parent is not None and parent.parent_id is None and name in ("Men", "Women", "Kids"):
        slug = slugify(f"{name} clothing")
    category = Category.objects.filter(slug=slug).first()
    if category is None:
        category = Category(
            name=name,
            slug=slug,
            parent=parent,
            position=position,
            description=f"Our selection of {name.lower()}, chosen for quality and value.",
        )
    if category.pk is None or not category.name_zh_hans:
        # Also gives a catalog seeded before the translations its Chinese.
        category.name_zh_hans = chinese(name)
        category.description_zh_hans = f"精选{chinese(name)}，品质与价值兼顾。"
        save_category(category=category)
    return category


def _brands() -> dict[str, list[Brand]]:
    return {
        top: [Brand.objects.get_or_create(slug=slugify(n), defaults={"name": n})[0] for n in names]
        for top, names in BRANDS.items()
    }


def _options() -> dict[str, list[OptionValue]]:
    found = {}
    for position, (name, values) in enumerate(
        [("Colour", list(COLOURS)), ("Size", SIZES), ("Capacity", CAPACITIES)]
    ):
        option_type, _ = OptionType.objects.get_or_create(
            slug=slugify(name), defaults={"name": name, "position": position}
        )
        _in_chinese(option_type, "name")
        found[name] = [
            _in_chinese(
                OptionValue.objects.get_or_create(
                    option_type=option_type,
                    slug=slugify(value),
                    defaults={"value": value, "position": i},
                )[0],
                "value",
            )
            for i, value in enumerate(values)
        ]
    for value in found["Colour"]:
        if not value.swatch:  # the swatch of filters and product pages: the pictures' colour
            value.swatch = "#{:02x}{:02x}{:02x}".format(*COLOURS[value.value])
            value.save(update_fields=["swatch"])
    return found


def _tags():
    for name in TAGS:
        tag = Tag.objects.get_or_create(slug=slugify(name), defaults={"name": name})[0]
        yield _in_chinese(tag, "name")


def _in_chinese(row, field: str):
    """`row` with the Chinese of its English `field`, unless it has one (a catalog seeded
    before the translations gets it; a merchant's own is kept)."""
    chinese_field = f"{field}_zh_hans"
    if not getattr(row, chinese_field):
        setattr(row, chinese_field, chinese(getattr(row, f"{field}_en")))
        row.save(update_fields=[chinese_field])
    return row


def _image_pool(leaves) -> dict[tuple[int, str], dict]:
    """One drawn picture per (leaf category, colour), stored once with its thumbnails."""
    pool = {}
    for category, _top in leaves:
        for colour, rgb in COLOURS.items():
            name = f"demo/{category.slug}-{slugify(colour)}.png"
            if not default_storage.exists(name):
                default_storage.save(name, ContentFile(_draw(category.name, rgb)))
            field = ProductImage(image=name).image
            thumbs_exist = default_storage.exists(name.replace(".png", "_card.webp"))
            thumbnails = (
                {
                    size: {"name": name.replace(".png", f"_{size}.webp"), "width": w, "height": w}
                    for size, w in (("small", 160), ("card", 480), ("large", 800))
                }
                if thumbs_exist
                else make_thumbnails(field)
            )
            pool[(category.pk, colour)] = {"name": name, "thumbnails": thumbnails}
    return pool


def _draw(label: str, rgb: tuple[int, int, int]) -> bytes:
    """An 800 x 800 product shot: the colour as a soft backdrop and a simple object in it."""
    size = 800
    image = Image.new("RGB", (size, size), tuple(min(255, c + (255 - c) * 3 // 4) for c in rgb))
    draw = ImageDraw.Draw(image)
    draw.ellipse((150, 620, 650, 700), fill=tuple(max(0, c - 40) for c in image.getpixel((0, 0))))
    draw.rounded_rectangle((220, 170, 580, 640), radius=60, fill=rgb)
    draw.rounded_rectangle(
        (290, 240, 510, 330), radius=30, fill=tuple(min(255, c + 50) for c in rgb)
    )
    initial = label[:1].upper()
    draw.text((400, 470), initial, fill=(255, 255, 255), anchor="mm", font_size=160)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _create_batch(numbers, leaves, brands, options, tags, images, seed) -> None:
    products, variant_specs, spec_rows, tag_links, image_rows = [], [], [], [], []
    for number in numbers:
        rng = random.Random(seed * 1_000_003 + number)
        category, top = leaves[number % len(leaves)]
        brand = rng.choice(brands[top])
        noun = rng.choice(NOUNS[category.name])
        name = f"{brand.name} {rng.choice(ADJECTIVES)} {noun}"
        if noun == "iPhone":
            brand = next(b for b in brands[top] if b.name == "Apple")
            name = (
                f"iPhone {rng.randint(11, 16)} {rng.choice(['', 'Pro', 'Pro Max', 'mini'])}".strip()
            )
        low, high = PRICE_RANGES[top]
        base_price = Decimal(rng.randint(low * 100, high * 100)) / 100
        base_price = (
            base_price.quantize(Decimal("1")) - Decimal("0.01") if base_price > 20 else base_price
        )
        base_price = local_price(base_price)
        product = Product(
            name=name,
            slug=_slug(number),
            description=_description(rng, name, category.name, brand.name),
            brand=brand,
            category=category,
            is_published=rng.random() > 0.02,
            is_featured=rng.random() < 0.05,
            sold_count=int(rng.paretovariate(1.5) * 10) - 10 if rng.random() < 0.8 else 0,
        )
        products.append(product)
        variant_specs.append(_variants(rng, number, top, category.name, base_price, options))
        spec_rows.append(_specifications(rng, top))
        tag_links.append(rng.sample(tags, k=rng.choice([0, 1, 1, 2])))
        # A picture of each colour the product comes in, naming it, so that choosing a
        # colour on the product page shows it; a product without colours gets one picture.
        colours = list(
            {
                v.pk: v
                for _variant, values in variant_specs[-1]
                for v in values
                if v.option_type.name == "Colour"
            }.values()
        )
        image_rows.append((colours or [rng.choice(list(COLOURS))], category, name))
    Product.objects.bulk_create(products, batch_size=BATCH)

    variants, option_links, specifications, product_tags, pictures = [], [], [], [], []
    for product, specs, spec_list, chosen_tags, (colours, category, name) in zip(
        products, variant_specs, spec_rows, tag_links, image_rows, strict=True
    ):
        for variant, values in specs:
            variant.product = product
            variants.append((variant, values))
        specifications += [
            Specification(
                product=product,
                name=k,
                value=v,
                name_zh_hans=chinese(k),
                value_zh_hans=chinese(v),
                position=i,
            )
            for i, (k, v) in enumerate(spec_list)
        ]
        product_tags += [Product.tags.through(product=product, tag=tag) for tag in chosen_tags]
        for position, colour in enumerate(colours):
            named = colour if isinstance(colour, OptionValue) else None
            label = named.value if named else colour
            picture = images[(category.pk, label)]
            image = ProductImage(
                product=product,
                image=picture["name"],
                alt_text=f"{name} in {label.lower()}",
                thumbnails=picture["thumbnails"],
                position=position,
            )
            pictures.append((image, named))
    Variant.objects.bulk_create([v for v, _ in variants], batch_size=BATCH)
    record_opening_stock(variants=[v for v, _ in variants], reference="demo")
    for variant, values in variants:
        option_links += [
            Variant.option_values.through(variant=variant, optionvalue=v) for v in values
        ]
    Variant.option_values.through.objects.bulk_create(option_links, batch_size=5000)
    Specification.objects.bulk_create(specifications, batch_size=5000)
    Product.tags.through.objects.bulk_create(product_tags, batch_size=5000)
    ProductImage.objects.bulk_create([image for image, _ in pictures], batch_size=BATCH)
    ProductImage.option_values.through.objects.bulk_create(
        [
            ProductImage.option_values.through(productimage=image, optionvalue=value)
            for image, value in pictures
            if value is not None
        ],
        batch_size=5000,
    )
    refresh_products(product_ids=[p.pk for p in products])


def _variants(rng, number, top, category_name, base_price, options):
    def variant(suffix, values, price):
        on_sale = rng.random() < 0.12
        stock = 0 if rng.random() < 0.08 else rng.choice([2, 3, 5, 8, 12, 25, 40, 100])
        return (
            Variant(
                sku=f"DEMO-{number:06d}{suffix}",
                price=price,
                compare_at_price=(price * Decimal("1.25")).quantize(
                    Decimal("1") if settings.SHOP_CURRENCY == "CNY" else Decimal("0.01")
                )
                if on_sale
                else None,
                stock=stock,
                weight_grams=rng.randint(100, 3000),
            ),
            values,
        )

    colours = rng.sample(options["Colour"], k=rng.choice([1, 2, 3]))
    if top in SIZED:
        sizes = options["Size"][rng.choice([0, 1]) :]
        return [
            variant(f"-{c.slug.upper()}-{s.slug.upper()}", [c, s], base_price)
            for c in colours
            for s in sizes
        ]
    if category_name in WITH_CAPACITY:
        # Each larger capacity costs $100 more (¥700: the price still ends in 99).
        capacity_step = Decimal(100 * (YUAN_PER_DOLLAR if settings.SHOP_CURRENCY == "CNY" else 1))
        return [
            variant(f"-{c.slug.upper()}-{i}", [c, cap], base_price + capacity_step * i)
            for c in colours[:2]
            for i, cap in enumerate(options["Capacity"])
        ]
    if top in ("Home & Kitchen", "Electronics") and len(colours) > 1:
        return [variant(f"-{c.slug.upper()}", [c], base_price) for c in colours]
    return [variant("", [], base_price)]


def _specifications(rng, top) -> list[tuple[str, str]]:
    specs = {
        "Clothing": [
            ("Material", rng.choice(["100% cotton", "Linen", "Merino wool", "Recycled polyester"])),
            ("Care", "Machine wash at 30 °C"),
            ("Fit", rng.choice(["Regular", "Slim", "Relaxed"])),
        ],
        "Electronics": [
            ("Battery life", f"{rng.randint(8, 40)} hours"),
            ("Connectivity", rng.choice(["Bluetooth 5.3", "USB-C", "Wi-Fi 6E"])),
            ("Warranty", "2 years"),
        ],
        "Home & Kitchen": [
            ("Material", rng.choice(["Cast iron", "Stoneware", "Stainless steel", "Oak"])),
            ("Dishwasher safe", rng.choice(["Yes", "No"])),
        ],
        "Sports & Outdoors": [
            ("Weight", f"{rng.randint(90, 2400)} g"),
            ("Water resistance", rng.choice(["None", "Splash-proof", "Waterproof"])),
        ],
        "Books": [
            ("Pages", str(rng.randint(120, 640))),
            ("Format", rng.choice(["Paperback", "Hardcover"])),
            ("Language", "English"),
        ],
    }
    return specs[top]


def _description(rng, name, category, brand) -> str:
    openers = [
        f"The {name} is made for every day, and built to last.",
        f"Meet the {name}: {brand}'s answer to what a good {category.lower()} should be.",
        f"Thoughtfully designed by {brand}, the {name} balances comfort, quality and value.",
    ]
    middles = [
        "Carefully chosen materials and honest construction mean it looks good for years.",
        "Every detail was tested by people who use it daily, and refined until it felt right.",
        "It is easy to look after and works with what you already own.",
    ]
    closers = [
        "Free returns within 30 days if it is not right for you.",
        "Ships within one working day from our warehouse.",
        "A favourite with our customers, and a thoughtful gift.",
    ]
    return " ".join([rng.choice(openers), rng.choice(middles), "", rng.choice(closers)]).replace(
        "  ", "\n\n"
    )


@transaction.atomic
def set_demo_tax_classes(*, top_category_classes: dict[str, str]) -> int:
    """Give the demo products under each named top category a tax class by its code (books
    reduced); products already classed are left alone. Returns how many changed."""
    from taxes.models import TaxClass

    changed = 0
    for top_name, code in top_category_classes.items():
        tax_class = TaxClass.objects.filter(code=code).first()
        top = Category.objects.filter(name=top_name, parent__isnull=True).first()
        if tax_class is None or top is None:
            continue
        changed += Product.objects.filter(
            slug__startswith="demo-",
            tax_class__isnull=True,
            category__path__startswith=top.subtree_path,
        ).update(tax_class=tax_class)
    return changed
