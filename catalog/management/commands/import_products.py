"""Import products from a CSV file (columns: see catalog/csv_io.py or the README)."""

from django.core.management.base import BaseCommand, CommandError

from catalog.csv_io import ImportFileError, import_products


class Command(BaseCommand):
    help = (
        "Create or update products and variants from a CSV file, one row per SKU. A file with "
        "any bad row imports nothing unless --skip-invalid."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file (UTF-8, with a header line)")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="import the good rows and report the bad ones, instead of importing nothing",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check and count, but write nothing"
        )

    def handle(self, *args, file, skip_invalid, dry_run, **options):
        try:
            with open(file, "rb") as handle:
                report = import_products(file=handle, skip_invalid=skip_invalid, dry_run=dry_run)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}") from None
        except ImportFileError as exc:
            raise CommandError(f"{file}: {exc.message} Nothing was imported.") from None
        for error in report.errors:
            self.stderr.write(f"{file}: {error}")
        self.stdout.write(report.summary())
        if report.errors and not skip_invalid:
            raise CommandError(
                "Nothing was imported: fix the rows above, or use --skip-invalid "
                "to import the good rows."
            )
        if dry_run:
            self.stdout.write("Dry run: nothing was written.")
        elif report.imported:
            self.stdout.write(self.style.SUCCESS("Imported."))
