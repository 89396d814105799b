import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0005_listing_index_and_product_options"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="StockMovement",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("quantity", models.IntegerField(verbose_name="quantity")),
                ("stock_after", models.PositiveIntegerField(verbose_name="stock after")),
                (
                    "reason",
                    models.CharField(
                        choices=[
                            ("opening", "Opening balance"),
                            ("received", "Received"),
                            ("correction", "Correction"),
                            ("count", "Stocktake"),
                            ("sale", "Sale"),
                            ("cancel", "Order cancelled"),
                            ("return", "Returned"),
                        ],
                        max_length=16,
                        verbose_name="reason",
                    ),
                ),
                (
                    "reference",
                    models.CharField(blank=True, max_length=64, verbose_name="reference"),
                ),
                ("note", models.CharField(blank=True, max_length=255, verbose_name="note")),
                (
                    "created_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now, verbose_name="when"
                    ),
                ),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="by",
                    ),
                ),
                (
                    "variant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="stock_movements",
                        to="catalog.variant",
                        verbose_name="variant",
                    ),
                ),
            ],
            options={
                "verbose_name": "stock movement",
                "verbose_name_plural": "stock movements",
                "ordering": ["-created_at", "-pk"],
                "indexes": [
                    models.Index(
                        fields=["variant", "created_at"], name="stock_movement_variant"
                    ),
                    models.Index(
                        condition=models.Q(("reference", ""), _negated=True),
                        fields=["reference"],
                        name="stock_movement_reference",
                    ),
                ],
            },
        ),
    ]
