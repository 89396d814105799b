"""Search documents in a narrow table of their own (catalog.models.SearchDocument).

The products' documents move over, with their GIN index (without a pending list, as 0017
left the old one); the column and index on the products go. PostgreSQL only for the data
and the index: SQLite never had documents.
"""

import django.contrib.postgres.search
import django.db.models.deletion
from django.db import migrations, models


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "INSERT INTO catalog_searchdocument (product_id, document) "
        "SELECT id, search_vector FROM catalog_product WHERE search_vector IS NOT NULL"
    )
    schema_editor.execute(
        "CREATE INDEX search_document_words ON catalog_searchdocument "
        "USING gin (document) WITH (fastupdate = off)"
    )
    schema_editor.execute("DROP INDEX IF EXISTS product_search_vector")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "UPDATE catalog_product AS p SET search_vector = d.document "
        "FROM catalog_searchdocument AS d WHERE d.product_id = p.id"
    )
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS product_search_vector ON catalog_product "
        "USING gin (search_vector) WITH (fastupdate = off)"
    )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0017_search_index_without_pending_list")]

    operations = [
        migrations.CreateModel(
            name="SearchDocument",
            fields=[
                (
                    "product",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="search_document",
                        serialize=False,
                        to="catalog.product",
                    ),
                ),
                ("document", django.contrib.postgres.search.SearchVectorField()),
            ],
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RemoveField(model_name="product", name="search_vector"),
    ]
