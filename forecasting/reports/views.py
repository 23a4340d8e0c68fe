"""Report pages: parse the filters from the URL, call one selector, render its chart and
tables — or, with ``?export=csv`` (and ``&table=<key>`` on pages with two tables), return
exactly the table shown as CSV."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from accounts import visibility
from config.routers import reads_from_replica
from forecasting import spans
from forecasting.models import PeriodKind
from forecasting.periods import Period
from forecasting.reports import drilldown as drilldown_report
from forecasting.reports import funnel as funnel_report
from forecasting.reports import pipeline_created as pipeline_report
from forecasting.reports import priorities as priorities_report
from forecasting.reports import products as products_report
from forecasting.reports import rotting as rotting_report
from forecasting.reports import scorecards as scorecards_report
from forecasting.reports import stages as stages_report
from forecasting.reports import win_rate as win_rate_report
from forecasting.reports.export import csv_response
from forecasting.reports.forms import ReportFilterForm, ReportOptionsForm, period_bounds
from forecasting.reports.scope import DEFAULT_IDLE_DAYS, default_range
from forecasting.reports.tables import Report
from pipeline import read_cache
from pipeline.models import Pipeline

RANGE_FIELDS = ("start", "end", "pipeline", "team", "owner", "source", "product", "category")

REPORTS = [
    {
        "name": "report_funnel",
        "title": "Funnel",
        "question": "Where do leads drop out before they become revenue?",
        "about": "Leads created → prospects → opportunities → won, with the conversion between "
        "each step, by lead source, rep or team.",
    },
    {
        "name": "report_stages",
        "title": "Stage conversion and time in stage",
        "question": "Which stage loses most deals, and where do they stall?",
        "about": "For each stage: how many deals moved on, were lost or are still there, how "
        "long finished stays lasted and how long the open deals have been there (median and "
        "mean of each), and the win rate from it.",
    },
    {
        "name": "report_win_rate",
        "title": "Win rate, deal size, cycle and velocity",
        "question": "Are we winning more, bigger and faster than last month?",
        "about": "Win rate, average won amount, sales cycle and pipeline velocity, month by month.",
    },
    {
        "name": "report_pipeline",
        "title": "Pipeline created, revenue won, lost reasons",
        "question": "Are we creating enough pipeline, and why do we lose?",
        "about": "Deals created and revenue won by month, and the reasons recorded on lost deals.",
    },
    {
        "name": "report_rotting",
        "title": "Rotting and slipping deals",
        "question": "What is rotting, idle, overdue or being pushed out?",
        "about": "Open deals past their stage's rotting threshold, without activity, past "
        "their close date, or whose close date keeps moving out.",
    },
    {
        "name": "report_scorecards",
        "title": "Rep scorecards",
        "question": "Which rep needs help, and with what?",
        "about": "Each rep beside the per-rep average and the team total: win rate, cycle, "
        "average deal, activities, open pipeline and quota attainment; one page per rep for a "
        "coaching conversation.",
    },
    {
        "name": "report_products",
        "title": "Products",
        "question": "What sells, and what do we win?",
        "about": "Won revenue, pipeline, win rate and average won deal by product and by "
        "product category, in the reporting currency.",
    },
    {
        "name": "report_priorities",
        "title": "Today's priorities",
        "question": "Where should a rep spend today?",
        "about": "Open deals and tasks ranked by weighted amount, closeness of the close date, "
        "staleness and overdue next steps.",
    },
]
REPORT_BY_NAME = {r["name"]: r for r in REPORTS}
REPORT_BY_NAME["report_deals"] = {
    "name": "report_deals",
    "title": "Deals behind a number",
    "question": "Which deals make up this figure?",
}
DRILL_PAGE = 100
KEEP_PARAMS = ("group", "flag", "sort", "kind", "month", "stage", "outcome", "reason", "won")


def _options(request) -> dict:
    """The report parameters of the query string besides the filter bar, validated once per
    request (:class:`ReportOptionsForm`; a malformed or out-of-range value is a 400)."""
    if not hasattr(request, "_report_options"):
        request._report_options = ReportOptionsForm.parse(request.GET)
    return request._report_options


def _exporting(request) -> bool:
    return _options(request)["export"] == "csv"


def _form(request, *, fields=RANGE_FIELDS, require_pipeline=False):
    """The filter form bound to the querystring, with the default range (and pipeline) filled
    in where the URL has none, so the form always shows what the report covers.

    A ``?period=`` (year, quarter or month) replaces the dates. Without dates or a period the
    report covers the last twelve months, or, when the viewer's deals in scope have nothing
    in them (a history imported from earlier years), the twelve months up to the latest day a
    deal was created or closed. ``form.shown`` says which range it is, ``form.periods`` lists
    the periods from the first deal to a year ahead."""
    _options(request)
    data = request.GET.copy()
    dated = "start" in fields
    if dated:
        fields = (*fields, "period")
    given = any((data.get(k) or "").strip() for k in ("start", "end", "period"))
    today = timezone.localdate()
    start, end = default_range(today)
    bounds = period_bounds(data.get("period", "")) if dated else None
    if bounds:
        # The form shows the period's dates (and the period wins over dates in the URL).
        data["start"], data["end"] = (d.isoformat() for d in bounds)
    if "start" in fields and not data.get("start"):
        data["start"] = start.isoformat()
    if "end" in fields and not data.get("end"):
        data["end"] = end.isoformat()
    if "idle" in fields and not data.get("idle"):
        data["idle"] = str(DEFAULT_IDLE_DAYS)
    if require_pipeline and not data.get("pipeline"):
        first = Pipeline.objects.order_by("position", "id").values_list("pk", flat=True).first()
        if first is not None:
            data["pipeline"] = str(first)

    def bind():
        form = ReportFilterForm(
            data, user=request.user, fields=fields, require_pipeline=require_pipeline
        )
        return form, (form.scope() if form.is_valid() else None)

    form, scope = bind()
    form.periods, form.shown, form.period_value = [], "", ""
    if scope is None or not dated:
        return form, scope
    first, last = read_cache.cached_for(
        scope, "latest", lambda: spans.latest_activity(scope.deals())
    )
    moved = False
    if not given and last is not None and last < start:
        data["start"], data["end"] = (d.isoformat() for d in default_range(last))
        form, scope = bind()
        if scope is None:
            return form, scope
        moved = True
    form.periods = spans.report_periods(first, today)
    form.period_value = _period_value(scope.start, scope.end)
    form.shown = _shown(scope, moved=moved, default=not given)
    return form, scope


def _period_value(start, end) -> str:
    """The ``?period=`` value naming exactly ``start``..``end``, if one does."""
    if start.day == 1 and start.month == 1 and end == dt.date(start.year, 12, 31):
        return str(start.year)
    for kind in (PeriodKind.QUARTER, PeriodKind.MONTH):
        period = Period(kind, start)
        starts = start.day == 1 and (kind == PeriodKind.MONTH or start.month % 3 == 1)
        if starts and period.last_day == end:
            return period.param
    return ""


def _day(day) -> str:
    return f"{day:%b} {day.day}, {day.year}"  # the app's one date style


def _shown(scope, *, moved: bool, default: bool) -> str:
    span = f"{_day(scope.start)} – {_day(scope.end)}"
    if moved:
        return (
            "No deal in view was created or closed in the last 12 months, so this shows the "
            f"12 months up to the latest one: {span}."
        )
    if default:
        return f"Showing the last 12 months: {span}."
    return f"Showing {span}."


def _page(request) -> int:
    return _options(request)["page"] or 1


def _pager(request, total: int, per_page: int):
    """The page navigation of a listing longer than one page (``None`` otherwise)."""
    if total <= per_page:
        return None
    return Paginator(range(total), per_page).get_page(_page(request))


def _without_page(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def _csv_url(request, table_key: str) -> str:
    params = request.GET.copy()
    params["export"] = "csv"
    params["table"] = table_key
    params.pop("page", None)
    return f"?{params.urlencode()}"


def _respond(request, name: str, form, report, *, template=None, filename=None, **context):
    """Render the report page, or its CSV when ``?export=csv``."""
    if _exporting(request):
        if report is None:
            errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
            return HttpResponse(
                f"Fix the filters first: {errors}", status=400, content_type="text/plain"
            )
        table = report.get_table(_options(request)["table"] or None)
        if table is None:
            raise Http404("No such table on this report.")
        return csv_response(table, filename=f"{filename or name}-{table.key}")
    meta = REPORT_BY_NAME.get(name, {})
    # Report-specific parameters the filter form must carry along when it is re-submitted.
    keep = {k: request.GET[k] for k in KEEP_PARAMS if request.GET.get(k)}
    tables = report.tables if report else []
    return render(
        request,
        template or "forecasting/reports/report.html",
        {
            "meta": meta,
            "form": form,
            "report": report,
            "tables": [(t, _csv_url(request, t.key)) for t in tables],
            "reports": REPORTS,
            "url_name": name,
            "keep": keep,
            **context,
        },
    )


@login_required
def index(request):
    reports = [{**r, "url": reverse(f"forecasting:{r['name']}")} for r in REPORTS]
    return render(request, "forecasting/reports/index.html", {"reports": reports})


@login_required
@reads_from_replica
def funnel(request):
    form, scope = _form(request)
    group, tabs = _group_tabs(request, funnel_report.FUNNEL_GROUPS, default="source")
    report = None
    if scope:
        build = lambda: funnel_report.funnel(scope, group=group)  # noqa: E731
        report = read_cache.cached_for(scope, "funnel", build, group=group)
    return _respond(request, "report_funnel", form, report, tabs=tabs, tab=group)


def _group_tabs(request, groups: dict[str, str], *, default: str):
    """The report's grouping (``?group=``, ``default`` when missing or unknown) and one tab
    per grouping, each a link to this page with the same filters."""
    group = _options(request)["group"] or default
    if group not in groups:
        group = default
    tabs = []
    for key, label in groups.items():
        params = request.GET.copy()
        params["group"] = key
        params.pop("export", None)
        tabs.append((key, f"By {label.lower()}", f"?{params.urlencode()}"))
    return group, tabs


@login_required
@reads_from_replica
def stages(request):
    form, scope = _form(request, require_pipeline=True)
    report = None
    if scope and scope.pipeline:
        report = read_cache.cached_for(scope, "stages", lambda: stages_report.stages(scope))
    return _respond(request, "report_stages", form, report)


@login_required
@reads_from_replica
def win_rate(request):
    form, scope = _form(request)
    report = (
        read_cache.cached_for(scope, "win_rate", lambda: win_rate_report.win_rate(scope))
        if scope
        else None
    )
    return _respond(request, "report_win_rate", form, report)


@login_required
@reads_from_replica
def pipeline_by_month(request):
    form, scope = _form(request)
    report = None
    if scope:
        build = lambda: pipeline_report.pipeline_by_month(scope)  # noqa: E731
        report = read_cache.cached_for(scope, "pipeline", build)
    return _respond(request, "report_pipeline", form, report)


@login_required
@reads_from_replica
def rotting(request):
    form, scope = _form(request, fields=("pipeline", "team", "owner", "source", "product", "idle"))
    flag = _options(request)["flag"]
    if flag not in rotting_report.ROT_FLAGS:
        flag = ""
    sort = _options(request)["sort"] or "-amount"
    exporting = _exporting(request)
    report = None
    pager = None
    if scope:
        limit = None if exporting else rotting_report.ROT_PAGE
        page = _page(request)
        report = read_cache.cached_for(
            scope,
            "rotting",
            lambda: rotting_report.rotting(scope, flag=flag, sort=sort, page=page, limit=limit),
            flag=flag,
            sort=sort,
            page=page,
            limit=limit,
        )
        sorted_by = sort if sort.lstrip("-") in rotting_report.ROT_SORTS else "-amount"
        table = report.get_table("deals")
        table.sorted_by = sorted_by
        for key in rotting_report.ROT_SORTS:
            params = request.GET.copy()
            params.pop("page", None)
            # First click sorts descending (biggest, oldest first); a second click flips it.
            params["sort"] = key if sorted_by == f"-{key}" else f"-{key}"
            table.sort_urls[key] = f"?{params.urlencode()}"
        pager = _pager(request, report.extra["total_rows"], rotting_report.ROT_PAGE)
    tabs = []
    for key, label in [("", "All flagged"), *rotting_report.ROT_FLAGS.items()]:
        params = request.GET.copy()
        params.pop("page", None)
        params.pop("export", None)
        if key:
            params["flag"] = key
        else:
            params.pop("flag", None)
        count = report.extra["summary"][key or "flagged"] if report else None
        tabs.append((key, label, f"?{params.urlencode()}", count))
    return _respond(
        request,
        "report_rotting",
        form,
        report,
        template="forecasting/reports/rotting.html",
        tabs=tabs,
        tab=flag,
        pager=pager,
        page_qs=_without_page(request),
    )


@login_required
@reads_from_replica
def products(request):
    form, scope = _form(request)
    group, tabs = _group_tabs(request, products_report.GROUPS, default="product")
    report = None
    if scope:
        build = lambda: products_report.products(scope, group=group)  # noqa: E731
        report = read_cache.cached_for(scope, "products", build, group=group)
    return _respond(request, "report_products", form, report, tabs=tabs, tab=group)


def _scorecards(scope):
    report = scorecards_report.scorecards(scope)
    report.tables.append(products_report.deal_size_table(scope))
    return report


@login_required
@reads_from_replica
def scorecards(request):
    form, scope = _form(request)
    report = (
        read_cache.cached_for(scope, "scorecards", lambda: _scorecards(scope)) if scope else None
    )
    return _respond(request, "report_scorecards", form, report)


def _scorecard(scope, rep):
    """One rep's scorecard: their figures, win-rate trend, stages and flagged deals."""
    # Read once here, shared by the narrowed scopes below (ReportScope.narrowed).
    scope.rates()
    scope.open_stages()
    report = scorecards_report.scorecard(scope.narrowed(owner=None), rep)
    own = scope.narrowed(owner=rep)
    trend = win_rate_report.win_rate(own)
    flagged = rotting_report.rotting(own, limit=10)
    stage_pipeline = scope.pipeline or Pipeline.objects.order_by("position", "id").first()
    tables = [trend.table]
    if stage_pipeline is not None:
        stage_report = stages_report.stages(own.narrowed(pipeline=stage_pipeline))
        tables.append(stage_report.table)
        report.findings.extend(stage_report.findings)
    tables.append(flagged.get_table("deals"))
    report.tables.extend(tables)
    report.chart = trend.chart
    return report, {"flagged": flagged.extra}


@login_required
@reads_from_replica
def scorecard(request, user_id: int):
    rep = visibility.visible_users(request.user).filter(pk=user_id).select_related("team").first()
    if rep is None:
        raise Http404("No such rep in your scope.")
    form, scope = _form(request, fields=("start", "end", "pipeline"))
    report = None
    extra = {}
    if scope:
        build = lambda: _scorecard(scope, rep)  # noqa: E731
        report, extra = read_cache.cached_for(scope, "scorecard", build, rep=rep)
    return _respond(
        request,
        "report_scorecards",
        form,
        report,
        template="forecasting/reports/scorecard.html",
        filename=f"scorecard-{rep.username}",
        rep=rep,
        back=reverse("forecasting:report_scorecards"),
        **extra,
    )


@login_required
@reads_from_replica
def priorities(request):
    form, scope = _form(request, fields=("pipeline", "owner", "idle"))
    if "owner" in form.fields:
        # Priorities are one person's: no rep chosen means the viewer's own, not "all reps".
        me = request.user.get_full_name() or request.user.get_username()
        form.fields["owner"].empty_label = f"Me ({me})"
        form.fields["owner"].widget.choices = form.fields["owner"].choices
    by_model = request.GET.get("rank") == "model"
    items, owner = [], None
    if scope:
        owner = scope.owner or request.user
        build = lambda: priorities_report.priorities(scope, owner=owner, by_model=by_model)  # noqa: E731
        items = read_cache.cached_for(scope, "priorities", build, owner=owner, by_model=by_model)
    report = None
    if scope:
        table = priorities_report.priorities_table(items)
        leads_others = visibility.can_see_team_forecast(request.user)
        if not items and scope.owner is None and leads_others:
            table.empty = "You own no open deals or tasks due this week. Choose a rep above."
        report = Report(tables=[table])
    return _respond(
        request,
        "report_priorities",
        form,
        report,
        template="forecasting/reports/priorities.html",
        items=items,
        subject=owner,
        note=priorities_report.PRIORITY_NOTE,
        by_model=by_model,
        rank_query=_query_with_rank(request),
    )


def _query_with_rank(request) -> dict[str, str]:
    """The page's query string ranked each way (``rank=model`` or the effective probability)."""
    params = request.GET.copy()
    params.pop("rank", None)
    plain = params.urlencode()
    params["rank"] = "model"
    return {"effective": plain, "model": params.urlencode()}


@login_required
@reads_from_replica
def deals(request):
    form, scope = _form(request, fields=(*RANGE_FIELDS, "idle"))
    report, title, totals, pager = None, "Deals", None, None
    if scope:
        options, page = _options(request), _page(request)
        limit = None if _exporting(request) else DRILL_PAGE

        def build():
            title, qs = drilldown_report.drilldown(scope, options)
            return (title, *drilldown_report.drilldown_table(scope, qs, page=page, limit=limit))

        key = {k: v for k, v in options.items() if k != "page"}
        title, table, totals = read_cache.cached_for(
            scope, "deals", build, page=page, limit=limit, **key
        )
        table.caption = title
        report = Report(tables=[table])
        pager = _pager(request, totals["n"], DRILL_PAGE)
    return _respond(
        request,
        "report_deals",
        form,
        report,
        template="forecasting/reports/deals.html",
        title=title,
        totals=totals,
        pager=pager,
        page_qs=_without_page(request),
    )
