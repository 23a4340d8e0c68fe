"""What a report is about: the viewer, the date range and the filters, and the scoped base
querysets every report starts from.

Every base queryset starts from ``visible_to(scope.user)`` (the one visibility rule), so a
rep's reports cover their own records, a manager's their team's, an admin's everything.
Filters then narrow it: pipeline, team (of the owner), rep (owner) and lead source (the
source of the lead a deal was converted from; deals created without a lead have none).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.utils import timezone

from accounts import visibility
from forecasting.periods import add_months, end_of_day, start_of_day
from forecasting.scope import ViewerScope
from pipeline.models import Activity, Lead, Opportunity, StageTransition

DEFAULT_IDLE_DAYS = 14
DEFAULT_MONTHS = 12


def default_range(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last twelve calendar months, the current one included."""
    return add_months(today, 1 - DEFAULT_MONTHS), today


@dataclass(kw_only=True)
class ReportScope(ViewerScope):
    """A report's scope: the filters, the date range, the lead source and the idle setting,
    and the moment the report is computed at."""

    start: dt.date
    end: dt.date
    owner: object = None
    source: str = ""
    idle_days: int = DEFAULT_IDLE_DAYS
    now: dt.datetime = field(default_factory=timezone.now)

    # --- the range as aware datetimes: [start 00:00, day after end 00:00) -----------------
    @property
    def start_at(self) -> dt.datetime:
        return start_of_day(self.start)

    @property
    def end_at(self) -> dt.datetime:
        return end_of_day(self.end)

    @property
    def today(self) -> dt.date:
        return timezone.localdate(self.now)

    @property
    def person(self):
        return self.owner

    def params(self, **overrides) -> dict[str, str]:
        """The filters as querystring values (what the URL holds), with overrides applied;
        an override of ``None`` removes the key."""
        values = {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "pipeline": self.pipeline.pk if self.pipeline else "",
            "team": self.team.pk if self.team else "",
            "owner": self.owner.pk if self.owner else "",
            "source": self.source,
            "idle": self.idle_days if self.idle_days != DEFAULT_IDLE_DAYS else "",
        }
        values.update(overrides)
        return {k: str(v) for k, v in values.items() if v not in ("", None)}

    def querystring(self, **overrides) -> str:
        return urlencode(self.params(**overrides))

    # --- scoped base querysets ------------------------------------------------------------
    def deals(self, *, source: bool = True):
        qs = self.narrow(Opportunity.objects.visible_to(self.user))
        if source and self.source:
            qs = qs.filter(lead__source=self.source)
        return qs

    def leads(self):
        """Leads in scope; the pipeline filter applies to the deals they became, not here."""
        qs = self.narrow(Lead.objects.visible_to(self.user), by_pipeline=False)
        if self.source:
            qs = qs.filter(source=self.source)
        return qs

    def activities(self):
        return self.narrow(Activity.objects.visible_to(self.user), by_pipeline=False)

    def transitions(self):
        """Stage transitions of the deals in scope.

        When the scope is every deal of the pipeline (an admin, no people or source filter),
        the pipeline's stages select the rows on their own, without a semi-join over all
        deals."""
        if visibility.sees_every_record(self.user) and not (self.team or self.owner or self.source):
            qs = StageTransition.objects.all()
            if self.pipeline is not None:
                qs = qs.filter(to_stage__pipeline=self.pipeline)
            return qs
        return StageTransition.objects.filter(opportunity__in=self.deals().values("pk"))
