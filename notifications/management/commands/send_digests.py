"""``manage.py send_digests [--now ISO-DATETIME]``: the digest job by hand (beat runs it every
15 minutes). ``--now`` pretends it is that moment (a naive time is read in TIME_ZONE)."""

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from notifications import services


class Command(BaseCommand):
    help = "Send the daily digests that are due now (or at --now)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--now",
            help="Run as if it were this moment, e.g. 2026-03-09T08:00 or 2026-03-09T08:00+01:00.",
        )

    def handle(self, *args, now=None, **options):
        moment = None
        if now:
            try:
                moment = dt.datetime.fromisoformat(now)
            except ValueError:
                raise CommandError(
                    f"--now {now!r} is not an ISO date-time; write it like 2026-03-09T08:00 or "
                    "2026-03-09T08:00+01:00."
                ) from None
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
        summary = services.send_digests(now=moment)
        self.stdout.write(
            f"Digests at {summary.now:%Y-%m-%d %H:%M %Z}: {summary.due} due, {summary.sent} sent, "
            f"{summary.empty} with nothing to say, {summary.failed} failed (tried again later), "
            f"{summary.invalid_address} without a valid address, {summary.skipped} already done."
        )
        if options.get("verbosity", 1) > 1:
            self.stdout.write(json.dumps(summary.as_dict()))
