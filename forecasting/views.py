"""Forecast pages: thin views that parse input, call a selector or service and render."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts import visibility
from accounts.redirects import safe_next
from config.routers import reads_from_replica
from forecasting import accuracy, charts, selectors, services, spans, winrates
from forecasting.forms import (
    AccuracyForm,
    AdjustmentForm,
    AdjustQuery,
    ChangesForm,
    DealsQuery,
    QuotaYearQuery,
    ScopeForm,
    year_months,
)
from forecasting.learning import selectors as learning_selectors
from forecasting.models import ForecastAdjustment
from forecasting.periods import Period
from pipeline import read_cache
from pipeline import services as pipeline_services
from pipeline.currency import input_amount, read_amount
from pipeline.models import Pipeline, ProbabilitySource
from pipeline.services.validation import parse_money
from pipeline.templatetags.opportune import money_short


@login_required
@reads_from_replica
def dashboard_view(request):
    form = ScopeForm(request.GET, user=request.user)
    form.is_valid()
    scope = form.scope()
    asked = None
    if not form.period_given:
        # The current quarter is empty (a history imported from earlier years): start from
        # the latest quarter with deals, and say so.
        period, moved = read_cache.cached_for(
            scope, "period", lambda: spans.period_with_data(scope)
        )
        if moved:
            asked, scope = scope.period, replace(scope, period=period)
    board = read_cache.cached_for(scope, "dashboard", lambda: selectors.dashboard(scope))
    month_chart = charts.forecast_months(board.months, scope.period.start.year)
    trend_chart = charts.forecast_trend(board.trend, board.total.quota, scope.period.label)
    return render(
        request,
        "forecasting/dashboard.html",
        {
            "form": form,
            "board": board,
            "scope": scope,
            "month_chart": month_chart,
            "trend_chart": trend_chart,
            "overdue_marked": any(m["past_with_overdue"] for m in board.months),
            "can_manage": visibility.can_adjust_forecast(request.user),
            "asked_period": asked,
            "weighting": _weighting(scope),
        },
    )


def _weighting(scope):
    """The pipelines behind a page's weighted figures, each with the source it weighs by."""
    return [scope.pipeline] if scope.pipeline else list(Pipeline.objects.filter(is_active=True))


@login_required
@reads_from_replica
def deals_view(request):
    form = ScopeForm(request.GET, user=request.user)
    form.is_valid()
    scope = form.scope()
    metric = DealsQuery.parse(request.GET)["metric"] or "weighted"
    if metric not in selectors.METRICS:
        raise Http404("Unknown figure.")
    title, qs, totals = selectors.deals_behind(scope, metric)
    page = Paginator(qs, 100).get_page(request.GET.get("page"))
    return render(
        request,
        "forecasting/deals.html",
        {
            "form": form,
            "scope": scope,
            "title": title,
            "metric": metric,
            "page": page,
            "totals": totals,
            "back": f"{reverse('forecasting:dashboard')}?{scope.querystring()}",
            "querystring": scope.querystring(metric=metric),
        },
    )


@login_required
@reads_from_replica
def changes_view(request):
    form = ChangesForm(request.GET, user=request.user)
    form.is_valid()
    scope = form.scope()
    data = getattr(form, "cleaned_data", {})
    today = timezone.localdate()
    end = data.get("end") or today
    start = data.get("start") or end - dt.timedelta(days=7)
    bars, details = read_cache.cached_for(
        scope,
        "changes",
        lambda: selectors.changes(scope, start, end),
        start=start,
        end=end,
    )
    base = f"{reverse('forecasting:changes')}?"

    def link(key):
        return base + scope.querystring(start=start.isoformat(), end=end.isoformat(), bar=key)

    for bar in [*bars, *details]:
        bar["url"] = link(bar["key"]) + "#deals"
    title = f"Open pipeline of {scope.period.label}"
    if bars:
        title += f": {money_short(bars[0]['amount'])} → {money_short(bars[-1]['amount'])}"
    chart = charts.waterfall(bars, title=title, start=start, end=end)
    bar = data.get("bar") or ""
    page = None
    bar_label = ""
    if bar:
        labels = dict(selectors.BARS + selectors.DETAILS)
        if bar not in labels:
            raise Http404("Unknown bar.")
        bar_label = labels[bar]
        page = Paginator(selectors.changed_deals(scope, start, end, bar), 100).get_page(
            request.GET.get("page")
        )
    return render(
        request,
        "forecasting/changes.html",
        {
            "form": form,
            "scope": scope,
            "bars": bars,
            "details": details,
            "chart": chart,
            "start": start,
            "end": end,
            "bar": bar,
            "bar_label": bar_label,
            "page": page,
            "snapshot_dates": selectors.snapshot_dates(),
            "page_query": scope.querystring(start=start.isoformat(), end=end.isoformat(), bar=bar),
        },
    )


@login_required
@reads_from_replica
def accuracy_view(request):
    form = AccuracyForm(request.GET, user=request.user)
    form.is_valid()
    scope = form.scope()
    months, shown = form.months_shown()
    result = read_cache.cached_for(
        scope, "accuracy", lambda: accuracy.accuracy(scope, months), months=months
    )
    empty_note = ""
    if not (request.GET.get("year") or request.GET.get("months")) and result["missing"] == months:
        # No snapshot in the last months (a history imported from earlier years): show the
        # latest year that has one.
        latest = accuracy.latest_month_with_snapshot(before=months[0])
        if latest is not None:
            empty_note = f"No forecast snapshot in {shown}, so this is the latest year with one."
            months, shown = year_months(latest.year, timezone.localdate()), str(latest.year)
            result = read_cache.cached_for(
                scope, "accuracy", lambda: accuracy.accuracy(scope, months), months=months
            )
    total = result["total"]
    chart = charts.accuracy(months, total.cells)
    calibration_chart = charts.calibration(result["buckets"]) if result["buckets"] else None
    models = learning_selectors.backtests(_weighting(scope))
    for item in models:
        item.chart = charts.backtest_brier(item.months, item.pipeline.name)
        item.chart_id = f"backtest-chart-{item.pipeline.pk}"
        item.heading_id = f"backtest-chart-h-{item.pipeline.pk}"
    return render(
        request,
        "forecasting/accuracy.html",
        {
            "form": form,
            "scope": scope,
            "result": result,
            "chart": chart,
            "calibration_chart": calibration_chart,
            "months": months,
            "models": models,
            "thresholds": learning_selectors.THRESHOLDS,
            "show_amounts": visibility.can_calibrate_stages(request.user),
            "shown": shown,
            "empty_note": empty_note,
        },
    )


@login_required
@reads_from_replica
def calibration_view(request):
    if not visibility.can_calibrate_stages(request.user):
        raise PermissionDenied("Stage calibration is for admins.")
    return render(
        request,
        "forecasting/calibration.html",
        {
            "pipelines": selectors.stage_calibration(),
            "window": winrates.EMPIRICAL_WINDOW_DAYS,
            "sources": ProbabilitySource.choices,
            "min_closed": winrates.EMPIRICAL_MIN_CLOSED,
        },
    )


@login_required
@require_http_methods(["POST"])
def probability_source_view(request, pk: int):
    if not visibility.can_calibrate_stages(request.user):
        raise PermissionDenied("Only admins choose a pipeline's probability source.")
    pipeline = get_object_or_404(Pipeline, pk=pk)
    try:
        pipeline = pipeline_services.set_probability_source(
            pipeline=pipeline, source=request.POST.get("probability_source", ""), by=request.user
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"{pipeline.name} now weighs open deals by "
            f"{pipeline.get_probability_source_display().lower()}.",
        )
    return redirect(f"{reverse('forecasting:calibration')}#p{pipeline.pk}")


def _parse_amount(text: str):
    """A quota cell: empty (no quota) or an amount, thousands separators allowed."""
    text = read_amount((text or "").strip())
    return "" if text == "" else parse_money(text)


@login_required
@require_http_methods(["GET", "POST"])
def quotas_view(request):
    today = timezone.localdate()
    query = QuotaYearQuery(request.GET)
    if query.is_valid():
        year = query.cleaned_data["year"] or today.year
    else:
        messages.error(request, query.errors["year"][0])
        year = today.year
    grid = selectors.quota_grid(request.user, year)
    can_edit = visibility.can_manage_quotas(request.user)
    errors: dict[str, str] = {}
    posted: dict[str, str] = {}
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only managers and admins set quotas.")
        entries = []
        rows = [(f"u{u.pk}", u, None) for u in grid["people"]] + [
            (f"t{t.pk}", None, t) for t in grid["teams"]
        ]
        for key, user, team in rows:
            if not visibility.can_manage_quotas(request.user, user=user, team=team):
                continue
            for month in grid["months"]:
                name = f"q-{key}-{month:%m}"
                if name not in request.POST:
                    continue
                raw = request.POST[name]
                posted[name] = raw
                old = grid["values"].get((key, month))
                try:
                    value = _parse_amount(raw)
                except ValidationError as exc:
                    errors[name] = exc.messages[0]
                    continue
                if (value == "" and old is None) or (
                    value != "" and old is not None and Decimal(value) == old
                ):
                    continue
                entries.append((user, team, month, value))
        if not errors:
            try:
                count = services.set_quotas(by=request.user, entries=entries)
            except ValidationError as exc:
                errors["__all__"] = " ".join(exc.messages)
            else:
                messages.success(
                    request, f"Saved {count} quota change{'s' if count != 1 else ''} for {year}."
                )
                return redirect(f"{reverse('forecasting:quotas')}?year={year}")
    rows = []
    for key, who, team in [(f"u{u.pk}", u, None) for u in grid["people"]] + [
        (f"t{t.pk}", t, t) for t in grid["teams"]
    ]:
        editable = can_edit and visibility.can_manage_quotas(
            request.user, user=None if team else who, team=team
        )
        cells = []
        for month in grid["months"]:
            name = f"q-{key}-{month:%m}"
            value = grid["values"].get((key, month))
            cells.append(
                {
                    "name": name,
                    "month": month,
                    "value": posted.get(name, input_amount(value)),
                    "stored": value,
                    "error": errors.get(name),
                }
            )
        rows.append({"who": who, "is_team": team is not None, "editable": editable, "cells": cells})
    status = 400 if errors else 200
    return render(
        request,
        "forecasting/quotas.html",
        {
            "rows": rows,
            "months": grid["months"],
            "year": year,
            "years": [year - 1, year, year + 1],
            "can_edit": can_edit,
            "errors": errors,
            "form_error": errors.get("__all__", ""),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def adjust_view(request):
    if not visibility.can_adjust_forecast(request.user):
        raise PermissionDenied("Only managers and admins adjust forecasts.")
    query = AdjustQuery.parse(request.GET)
    try:
        period = Period.parse(query["period"])
        if not 2000 <= period.start.year <= 2100:
            raise ValueError(query["period"])
    except (ValueError, TypeError):
        period = Period.current_quarter()
    user = team = None
    if query["team"]:
        team = get_object_or_404(visibility.visible_teams(request.user), pk=query["team"])
    elif query["rep"]:
        user = get_object_or_404(visibility.visible_users(request.user), pk=query["rep"])
    else:
        raise Http404("Name the rep or the team to adjust.")
    if not visibility.can_adjust_forecast(request.user, user=user, team=team):
        raise PermissionDenied("Only the rep's manager or an admin adjusts a forecast.")
    current = ForecastAdjustment.objects.filter(
        user=user, team=team, period_kind=period.kind, period=period.start
    ).first()
    fallback = f"{reverse('forecasting:dashboard')}?period={period.param}"
    if request.method == "POST":
        form = AdjustmentForm(request.POST)
        if form.is_valid():
            try:
                services.set_adjustment(
                    by=request.user,
                    user=user,
                    team=team,
                    period_kind=period.kind,
                    period=period.start,
                    amount=form.cleaned_data["amount"],
                    note=form.cleaned_data["note"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"Saved your call on {user or team} for {period.label}.")
                return redirect(safe_next(request, fallback))
    else:
        form = AdjustmentForm(
            initial={"amount": current.amount, "note": current.note} if current else None
        )
    return render(
        request,
        "forecasting/adjust.html",
        {
            "form": form,
            "who": user or team,
            "period": period,
            "current": current,
            "next": safe_next(request, fallback),
        },
        status=400 if form.errors else 200,
    )
