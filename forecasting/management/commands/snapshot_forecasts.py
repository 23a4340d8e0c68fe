import datetime as dt
import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from forecasting import services


class Command(BaseCommand):
    help = (
        "Take the forecast snapshot of a date (default today): the nightly job, run by hand. "
        "Re-running a date rebuilds its rows."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--date",
            type=dt.date.fromisoformat,
            default=None,
            help="Date to snapshot, YYYY-MM-DD (today or earlier; past dates are "
            "reconstructed from the deals' history). Default: today.",
        )
        parser.add_argument(
            "--since",
            type=dt.date.fromisoformat,
            default=None,
            help="Back-fill weekly snapshots (and each month's first day) from this date "
            "up to --date.",
        )

    def handle(self, *args, date, since, **options):
        day = date or timezone.localdate()
        started = time.monotonic()
        try:
            if since:
                count = services.backfill_snapshots(start=since, end=day)
                what = f"{count} dates from {since} to {day}"
            else:
                rows = services.take_snapshot(taken_on=day)
                what = f"{rows} rows for {day}"
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Forecast snapshot: {what} in {time.monotonic() - started:.1f}s")
        )
