"""Typo correction no longer asks PostgreSQL for similar words (catalog.search ranks them in
memory by edit distance): the trigram index on the words only slowed their writes."""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS search_term_word_trigram")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS search_term_word_trigram "
            "ON catalog_searchterm USING gin (word gin_trgm_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0013_search_word_counts")]

    operations = [migrations.RunPython(forwards, backwards)]
