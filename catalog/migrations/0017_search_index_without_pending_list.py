"""The search index without GIN's pending list (PostgreSQL only).

With `fastupdate` on (the default) new entries wait in an unsorted pending list, up to
4 MB, until a vacuum merges them; every search reads the whole list. The demo catalog's
index carried 301 pages of it (8,536 entries), which made the index scan of a common word
take 10 ms instead of 1 ms. The catalog is written product by product (an edit, a sale,
stock), so entries go straight into the index, and the list that waits is merged now.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("ALTER INDEX IF EXISTS product_search_vector SET (fastupdate = off)")
    schema_editor.execute(
        "SELECT gin_clean_pending_list('product_search_vector'::regclass) "
        "WHERE to_regclass('product_search_vector') IS NOT NULL"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("ALTER INDEX IF EXISTS product_search_vector RESET (fastupdate)")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0016_product_recommendations")]

    operations = [migrations.RunPython(forwards, backwards)]
