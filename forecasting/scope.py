"""What a page of numbers is about: who is asking and what they filtered on.

:class:`ViewerScope` holds what every forecast page and report shares (the viewer, a
pipeline, a team, one person) and the one way they narrow a queryset;
:class:`ForecastScope` adds the period of the forecast pages, and
:class:`forecasting.reports.scope.ReportScope` the date range and lead source of the
reports. Every scoped queryset starts from ``visible_to(scope.user)`` (the one visibility
rule) and is then narrowed, never widened."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from django.db.models import Q
from django.utils import timezone

from accounts import visibility
from accounts.models import Team, User
from forecasting.dealstate import live_deals
from forecasting.models import ForecastSnapshot
from forecasting.periods import Period, add_months
from forecasting.winrates import empirical_stage_rates
from pipeline.models import Opportunity, Pipeline


@dataclass(kw_only=True)
class ViewerScope:
    """The viewer and the filters every page of numbers shares; the one place that narrows
    queries by them."""

    user: User
    pipeline: Pipeline | None = None
    team: Team | None = None

    @property
    def person(self) -> User | None:
        """The one owner the scope is narrowed to, if any (a forecast's rep, a report's
        owner)."""
        return None

    def narrow(self, qs, owner_field: str = "owner", *, by_pipeline: bool = True):
        """``qs`` narrowed by the pipeline (unless ``by_pipeline`` is False: leads and
        activities have none), the owner's team and the one owner."""
        if by_pipeline and self.pipeline:
            qs = qs.filter(pipeline=self.pipeline)
        if self.team:
            qs = qs.filter(**{f"{owner_field}__team": self.team})
        if self.person:
            qs = qs.filter(**{owner_field: self.person})
        return qs

    def of_visible_deals(self, qs, prefix: str = "opportunity__"):
        """Rows of ``qs`` (a model with a deal at ``prefix``) whose deal the viewer may see and
        the scope covers: the deal rule (``owner_q`` on the deal's owner) and the pipeline,
        team and person filters, all on the rows' own join to their deal. The same rows as
        ``deal__in=<the scope's deals>``, without a second pass over the deals."""
        rule = visibility.owner_q(self.user, f"{prefix}owner")
        if rule is not None:
            qs = qs.filter(rule)
        if self.pipeline is not None:
            qs = qs.filter(**{f"{prefix}pipeline": self.pipeline})
        return self.narrow(qs, f"{prefix}owner", by_pipeline=False)


@dataclass(kw_only=True)
class ForecastScope(ViewerScope):
    """A forecast page's scope: the filters and the period (a month or a quarter)."""

    period: Period
    rep: User | None = None

    @property
    def person(self) -> User | None:
        return self.rep

    def querystring(self, **extra) -> str:
        params = {"period": self.period.param}
        if self.pipeline:
            params["pipeline"] = self.pipeline.pk
        if self.team:
            params["team"] = self.team.pk
        if self.rep:
            params["rep"] = self.rep.pk
        params.update({k: v for k, v in extra.items() if v not in (None, "")})
        return urlencode(params)

    def opportunities(self):
        return self.narrow(Opportunity.objects.visible_to(self.user))

    def snapshots(self):
        return self.narrow(ForecastSnapshot.objects.visible_to(self.user))

    def reps(self) -> list[User]:
        """The people whose rows the scope shows (visible, narrowed by team and rep)."""
        qs = visibility.visible_users(self.user).select_related("team")
        if self.team:
            qs = qs.filter(team=self.team)
        if self.rep:
            qs = qs.filter(pk=self.rep.pk)
        return list(qs.order_by("first_name", "last_name", "username"))

    def teams(self) -> list[Team]:
        """Teams the scope covers: the filtered team, a rep's team, or every visible team."""
        if self.rep:
            return []
        if self.team:
            return [self.team]
        if "_teams" not in self.__dict__:
            self.__dict__["_teams"] = list(visibility.visible_teams(self.user).order_by("name"))
        return self.__dict__["_teams"]

    @property
    def is_everyone(self) -> bool:
        return visibility.sees_every_record(self.user) and not (self.team or self.rep)


def scoped_deals(scope: ForecastScope, *, rates: dict[int, int] | None = None, fx=None):
    """The scope's deals as they stand today; ``fx`` (today's exchange rates) may be passed by
    a page that runs several such queries, so the rates are read once."""
    if rates is None:
        rates = empirical_stage_rates(on=timezone.localdate())
    return live_deals(rates=rates, queryset=scope.opportunities(), fx=fx)


def dated_in(months: list[dt.date]) -> Q:
    """Deals whose expected close date or closed date falls in ``months`` (consecutive first
    days): every deal whose period is one of them, and a few more (a closed deal expected in
    the range but closed outside it), read through the two dates' indexes."""
    start, end = months[0], add_months(months[-1], 1)
    return Q(expected_close_date__gte=start, expected_close_date__lt=end) | Q(
        closed_on__gte=start, closed_on__lt=end
    )


def months_filter(months: list[dt.date]) -> Q:
    """Live deals (``scoped_deals``) whose period is one of ``months`` (consecutive first days).

    The period is a month of a computed date, which no index holds; so the condition also
    says the same thing of the stored dates it comes from (:func:`dated_in`: a deal whose
    period falls in the range has its expected close date or its closed date in it, DESIGN
    §3). That half is implied by the first and changes no answer, but lets PostgreSQL read
    only the range's deals through the date indexes instead of computing every deal's
    period."""
    return Q(s_period__gte=months[0], s_period__lte=months[-1]) & dated_in(months)
