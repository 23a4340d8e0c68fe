from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from pipeline.services.exchange_rates import load_rates


class Command(BaseCommand):
    help = (
        "Load dated exchange rates from a CSV file with the columns date, currency and rate "
        "(units of the reporting currency per unit of currency). A file with a bad row "
        "changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="CSV file, UTF-8, with a header row")

    def handle(self, *args, path, **options):
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise CommandError(f"No file at {file}.") from None
        except UnicodeDecodeError:
            raise CommandError(f"{file} is not a UTF-8 text file.") from None
        except OSError as e:
            raise CommandError(f"Cannot read {file}: {e.strerror}.") from None
        try:
            result = load_rates(text)
        except ValidationError as e:
            raise CommandError(
                f"{file} was not loaded (nothing changed):\n  " + "\n  ".join(e.messages)
            ) from None
        self.stdout.write(
            f"Loaded {result.created + result.updated} rates from {file}: "
            f"{result.created} new, {result.updated} replaced."
        )
