"""URLs a report row links to: the drill-down behind a number and the record pages.

Every count and sum of a report carries a ``_links`` entry built here, so a click opens
exactly the deals the number counts, with the report's filters kept."""

from __future__ import annotations

from functools import lru_cache

from django.urls import NoReverseMatch, reverse

from forecasting.reports.scope import ReportScope


def deals_url(scope: ReportScope, kind: str, **extra) -> str:
    """URL of the drill-down listing the deals behind a number (same filters, plus extras)."""
    return f"{_drilldown_path()}?{scope.querystring(kind=kind, **extra)}"


@lru_cache(maxsize=1)
def _drilldown_path() -> str:
    # One reverse per process: a report links every number it shows.
    return reverse("forecasting:report_deals")


_SENTINEL_PK = 987654321


def opportunity_url(pk: int) -> str | None:
    return record_url("pipeline:opportunity_detail", pk)


def record_url(name: str, pk: int) -> str | None:
    """A record page's URL (``None`` if that page is not installed), built from one
    ``reverse`` per process and URL name: a listing of many records stays cheap."""
    template = _url_template(name)
    return template.replace(str(_SENTINEL_PK), str(pk)) if template else None


@lru_cache(maxsize=16)
def _url_template(name: str) -> str | None:
    try:
        return reverse(name, args=[_SENTINEL_PK])
    except NoReverseMatch:
        return None


def task_target_url(task: dict) -> str | None:
    """The page of the record a task is about (deal, lead, contact or company)."""
    for key, name in (
        ("opportunity_id", "pipeline:opportunity_detail"),
        ("lead_id", "pipeline:lead_detail"),
        ("contact_id", "pipeline:contact_detail"),
        ("company_id", "pipeline:company_detail"),
    ):
        if task[key]:
            return record_url(name, task[key])
    return None
