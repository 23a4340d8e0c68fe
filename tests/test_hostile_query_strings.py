"""Crafted query strings never break a page: every GET page of the workspace and the forecast
and report pages, hit with hostile values in each parameter it reads, answers 200 (the
value shown as a field error or ignored), 400, 403 or 404 — never a 500 — and writes
nothing.

The pages come from the URL conf: a new GET page without an entry in ``PAGES`` fails
``test_every_get_page_is_covered``.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import transaction
from django.db.models import Sum
from django.urls import URLPattern, URLResolver, get_resolver

from tests.forecasting.reports.world import NOW, build_world, travel

HOSTILE = [
    "²",  # "²".isdigit() is True, int("²") is not a number
    "99999999999999999999",  # past bigint
    "-1",
    "9999-12",
    "9999-12-31",
    "0001-01-01",
    "1e999",
    "x\x00y",  # PostgreSQL refuses NUL in text
]

BOARD = ["owner", "team", "close", "close_after", "close_before", "amount_min", "amount_max"]
BOARD += ["q", "pipeline", "as_of"]
SCOPE = ["period", "pipeline", "team", "rep"]
RANGE = ["start", "end", "period", "pipeline", "team", "owner", "source"]
CSV = [{}, {"export": "csv"}]

# url name -> (path arguments, parameters the page reads, base querystrings to combine with)
PAGES: dict[str, tuple[tuple, list[str], list[dict]]] = {
    "pipeline:board": ((), BOARD, [{}]),
    "pipeline:board_column": (("stage",), [*BOARD, "offset"], [{}]),
    "pipeline:opportunity_list": ((), [*BOARD, "stage", "status", "o", "page"], [{}]),
    "pipeline:opportunity_create": ((), ["pipeline", "company", "contact", "company_q"], [{}]),
    "pipeline:opportunity_detail": (("deal",), ["next"], [{}]),
    "pipeline:opportunity_edit": (("deal",), ["company_q"], [{}]),
    "pipeline:opportunity_move": (("deal",), ["next"], [{}]),
    "pipeline:opportunity_close_won": (("deal",), ["next"], [{}]),
    "pipeline:opportunity_close_lost": (("deal",), ["next"], [{}]),
    "pipeline:lead_list": ((), ["q", "status", "source", "owner", "page"], [{}]),
    "pipeline:lead_create": ((), ["company", "contact", "company_q", "contact_q"], [{}]),
    "pipeline:lead_detail": (("lead",), [], [{}]),
    "pipeline:lead_edit": (("lead",), ["company_q", "contact_q"], [{}]),
    "pipeline:lead_disqualify": (("lead",), [], [{}]),
    "pipeline:lead_convert": (("lead",), ["company_q", "contact_q"], [{}]),
    "pipeline:company_list": ((), ["q", "owner", "industry", "open_deals", "sort", "page"], [{}]),
    "pipeline:product_list": ((), ["q", "category", "inactive", "page"], [{}]),
    "pipeline:company_create": ((), [], [{}]),
    "pipeline:company_detail": (("company",), [], [{}]),
    "pipeline:company_edit": (("company",), [], [{}]),
    "pipeline:contact_list": ((), ["q", "owner", "company", "decision_maker", "page"], [{}]),
    "pipeline:contact_create": ((), ["company", "company_q"], [{}]),
    "pipeline:contact_detail": (("contact",), [], [{}]),
    "pipeline:contact_edit": (("contact",), ["company_q"], [{}]),
    "pipeline:activity_create": (
        (),
        ["opportunity", "lead", "contact", "company", "kind", "next"],
        [{}, {"opportunity": "DEAL"}],
    ),
    "pipeline:activity_list": (
        (),
        ["q", "kind", "task_status", "occurred_from", "occurred_until", "owner", "sort", "page"],
        [{}, {"export": "csv"}],
    ),
    "pipeline:tasks": ((), [], [{}]),
    "pipeline:search": ((), ["q"], [{}]),
    "pipeline:autocomplete_companies": ((), ["q"], [{}]),
    "pipeline:autocomplete_contacts": ((), ["q", "company"], [{}, {"q": "a"}]),
    "pipeline:autocomplete_owners": ((), ["q"], [{}]),
    "pipeline:autocomplete_products": ((), ["q", "currency"], [{}]),
    "pipeline:opportunity_inline": (("deal",), ["field"], [{"field": "amount"}]),
    "forecasting:dashboard": ((), SCOPE, [{}]),
    "forecasting:deals": ((), [*SCOPE, "metric", "page"], [{}]),
    "forecasting:changes": ((), [*SCOPE, "start", "end", "bar", "page"], [{}, {"bar": "new"}]),
    "forecasting:accuracy": ((), [*SCOPE, "months", "year"], [{}]),
    "forecasting:calibration": ((), [], [{}]),
    "forecasting:quotas": ((), ["year"], [{}]),
    "forecasting:adjust": ((), ["period", "team", "rep", "next"], [{"rep": "REP"}]),
    "forecasting:reports_index": ((), [], [{}]),
    "forecasting:report_funnel": ((), [*RANGE, "group", "table"], CSV),
    "forecasting:report_stages": ((), [*RANGE, "table"], CSV),
    "forecasting:report_win_rate": ((), [*RANGE, "table"], CSV),
    "forecasting:report_pipeline": ((), [*RANGE, "table"], CSV),
    "forecasting:report_rotting": (
        (),
        ["pipeline", "team", "owner", "source", "idle", "flag", "sort", "page", "table"],
        CSV,
    ),
    "forecasting:report_scorecards": ((), [*RANGE, "table"], CSV),
    "forecasting:report_products": ((), [*RANGE, "product", "category", "table"], CSV),
    "forecasting:report_scorecard": (
        ("user",),
        ["start", "end", "period", "pipeline", "table"],
        CSV,
    ),
    "forecasting:report_priorities": ((), ["pipeline", "owner", "idle", "table"], CSV),
    "forecasting:report_deals": (
        (),
        [*RANGE, "idle", "kind", "month", "stage", "outcome", "reason", "won", "page", "table"],
        [
            {},
            {"export": "csv"},
            {"kind": "lost"},
            {"kind": "entered", "stage": "STAGE"},
            {"kind": "deal_funnel", "stage": "STAGE", "outcome": "next"},
        ],
    ),
}
# Pages that only answer POST (a GET is a 405 whatever the query string).
POST_ONLY = {
    "pipeline:board_prefs",
    "forecasting:probability_source",
    "pipeline:opportunity_next_step",
    "pipeline:opportunity_lines",
    "pipeline:lead_start",
    "pipeline:lead_qualify",
    "pipeline:task_complete",
    "pipeline:task_reopen",
}


def _names(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = f"{prefix}{p.namespace}:" if p.namespace else prefix
            yield from _names(p.url_patterns, ns)
        elif isinstance(p, URLPattern) and p.name:
            yield prefix + p.name


def test_every_get_page_is_covered():
    names = {
        n
        for n in _names(get_resolver().url_patterns)
        if n.split(":")[0] in ("pipeline", "forecasting")
    }
    assert names - set(PAGES) - POST_ONLY == set()
    assert set(PAGES) - names == set()


def _fingerprint():
    """Row counts of every model of the project, and the sum of deal versions."""
    out = {}
    for label in ("accounts", "pipeline", "forecasting"):
        for model in apps.get_app_config(label).get_models():
            out[model._meta.label] = model._default_manager.count()
    Opportunity = apps.get_model("pipeline", "Opportunity")
    out["versions"] = Opportunity.objects.aggregate(v=Sum("version"))["v"]
    return out


@pytest.fixture
def world(team, manager, rep, rep2, outsider, admin_user, pipeline, lost_reason):
    return build_world(
        team=team, manager=manager, rep=rep, rep2=rep2, outsider=outsider,
        admin_user=admin_user, pipeline=pipeline, lost_reason=lost_reason,
    )  # fmt: skip


def _path_args(world, kinds):
    values = {
        "deal": world.c.pk,
        "lead": world.l2.pk,
        "company": world.c.company_id,
        "contact": world.c.contact_id,
        "stage": world.pipeline.stages.get(name="Qualification").pk,
        "user": world.rep.pk,
    }
    return [values[k] for k in kinds]


def _base(world, base):
    fill = {
        "DEAL": str(world.c.pk),
        "REP": str(world.rep.pk),
        "STAGE": str(world.pipeline.stages.get(name="Discovery").pk),
    }
    return {k: fill.get(v, v) for k, v in base.items()}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_hostile_query_strings_never_give_a_server_error(client, world, name):
    from django.urls import reverse

    kinds, params, bases = PAGES[name]
    url = reverse(name, args=_path_args(world, kinds))
    before = _fingerprint()
    failures = []
    with travel(NOW):
        for user in (world.manager, world.admin):
            client.force_login(user)
            for i, base in enumerate(bases):
                base = _base(world, base)
                # Every parameter on the first base; the page's own ones on the others.
                names = params if i == 0 else [p for p in params if p not in RANGE]
                for param in names or [None]:
                    for value in HOSTILE if param else [None]:
                        query = dict(base)
                        if param:
                            query[param] = value
                        try:
                            # A savepoint per request: a database error in one request
                            # must not hide the outcome of the next ones.
                            with transaction.atomic():
                                status = client.get(url, query).status_code
                        except Exception as exc:  # the test client re-raises a view's error
                            status = f"{type(exc).__name__}: {str(exc)[:120]}"
                        if status not in (200, 302, 400, 403, 404):
                            failures.append((user.username, query, status))
    assert failures == []
    assert _fingerprint() == before
