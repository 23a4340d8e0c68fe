"""Read queries of the notifications app: the digest's content, the bell's count, who may be
mentioned, and the calendar feed's items. Each runs a fixed number of queries, whatever the
number of deals or tasks (the digest benchmark pins that)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse

from accounts import visibility
from accounts.models import User
from forecasting.models import ForecastSnapshot
from forecasting.periods import month_start, quarter_start
from notifications.models import Notification
from pipeline import conversion
from pipeline.models import Activity, Company, Contact, Lead, Opportunity, Stage

# How many lines of one kind a digest lists before it says "and N more".
SECTION_LIMIT = 20
# How many rows a digest query reads at most (a section then says "and more").
TASK_CAP = 100
DEAL_CAP = 100
ZERO = Decimal("0")


# --- the bell and the list -------------------------------------------------------------------


def unread_count(user) -> int:
    """One cheap query on a partial index (recipient's unread in-app notifications)."""
    return Notification.objects.visible_to(user).unread().count()


def notifications_for(user):
    return Notification.objects.visible_to(user).select_related("actor")


# --- @mentions -------------------------------------------------------------------------------

# A mention is "@" + a username (Django's characters: letters, digits and @ . + - _), not
# preceded by a word character (so "bob@example.com" is no mention); a trailing dot or dash
# ends the sentence rather than the name.
MENTION_RE = re.compile(r"(?<![\w@.+-])@([\w.@+-]{1,150})")


def parse_mentions(text: str) -> list[str]:
    """The usernames mentioned in ``text``, lower-cased, in order of first appearance."""
    seen: dict[str, None] = {}
    for match in MENTION_RE.finditer(text or ""):
        name = match.group(1).rstrip(".-+@").lower()
        if name:
            seen.setdefault(name, None)
    return list(seen)


def mentionable_users(author):
    """Whom ``author`` may mention: the active users they may see (``visible_users``) and the
    managers of their own team, so a rep can call in their manager but never names a person
    outside their scope."""
    if not visibility._is_active(author):
        return User.objects.none()
    q = Q(pk__in=visibility.visible_users(author).values("pk"))
    if author.team_id:
        q |= Q(managed_teams__id=author.team_id)
    return User.objects.filter(q, is_active=True).distinct()


def mention_suggestions(author, prefix: str, limit: int = 8) -> list[dict]:
    prefix = (prefix or "").strip().lstrip("@")[:150]
    qs = mentionable_users(author).exclude(pk=author.pk)
    if prefix:
        qs = qs.filter(
            Q(username__istartswith=prefix)
            | Q(first_name__istartswith=prefix)
            | Q(last_name__istartswith=prefix)
        )
    rows = qs.order_by("username").values("username", "first_name", "last_name")[:limit]
    return [
        {
            "username": r["username"],
            "name": f"{r['first_name']} {r['last_name']}".strip() or r["username"],
        }
        for r in rows
    ]


def mentioned_recipients(author, text: str, activity: Activity) -> list[User]:
    """Users mentioned in ``text`` whom ``author`` may mention and who may see ``activity``."""
    names = parse_mentions(text)
    if not names:
        return []
    candidates = [
        u for u in mentionable_users(author).exclude(pk=author.pk) if u.username.lower() in names
    ]
    return [u for u in candidates if Activity.objects.visible_to(u).filter(pk=activity.pk).exists()]


# --- the digest ------------------------------------------------------------------------------


@dataclass
class Line:
    text: str
    url: str
    detail: str = ""


@dataclass
class Section:
    key: str
    title: str
    lines: list[Line] = field(default_factory=list)
    more: int = 0
    # True when the query stopped reading at its cap: "and more" rather than an exact count.
    at_least: bool = False


@dataclass
class Digest:
    """What one user's digest says, for their local ``day``; empty sections are left out."""

    user: User
    day: dt.date
    sections: list[Section] = field(default_factory=list)

    @property
    def item_count(self) -> int:
        return sum(len(s.lines) + s.more for s in self.sections)

    @property
    def is_empty(self) -> bool:
        return not self.sections


class DigestContext:
    """What every digest of one run shares, read once: the rotting thresholds of the stages
    and the two latest snapshot dates."""

    def __init__(self, now: dt.datetime):
        self.now = now
        self.rot_stages = list(
            Stage.objects.filter(kind=Stage.Kind.OPEN, rot_after_days__isnull=False).values_list(
                "pk", "rot_after_days"
            )
        )
        dates = list(
            ForecastSnapshot.objects.filter(taken_on__lte=now.date() + dt.timedelta(days=1))
            .order_by("-taken_on")
            .values_list("taken_on", flat=True)
            .distinct()[:2]
        )
        self.snapshot_dates = dates
        self._patterns: dict[str, str] = {}

    _DETAIL = {
        Opportunity: "pipeline:opportunity_detail",
        Lead: "pipeline:lead_detail",
        Contact: "pipeline:contact_detail",
        Company: "pipeline:company_detail",
    }
    _PLACEHOLDER = 987654321

    def url(self, obj) -> str:
        """``obj.get_absolute_url()`` for a record's page, with ``reverse`` run once per kind
        and run (a thousand digests would otherwise spend much of their time reversing)."""
        name = self._DETAIL.get(type(obj))
        if name is None:
            return obj.get_absolute_url()
        if name not in self._patterns:
            self._patterns[name] = reverse(name, args=[self._PLACEHOLDER])
        return self._patterns[name].replace(str(self._PLACEHOLDER), str(obj.pk))

    def task_url(self, task: Activity) -> str:
        target = task.target
        return self.url(target) if target is not None else reverse("pipeline:tasks")

    def rotting_q(self) -> Q:
        """DESIGN: a deal rots when its whole days in an open stage exceed the stage's
        threshold, i.e. it entered the stage at least threshold + 1 days ago."""
        q = Q(pk__in=[])
        for stage_id, days in self.rot_stages:
            q |= Q(stage_id=stage_id, stage_entered_at__lte=self.now - dt.timedelta(days=days + 1))
        return q


def _section(key: str, title: str, rows: list, make=None, capped=False) -> Section | None:
    """A section of at most ``SECTION_LIMIT`` lines (and how many more), its lines made only
    for the rows shown. ``capped``: the rows are the first of more."""
    if not rows:
        return None
    shown, more = rows[:SECTION_LIMIT], max(0, len(rows) - SECTION_LIMIT)
    lines = [make(r) for r in shown] if make else shown
    return Section(key=key, title=title, lines=lines, more=more, at_least=capped and more > 0)


def _task_line(task: Activity, today: dt.date, ctx: DigestContext) -> Line:
    target = task.target
    about = f" · {target}" if target is not None else ""
    if task.due_on < today:
        days = (today - task.due_on).days
        detail = f"{days} day{'s' if days != 1 else ''} overdue"
    else:
        detail = "due today"
    return Line(text=f"{task.subject}{about}", url=ctx.task_url(task), detail=detail)


def _money(value) -> str:
    from pipeline.templatetags.opportune import money

    return money(value)


def _deal_line(deal: Opportunity, detail: str, ctx: DigestContext) -> Line:
    return Line(
        text=f"{deal.name} · {_money(deal.amount)} · {deal.stage.name}",
        url=ctx.url(deal),
        detail=detail,
    )


def personal_sections(user: User, *, day: dt.date, ctx: DigestContext) -> list[Section]:
    """A person's own day: their overdue and due-today tasks, their rotting deals, deals whose
    close date passed and deals whose close date slipped in the last 24 hours. Three queries."""
    now = ctx.now
    sections: list[Section | None] = []
    tasks = list(
        Activity.objects.visible_to(user)
        .open_tasks()
        .filter(owner=user, due_on__lte=day)
        .select_related("opportunity", "lead", "contact", "company")
        .order_by("due_on", "pk")[:TASK_CAP]
    )
    capped = len(tasks) == TASK_CAP
    task_line = lambda t: _task_line(t, day, ctx)  # noqa: E731
    overdue = [t for t in tasks if t.due_on < day]
    due_today = [t for t in tasks if t.due_on == day]
    sections.append(_section("overdue_tasks", "Overdue tasks", overdue, task_line, capped))
    sections.append(_section("due_today", "Tasks due today", due_today, task_line, capped))

    mine = Opportunity.objects.visible_to(user).filter(owner=user, stage__kind=Stage.Kind.OPEN)
    at_risk = list(
        mine.filter(ctx.rotting_q() | Q(expected_close_date__lt=day))
        .select_related("stage")
        .order_by("-amount", "pk")[:DEAL_CAP]
    )
    capped = len(at_risk) == DEAL_CAP
    rotting_ids = {
        d.pk
        for d in at_risk
        if d.stage.rot_after_days is not None and d.days_in_stage(now) > d.stage.rot_after_days
    }
    rotting = [d for d in at_risk if d.pk in rotting_ids]
    past = [d for d in at_risk if d.expected_close_date < day]
    sections.append(
        _section(
            "rotting",
            "Deals going stale",
            rotting,
            lambda d: _deal_line(d, f"{d.days_in_stage(now)} days in {d.stage.name}", ctx),
            capped,
        )
    )
    sections.append(
        _section(
            "past_close",
            "Close date passed",
            past,
            lambda d: _deal_line(d, f"close date {d.expected_close_date:%b %-d} has passed", ctx),
            capped,
        )
    )

    since = now - dt.timedelta(days=1)
    history = Opportunity.history.model
    before = (
        history.objects.filter(id=OuterRef("pk"), history_date__lt=since)
        .order_by("-history_date", "-history_id")
        .values("expected_close_date")[:1]
    )
    changed = history.objects.filter(id=OuterRef("pk"), history_date__gte=since)
    slipped = list(
        mine.filter(pk__in=Subquery(changed.values("id")))
        .annotate(was=Subquery(before))
        .filter(was__isnull=False, expected_close_date__gt=F("was"))
        .select_related("stage")
        .order_by("-amount", "pk")[:DEAL_CAP]
    )
    sections.append(
        _section(
            "slipped",
            "Slipped since yesterday",
            slipped,
            lambda d: _deal_line(
                d, f"close date {d.was:%b %-d} → {d.expected_close_date:%b %-d}", ctx
            ),
            len(slipped) == DEAL_CAP,
        )
    )
    return [s for s in sections if s is not None]


def team_sections(manager: User, *, day: dt.date, ctx: DigestContext) -> list[Section]:
    """A manager's team view: at-risk deals by rep, the forecast's change between the two
    latest snapshots, overdue tasks by rep; money in the reporting currency. Three queries,
    besides the day's exchange rates."""
    team_ids = visibility.managed_team_ids(manager)
    if not team_ids:
        return []
    members = Q(owner__team_id__in=team_ids) & ~Q(owner=manager)
    sections: list[Section | None] = []
    # Totals across deals are in the reporting currency (the day's rates).
    at_risk_amount = conversion.open_amount(F("amount"), F("currency"), conversion.rates_on(day))
    risky = list(
        Opportunity.objects.visible_to(manager)
        .filter(members, stage__kind=Stage.Kind.OPEN)
        .filter(ctx.rotting_q() | Q(expected_close_date__lt=day))
        .values("owner_id", "owner__username", "owner__first_name", "owner__last_name")
        .annotate(n=Count("pk"), total=Coalesce(Sum(at_risk_amount), ZERO))
        .order_by("-total", "owner__username")
    )
    lines = [
        Line(
            text=_name(r),
            url=f"{reverse('pipeline:opportunity_list')}?owner={r['owner_id']}",
            detail=f"{r['n']} deal{'s' if r['n'] != 1 else ''} at risk · {_money(r['total'])}",
        )
        for r in risky
    ]
    sections.append(_section("team_at_risk", "At-risk deals in your team", lines))

    if len(ctx.snapshot_dates) == 2:
        latest, previous = ctx.snapshot_dates
        quarter = quarter_start(latest)
        months = [month_start(quarter + dt.timedelta(days=31 * i + 1)) for i in range(3)]
        rows = {
            r["taken_on"]: r
            for r in ForecastSnapshot.objects.visible_to(manager)
            .filter(
                owner__team_id__in=team_ids,
                taken_on__in=[latest, previous],
                period__in=sorted(set(months)),
            )
            .values("taken_on")
            .annotate(
                won=Coalesce(Sum("won_amount"), ZERO),
                commit=Coalesce(Sum("commit_amount"), ZERO),
                weighted=Coalesce(Sum("weighted_amount"), ZERO),
            )
        }
        new, old = rows.get(latest), rows.get(previous)
        if new and old:
            commit_delta = (new["won"] + new["commit"]) - (old["won"] + old["commit"])
            weighted_delta = (new["won"] + new["weighted"]) - (old["won"] + old["weighted"])
            if commit_delta or weighted_delta:
                sections.append(
                    Section(
                        key="forecast_change",
                        title=f"Team forecast for Q{(quarter.month - 1) // 3 + 1} {quarter.year}",
                        lines=[
                            Line(
                                text="Commit forecast",
                                url=reverse("forecasting:dashboard"),
                                detail=f"{_signed(commit_delta)} since {previous:%b %-d}",
                            ),
                            Line(
                                text="Weighted forecast",
                                url=reverse("forecasting:dashboard"),
                                detail=f"{_signed(weighted_delta)} since {previous:%b %-d}",
                            ),
                        ],
                    )
                )

    overdue = list(
        Activity.objects.visible_to(manager)
        .open_tasks()
        .filter(owner__team_id__in=team_ids, due_on__lt=day)
        .exclude(owner=manager)
        .values("owner_id", "owner__username", "owner__first_name", "owner__last_name")
        .annotate(n=Count("pk"))
        .order_by("-n", "owner__username")
    )
    lines = [
        Line(
            text=_name(r),
            url=reverse("pipeline:tasks"),
            detail=f"{r['n']} overdue task{'s' if r['n'] != 1 else ''}",
        )
        for r in overdue
    ]
    sections.append(_section("team_overdue_tasks", "Overdue tasks in your team", lines))
    return [s for s in sections if s is not None]


def _name(row: dict) -> str:
    full = f"{row['owner__first_name']} {row['owner__last_name']}".strip()
    return full or row["owner__username"]


def _signed(value: Decimal) -> str:
    if value > 0:
        return f"+{_money(value)}"
    if value < 0:
        return f"−{_money(-value)}"
    return _money(value)


def build_digest(user: User, *, day: dt.date, ctx: DigestContext) -> Digest:
    sections = personal_sections(user, day=day, ctx=ctx)
    if visibility.follows_team(user):
        sections += team_sections(user, day=day, ctx=ctx)
    return Digest(user=user, day=day, sections=sections)


# --- the calendar feed -----------------------------------------------------------------------


def calendar_items(user: User):
    """The user's open tasks (with their due dates) and their open deals (expected close
    dates): two queries."""
    tasks = list(
        Activity.objects.visible_to(user)
        .open_tasks()
        .filter(owner=user, due_on__isnull=False)
        .select_related("opportunity", "lead", "contact", "company")
        .order_by("due_on", "pk")
    )
    deals = list(
        Opportunity.objects.visible_to(user)
        .filter(owner=user, stage__kind=Stage.Kind.OPEN)
        .select_related("stage", "company")
        .order_by("expected_close_date", "pk")
    )
    return tasks, deals
