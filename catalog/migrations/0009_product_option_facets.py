import django.db.models.deletion
from django.db import migrations, models

class Migration(migrations.Migration):
    """ProductOption becomes the listings' facet table: one row per published product, option
    value and block of 63 variants, with variant masks (combinations) and stock. Dropped and
    made again: every row is derived (filled by 0010, which knows the rows' final shape)."""

    dependencies = [
        ("catalog", "0008_product_tax_class"),
    ]

    operations = [
        migrations.DeleteModel(name="ProductOption"),
        migrations.CreateModel(
            name="ProductOption",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("price", models.DecimalField(decimal_places=2, max_digits=12)),
                ("chunk", models.PositiveSmallIntegerField(default=0)),
                ("variants", models.BigIntegerField()),
                ("in_stock_variants", models.BigIntegerField()),
                ("is_first", models.BooleanField()),
                ("is_first_in_stock", models.BooleanField()),
                ("spans_chunks", models.BooleanField(default=False)),
                ("brand", models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="catalog.brand")),
                ("category", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="catalog.category")),
                ("option_type", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="catalog.optiontype")),
                ("option_value", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="catalog.optionvalue")),
                ("product", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="catalog.product")),
            ],
            options={
                "indexes": [
                    models.Index(fields=["category", "option_value"], include=("product", "brand", "price", "is_first", "is_first_in_stock"), name="product_option_facet"),
                    models.Index(fields=["option_value", "category"], include=("product", "chunk", "variants", "in_stock_variants", "brand", "price", "spans_chunks"), name="product_option_chosen"),
                    models.Index(condition=models.Q(("spans_chunks", True)), fields=["option_value"], name="product_option_spanning"),
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("product", "chunk", "option_value"), name="product_option_unique_chunk"),
                ],
            },
        ),
        migrations.CreateModel(
            name="ProductOptionPair",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("price", models.DecimalField(decimal_places=2, max_digits=12)),
                ("in_stock", models.BooleanField()),
                ("brand", models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="catalog.brand")),
                ("category", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="catalog.category")),
                ("option_value", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="catalog.optionvalue")),
                ("partner", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="catalog.optionvalue")),
                ("product", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="catalog.product")),
            ],
            options={
                "indexes": [
                    models.Index(fields=["partner", "category", "option_value"], include=("product", "brand", "price", "in_stock"), name="product_option_pair_facet"),
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("product", "option_value", "partner"), name="product_option_pair_unique"),
                ],
            },
        ),
        migrations.RemoveIndex(model_name="product", name="product_published_listing"),
        migrations.AddIndex(
            model_name="product",
            index=models.Index(condition=models.Q(("is_published", True)), fields=["category"], include=("id", "brand", "price", "stock", "is_featured", "sold_count", "created_at", "rating_average", "rating_count"), name="product_published_listing"),
        ),
    ]
