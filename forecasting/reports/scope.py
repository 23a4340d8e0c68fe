"""What a report is about: the viewer, the date range and the filters, and the scoped base
querysets every report starts from.

Every base queryset starts from ``visible_to(scope.user)`` (the one visibility rule), so a
rep's reports cover their own records, a manager's their team's, an admin's everything.
Filters then narrow it: pipeline, team (of the owner), rep (owner) and lead source (the
source of the lead a deal was converted from; deals created without a lead have none).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from accounts import visibility
from forecasting.periods import add_months, end_of_day, start_of_day
from forecasting.scope import ViewerScope
from pipeline import conversion
from pipeline.models import Activity, Lead, LineItem, Opportunity, Stage, StageTransition

DEFAULT_IDLE_DAYS = 14
NO_PRODUCT = "none"
NO_CATEGORY = "No category"  # the product filter's value for deals without line items
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
    # A Product: deals selling it; NO_PRODUCT: deals without line items; a category name
    # (``category``): deals selling a product of that category.
    product: object = None
    category: str = ""
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
            "product": getattr(self.product, "pk", self.product) or "",
            "category": self.category,
        }
        values.update(overrides)
        return {k: str(v) for k, v in values.items() if v not in ("", None)}

    def querystring(self, **overrides) -> str:
        return urlencode(self.params(**overrides))

    def narrowed(self, **changes) -> ReportScope:
        """This scope with ``changes`` (``dataclasses.replace``), keeping what it has read
        that they leave valid: the day's exchange rates (same moment) and the open stages
        (same pipeline). A page that shows one scope several ways (a rep's scorecard) reads
        them once."""
        other = replace(self, **changes)
        if "_fx" in self.__dict__ and other.now == self.now:
            other.__dict__["_fx"] = self.__dict__["_fx"]
        if "_open_stages" in self.__dict__ and other.pipeline == self.pipeline:
            other.__dict__["_open_stages"] = self.__dict__["_open_stages"]
        return other

    # --- stages ---------------------------------------------------------------------------
    def open_stages(self) -> list[tuple[int, int | None]]:
        """(id, rotting threshold) of the open stages in scope (the pipeline's, or every
        pipeline's): one small query, read once per scope."""
        if "_open_stages" not in self.__dict__:
            stages = Stage.objects.filter(kind=Stage.Kind.OPEN)
            if self.pipeline is not None:
                stages = stages.filter(pipeline=self.pipeline)
            self.__dict__["_open_stages"] = list(stages.values_list("pk", "rot_after_days"))
        return self.__dict__["_open_stages"]

    # --- money ----------------------------------------------------------------------------
    def rates(self) -> dict:
        """The exchange rates of the report's day (read once per scope)."""
        if "_fx" not in self.__dict__:
            self.__dict__["_fx"] = conversion.rates_on(self.today)
        return self.__dict__["_fx"]

    def amount(self, prefix: str = ""):
        """A deal's amount in the reporting currency as of the report's day: open deals at
        that day's rates, closed deals at their closed date's (``pipeline.conversion``)."""
        return conversion.deal_amount(self.rates(), prefix)

    def open_amount(self):
        """An open deal's amount in the reporting currency (the report day's rates): what
        :meth:`amount` gives an open deal, from the deal's own columns alone, so that a sum
        over :meth:`open_deals` can be read from the owner/stage/amount index."""
        return conversion.open_amount(F("amount"), F("currency"), self.rates())

    # --- scoped base querysets ------------------------------------------------------------
    def deals(self, *, source: bool = True):
        qs = self.narrow(Opportunity.objects.visible_to(self.user))
        if source and self.source:
            qs = qs.filter(lead__source=self.source)
        return self.narrow_by_product(qs)

    def open_deals(self):
        """The scope's open deals, selected by the open stages' ids (:meth:`open_stages`)
        rather than a join on the stage's kind, and by their empty closed date (which the
        services keep empty on every open deal), so the database reads them from the
        open-deals index (``opp_owner_open``) rather than from the table."""
        return self.deals().filter(
            stage_id__in=[pk for pk, _ in self.open_stages()], closed_on__isnull=True
        )

    def narrow_by_product(self, qs, prefix: str = ""):
        """``qs`` (deals, or rows of a deal via ``prefix``) narrowed by the product filter."""
        pk = f"{prefix}pk" if prefix else "pk"
        lines = LineItem.objects.filter(opportunity=OuterRef(pk))
        if self.product == NO_PRODUCT:
            qs = qs.filter(~Exists(lines))
        elif self.product is not None:
            qs = qs.filter(Exists(lines.filter(product=self.product)))
        if self.category:
            category = "" if self.category == NO_CATEGORY else self.category
            qs = qs.filter(Exists(lines.filter(product__category=category)))
        return qs

    def leads(self):
        """Leads in scope; the pipeline filter applies to the deals they became, not here."""
        qs = self.narrow(Lead.objects.visible_to(self.user), by_pipeline=False)
        if self.source:
            qs = qs.filter(source=self.source)
        return qs

    def activities(self):
        return self.narrow(Activity.objects.visible_to(self.user), by_pipeline=False)

    def logged_activities(self):
        """The scope's activities logged by people the viewer may see (a subset of
        :meth:`activities`, ``Activity.objects.logged_by_visible``): what counts per person
        read."""
        return self.narrow(Activity.objects.logged_by_visible(self.user), by_pipeline=False)

    def transitions(self):
        """Stage transitions of the deals in scope.

        When the scope is every deal of the pipeline (an admin, no people or source filter),
        the pipeline's stages select the rows on their own, without a semi-join over all
        deals."""
        narrowed = self.team or self.owner or self.source or self.product or self.category
        if visibility.sees_every_record(self.user) and not narrowed:
            qs = StageTransition.objects.all()
            if self.pipeline is not None:
                qs = qs.filter(to_stage__pipeline=self.pipeline)
            return qs
        if not (self.source or self.product or self.category):
            # On the transitions' own join to their deal, which a report reading the deal's
            # columns (its current stage) shares.
            return self.of_visible_deals(StageTransition.objects.all())
        return StageTransition.objects.filter(opportunity__in=self.deals().values("pk"))
