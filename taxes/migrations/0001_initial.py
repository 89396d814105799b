import django.db.models.deletion
import django_countries.fields
from django.db import migrations, models


def create_classes(apps, schema_editor):
    """The four classes every shop needs; "standard" is what an unclassed product gets."""
    TaxClass = apps.get_model("taxes", "TaxClass")
    for position, (code, name, exempt) in enumerate(
        [
            ("standard", "Standard rate", False),
            ("reduced", "Reduced rate", False),
            ("zero", "Zero rate", False),
            ("exempt", "Exempt", True),
        ]
    ):
        TaxClass.objects.get_or_create(
            code=code, defaults={"name": name, "is_exempt": exempt, "position": position}
        )


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="TaxClass",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("code", models.SlugField(max_length=40, unique=True, verbose_name="code")),
                ("name", models.CharField(max_length=80, verbose_name="name")),
                ("is_exempt", models.BooleanField(default=False, verbose_name="exempt")),
                ("position", models.PositiveIntegerField(default=0, verbose_name="position")),
            ],
            options={
                "verbose_name": "tax class",
                "verbose_name_plural": "tax classes",
                "ordering": ["position", "name"],
            },
        ),
        migrations.CreateModel(
            name="TaxRate",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("country", django_countries.fields.CountryField(max_length=2, verbose_name="country")),
                ("region", models.CharField(blank=True, help_text="State or province code, e.g. CA or NY; empty for the whole country.", max_length=20, verbose_name="region")),
                ("rate", models.DecimalField(decimal_places=3, help_text="Percent, e.g. 19 or 7.25; the region's combined rate where there is one.", max_digits=6, verbose_name="rate (%)")),
                ("name", models.CharField(blank=True, max_length=40, verbose_name="tax name")),
                ("valid_from", models.DateField(verbose_name="valid from")),
                ("valid_until", models.DateField(blank=True, help_text="Excluded; empty: no end.", null=True, verbose_name="valid until")),
                ("tax_class", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="rates", to="taxes.taxclass", verbose_name="tax class")),
            ],
            options={
                "verbose_name": "tax rate",
                "verbose_name_plural": "tax rates",
                "ordering": ["country", "region", "tax_class__position", "-valid_from"],
                "indexes": [models.Index(fields=["country", "region"], name="tax_rate_place")],
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("rate__gte", 0), ("rate__lte", 100)), name="tax_rate_percent"),
                    models.CheckConstraint(condition=models.Q(("valid_until__isnull", True), ("valid_until__gt", models.F("valid_from")), _connector="OR"), name="tax_rate_period"),
                ],
            },
        ),
        migrations.RunPython(create_classes, migrations.RunPython.noop),
    ]
