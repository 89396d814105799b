"""Export every product as CSV, one row per variant, streamed (re-importable)."""

from django.core.management.base import BaseCommand, CommandError

from catalog.csv_io import export_products


class Command(BaseCommand):
    help = "Write all products as CSV (one row per variant) to stdout or --output FILE."

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", help="file to write (default: standard output)")

    def handle(self, *args, output, **options):
        if output is None:
            for line in export_products():
                self.stdout.write(line, ending="")
            return
        try:
            with open(output, "w", encoding="utf-8", newline="") as handle:
                rows = -1  # the header line is not a row
                for line in export_products():
                    handle.write(line)
                    rows += 1
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror or exc}") from None
        self.stderr.write(f"{rows} variants written to {output}.")
