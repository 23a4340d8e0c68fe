import datetime as dt
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import User
from workspace import demo


class Command(BaseCommand):
    help = (
        "Load realistic, deterministic demo data (teams, reps, pipelines, companies, leads, "
        "deals with 24 months of history, activities, quotas) into an empty database, then "
        "back-fill the forecast snapshots over that history."
    )

    def add_arguments(self, parser):
        parser.add_argument("--opportunities", type=int, default=1500)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--today",
            type=dt.date.fromisoformat,
            default=None,
            help="Reference date (YYYY-MM-DD) the history is built around; default today.",
        )
        parser.add_argument(
            "--no-snapshots",
            dest="snapshots",
            action="store_false",
            help="Skip back-filling weekly forecast snapshots over the demo's history.",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing (successfully) when the database already has users.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Load demo data (known passwords) even with production settings.",
        )

    def handle(self, *args, opportunities, seed, today, if_empty, snapshots, **options):
        if not (settings.DEBUG or settings.OPPORTUNE_DEV or options["force"]):
            raise CommandError(
                "Refusing to load demo data: these are production settings (DEBUG is off and "
                "OPPORTUNE_DEV is unset), and the demo users have publicly known passwords. Set "
                "OPPORTUNE_DEV=1 for a development database, or pass --force if you really mean "
                "to add them here."
            )
        if opportunities < 0:
            raise CommandError("--opportunities must be zero or more.")
        if if_empty and User.objects.exists():
            self.stdout.write("Demo data already loaded; nothing to do.")
            return
        started = time.monotonic()

        def loaded(message: str) -> None:
            self.stdout.write(f"  {time.monotonic() - started:6.1f}s  {message}")
            self.stdout.flush()

        try:
            counts = demo.seed(opportunities=opportunities, seed=seed, today=today, progress=loaded)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        summary = ", ".join(f"{n:,} {k}" for k, n in counts.items())
        self.stdout.write(
            self.style.SUCCESS(f"Demo data loaded in {time.monotonic() - started:.1f}s: {summary}")
        )
        if snapshots:
            started = time.monotonic()
            end = today or timezone.localdate()
            self.stdout.write("Back-filling forecast snapshots over the demo's history…")

            last_report = [0.0]

            def snapshot_taken(done: int, total: int, day: dt.date) -> None:
                elapsed = time.monotonic() - started
                if done not in (1, total) and elapsed - last_report[0] < 5:
                    return  # a line every few seconds is enough to show it is moving
                last_report[0] = elapsed
                left = elapsed / done * (total - done)
                self.stdout.write(
                    f"  {elapsed:6.1f}s  snapshot {done}/{total} ({day.isoformat()}), "
                    f"about {left:.0f}s left"
                )
                self.stdout.flush()

            taken = demo.backfill(end=end, progress=snapshot_taken)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Forecast snapshots back-filled for {taken} dates (weekly and each month's "
                    f"first day) in {time.monotonic() - started:.1f}s."
                )
            )
