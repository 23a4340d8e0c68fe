"""Who may open what: every route of the URL conf × every kind of user × GET and POST.

The routes are read from ``config.urls``; each needs one line in ``ROUTES`` below saying what a
user who may see the record gets. The test then derives every cell:

- anonymous → a redirect to the login page (public routes excepted);
- a user who may not see the record in the URL → 404 (never a 403 that confirms it exists),
  and the page names none of the records they may not see;
- a user who may see it → the declared status (a role may have its own, e.g. reps are refused
  a manager's page with 403: that says nothing about any record);
- a POST with empty data changes nothing that the user may not see (and, unless the route is a
  one-click action declared ``changes=True``, nothing at all).

Records: two teams, East (manager ``m_east``, rep ``r_east``) and West (``m_west``,
``r_west``), and an admin; each rep owns a deal, a lead, a company, a contact, an activity and a
task. The world is seeded once for the module inside a transaction that is rolled back at the
end; each cell runs in a savepoint that is rolled back too, so cells cannot affect each other.
Django admin is one group, checked through a few representative URLs (``ADMIN_URLS``).

Adding a route: add its line to ``ROUTES`` (the failure message prints a template).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

# --- the expectation table -------------------------------------------------------------------

ROLES = ("rep", "manager", "admin")


@dataclass(frozen=True)
class R:
    """What a user who may see the route's record gets.

    ``get`` / ``post``: a status, or a dict of role → status with ``"*"`` for the others
    (``None`` = the method is not tried). ``obj``: the kind of record whose id is in the URL
    (``deal``, ``lead``, ``company``, ``contact``, ``task``, ``user``, ``stage``, ``import``),
    passed as the
    route's one URL argument, or through ``query`` / ``data`` (``{id}`` is replaced).
    ``hidden``: what a user who may not see the record gets (404 unless the page simply
    ignores an id it may not use). A 403 for a role or a 405 for a method is the same answer
    for every id, so it is expected whether or not the user may see the record. ``public``:
    no login needed. ``changes``: an empty POST by someone who may see the record is a
    complete action (one-click buttons), so it may change that record.
    """

    get: int | dict | None = 200
    post: int | dict | None = 405
    obj: str | None = None
    query: str = ""
    data: dict = field(default_factory=dict)  # the POST body ({id} replaced), empty by default
    hidden: int = 404
    public: bool = False
    changes: bool = False
    anonymous: int | None = None  # public routes: what anonymous gets (default: as a rep)
    # URL arguments that are not records (a signed token, a notification of someone's own):
    # the route is tried with these fixed values, the same for every actor.
    args: dict = field(default_factory=dict)


REPS_REFUSED = {"rep": 403, "*": 200}

ROUTES: dict[str, R] = {
    # config
    "healthz": R(public=True),
    "readyz": R(public=True),
    "favicon.ico": R(get=301, post=405, public=True),
    "login": R(get=302, post=302, public=True, anonymous=200),
    "logout": R(get=405, post=302, public=True, anonymous=None),
    "home": R(post=200),
    # pipeline: board
    "pipeline:board": R(),
    "pipeline:board_column": R(obj="stage"),
    # the person's own board view (density, collapsed columns): an empty POST is refused
    "pipeline:board_prefs": R(get=405, post=400),
    # pipeline: deals
    "pipeline:opportunity_list": R(),
    "pipeline:opportunity_create": R(post=200),
    "pipeline:opportunity_detail": R(obj="deal"),
    "pipeline:opportunity_edit": R(obj="deal", post=200),
    "pipeline:opportunity_move": R(obj="deal", post=400),
    "pipeline:opportunity_next_step": R(obj="deal", get=405, post=400),
    "pipeline:opportunity_close_won": R(obj="deal", post=400),
    "pipeline:opportunity_close_lost": R(obj="deal", post=400),
    "pipeline:opportunity_lines": R(obj="deal", get=405, post=400),
    # Without htmx the small form's GET sends to the edit page; an empty POST has no version.
    "pipeline:opportunity_inline": R(obj="deal", query="field=amount", get=302, post=400),
    "pipeline:product_list": R(),
    # pipeline: leads
    "pipeline:lead_list": R(post=200),
    "pipeline:lead_create": R(post=200),
    "pipeline:lead_detail": R(obj="lead", post=200),
    "pipeline:lead_edit": R(obj="lead", post=200),
    "pipeline:lead_start": R(obj="lead", get=405, post=302, changes=True),
    "pipeline:lead_qualify": R(obj="lead", get=405, post=302, changes=True),
    "pipeline:lead_disqualify": R(obj="lead", post=200),
    "pipeline:lead_convert": R(obj="lead", get=302, post=302),
    # pipeline: companies and contacts
    "pipeline:company_list": R(post=200),
    "pipeline:company_create": R(post=200),
    "pipeline:company_detail": R(obj="company", post=200),
    "pipeline:company_edit": R(obj="company", post=200),
    "pipeline:contact_list": R(post=200),
    "pipeline:contact_create": R(post=200),
    "pipeline:contact_detail": R(obj="contact", post=200),
    "pipeline:contact_edit": R(obj="contact", post=200),
    # pipeline: activities, tasks, search
    "pipeline:activity_create": R(
        obj="deal", query="opportunity={id}", data={"opportunity": "{id}"}, post=200
    ),
    "pipeline:activity_list": R(post=200),
    "pipeline:tasks": R(post=200),
    "pipeline:task_complete": R(obj="task", get=405, post=302, changes=True),
    "pipeline:task_reopen": R(obj="task", get=405, post=302, changes=True),
    "pipeline:search": R(),
    # autocomplete of the forms' record fields
    "pipeline:autocomplete_companies": R(),
    "pipeline:autocomplete_contacts": R(),
    "pipeline:autocomplete_owners": R(),
    "pipeline:autocomplete_products": R(),
    # forecasting
    "forecasting:dashboard": R(post=200),
    "forecasting:deals": R(query="figure=open", post=200),
    "forecasting:changes": R(post=200),
    "forecasting:accuracy": R(post=200),
    "forecasting:calibration": R(get={"admin": 200, "*": 403}, post={"admin": 200, "*": 403}),
    "forecasting:probability_source": R(
        args={"pk": 2**31 - 1}, get=405, post={"admin": 404, "*": 403}
    ),
    "forecasting:quotas": R(post={"rep": 403, "*": 302}),
    "forecasting:adjust": R(
        obj="user", query="rep={id}", get=REPS_REFUSED, post={"rep": 403, "*": 302}
    ),
    # forecasting: reports
    "forecasting:reports_index": R(post=200),
    "forecasting:report_funnel": R(post=200),
    "forecasting:report_stages": R(post=200),
    "forecasting:report_win_rate": R(post=200),
    "forecasting:report_pipeline": R(post=200),
    "forecasting:report_rotting": R(post=200),
    "forecasting:report_scorecards": R(post=200),
    "forecasting:report_scorecard": R(obj="user", post=200),
    "forecasting:report_products": R(post=200),
    "forecasting:report_priorities": R(post=200),
    "forecasting:report_deals": R(post=200),
    # accounts: passwords and two-factor sign-in
    "password_change": R(post=200),
    "password_change_done": R(),
    "password_reset_confirm": R(
        public=True, args={"uidb64": "MQ", "token": "not-a-token"}, post=200, anonymous=200
    ),
    "password_reset_complete": R(public=True),
    "two_factor": R(get={"rep": 403, "*": 200}, post={"rep": 403, "*": 200}),
    # GET only (a POST is refused before the login check); reps have no enrolment: 404.
    "two_factor_qr": R(get={"rep": 404, "*": 200}, post=None),
    "two_factor_verify": R(get=302, post=302),
    # notifications (every one is its recipient's own: another's is a 404 like any unknown id)
    "notifications:list": R(),
    "notifications:mark_read": R(args={"pk": 2**31 - 1}, get=405, post=404),
    "notifications:mark_all_read": R(get=405, post=302, changes=True),
    "notifications:preferences": R(post=400),
    "notifications:calendar_token": R(get=405, post=302, changes=True),
    "notifications:calendar_feed": R(public=True, args={"token": "revoked-or-unknown"}, get=404),
    "notifications:unsubscribe": R(public=True, args={"token": "tampered"}, get=400, post=400),
    "notifications:mentions": R(),
    # API tokens (everyone's own) and webhooks (admins) settings pages
    "api_tokens": R(post=400),
    "api_token_revoke": R(args={"pk": 2**31 - 1}, get=405, post=404),
    "webhooks": R(get={"admin": 200, "*": 403}, post={"admin": 400, "*": 403}),
    "webhook_toggle": R(args={"pk": 2**31 - 1}, get=405, post={"admin": 404, "*": 403}),
    "webhook_redeliver": R(args={"pk": 2**31 - 1}, get=405, post={"admin": 404, "*": 403}),
    # imports: the list for everyone; a batch for whoever sees its owner; the wizard's steps
    # for the uploader only (anyone else: 404, as for a batch they cannot see)
    "imports:index": R(post=400),
    "imports:template": R(args={"kind": "deals"}),
    "imports:batch": R(obj="import"),
    "imports:progress": R(obj="import"),
    "imports:errors": R(obj="import"),
    "imports:columns": R(obj="import", get={"rep": 200, "*": 404}, post={"rep": 400, "*": 404}),
    "imports:values": R(obj="import", get={"rep": 200, "*": 404}, post={"rep": 400, "*": 404}),
    "imports:preview": R(obj="import", get={"rep": 200, "*": 404}),
    "imports:matches": R(obj="import", get=405, post={"rep": 302, "*": 404}),
    "imports:confirm": R(obj="import", get=405, post={"rep": 302, "*": 404}),
    "imports:undo": R(obj="import", get=405, post=302),
}

# Django admin, one group: admins get in, everyone else is sent to the admin login.
# (path, record kind, what an admin gets on GET and on an empty POST). Deals are read-only in
# admin (they change through the app's services), hence the 403 on posting their change form.
ADMIN_URLS = [
    ("/admin/", None, 200, 200),
    ("/admin/pipeline/opportunity/", None, 200, 200),
    ("/admin/pipeline/opportunity/{id}/change/", "deal", 200, 403),
    ("/admin/pipeline/lead/{id}/change/", "lead", 200, 200),
    ("/admin/accounts/user/", None, 200, 200),
    ("/admin/forecasting/quota/", None, 200, 200),
]

# --- the URL conf ----------------------------------------------------------------------------

# URL confs checked as one group each: Django admin (``ADMIN_URLS`` below) and the REST API,
# whose endpoint × role × method matrix is generated from its router in
# tests/api/test_permission_matrix.py (it answers 401/404 in JSON, never a login redirect).
GROUPS = ("admin", "api")


@dataclass(frozen=True)
class Route:
    key: str
    pattern: str
    name: str | None
    kwargs: tuple[str, ...] = field(default=())


def _walk(patterns, prefix="", namespace=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.app_name in GROUPS:
                yield Route(entry.app_name, prefix + str(entry.pattern), None)
                continue
            ns = ":".join(x for x in (namespace, entry.namespace) if x)
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            pattern = prefix + str(entry.pattern)
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            kwargs = tuple(entry.pattern.converters) if hasattr(entry.pattern, "converters") else ()
            yield Route(name or pattern, pattern, name, kwargs)


def url_routes() -> list[Route]:
    seen: dict[str, Route] = {}
    for route in _walk(get_resolver().url_patterns):
        seen.setdefault(route.key, route)
    return sorted(seen.values(), key=lambda r: r.key)


ALL_ROUTES = url_routes()


def test_matrix_every_route_has_an_entry_and_every_entry_a_route():
    keys = {r.key for r in ALL_ROUTES} - set(GROUPS)
    missing = sorted(keys - set(ROUTES))
    stale = sorted(set(ROUTES) - keys)
    assert not missing, "routes without an entry in ROUTES: " + ", ".join(
        f'"{k}": R(...)' for k in missing
    )
    assert not stale, f"entries in ROUTES for routes that no longer exist: {stale}"
    assert "admin" in {r.key for r in ALL_ROUTES}, "Django admin is no longer mounted"


# --- the world -------------------------------------------------------------------------------

# Every record of East carries MARK["east"] in its name, every record of West MARK["west"]:
# a page shown to someone who may not see a team's records must not contain its mark.
MARK = {"east": "Quokka", "west": "Narwhal"}
ACTORS = ("anonymous", "r_east", "r_west", "m_east", "m_west", "admin")
# Which team's records each actor may see.
SEES = {
    "anonymous": set(),
    "r_east": {"east"},
    "r_west": {"west"},
    "m_east": {"east"},
    "m_west": {"west"},
    "admin": {"east", "west"},
}
ROLE = {
    "r_east": "rep",
    "r_west": "rep",
    "m_east": "manager",
    "m_west": "manager",
    "admin": "admin",
}


@dataclass
class World:
    users: dict[str, object]
    ids: dict[tuple[str, str], int]  # (team, kind) -> id
    stage_id: int


def _seed() -> World:
    from imports import services as import_services
    from pipeline import services
    from pipeline.models import Activity
    from tests.factories import (
        CompanyFactory,
        ContactFactory,
        LeadFactory,
        OpportunityFactory,
        PipelineFactory,
        TeamFactory,
        UserFactory,
        make_manager,
    )

    pipeline = PipelineFactory(name="Matrix pipeline")
    users = {"admin": UserFactory(username="mx_admin", role="admin")}
    ids: dict[tuple[str, str], int] = {}
    for team_key, team_name in (("east", "Matrix East"), ("west", "Matrix West")):
        mark = MARK[team_key]
        team = TeamFactory(name=team_name)
        users[f"m_{team_key}"] = make_manager(team, username=f"mx_m_{team_key}")
        rep = UserFactory(username=f"mx_r_{team_key}", team=team)
        users[f"r_{team_key}"] = rep
        company = CompanyFactory(owner=rep, name=f"{mark} Ltd")
        contact = ContactFactory(owner=rep, company=company, first_name=mark, last_name="Contact")
        deal = OpportunityFactory(
            owner=rep,
            pipeline=pipeline,
            company=company,
            name=f"{mark} deal",
            amount=Decimal("25000.00"),
        )
        lead = LeadFactory(owner=rep, first_name=mark, last_name="Lead", company_name=f"{mark} Co")
        note = services.log_activity(
            by=rep, kind=Activity.Kind.CALL, subject=f"{mark} call", opportunity=deal
        )
        task = services.log_activity(
            by=rep,
            kind=Activity.Kind.TASK,
            subject=f"{mark} follow-up",
            opportunity=deal,
            due_on=timezone.localdate() + dt.timedelta(days=3),
        )
        batch = import_services.create_batch(
            by=rep,
            kind="deals",
            file_name=f"{mark}.csv",
            data=f"Deal,Stage\n{mark} row,X\n".encode(),
        )
        ids.update(
            {
                (team_key, "import"): batch.pk,
                (team_key, "deal"): deal.pk,
                (team_key, "lead"): lead.pk,
                (team_key, "company"): company.pk,
                (team_key, "contact"): contact.pk,
                (team_key, "activity"): note.pk,
                (team_key, "task"): task.pk,
                (team_key, "user"): rep.pk,
            }
        )
    stage_id = pipeline.stages.order_by("position").first().pk
    return World(users=users, ids=ids, stage_id=stage_id)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Seeded once for the module, in a transaction rolled back when the module ends."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield _seed()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


class Actors:
    """One client per actor, logged in once (the sessions live in the module's transaction).
    Each cell starts from the actor's own session cookie: a cell that logs out (or logs in)
    changes only its own, rolled-back, state."""

    def __init__(self, world):
        self.sessions = {"anonymous": None}
        self.clients = {}
        for actor in ACTORS:
            c = Client()
            if actor != "anonymous":
                c.force_login(world.users[actor])
                self.sessions[actor] = c.cookies[settings.SESSION_COOKIE_NAME].value
            self.clients[actor] = c

    def __getitem__(self, actor) -> Client:
        c = self.clients[actor]
        c.cookies.clear()
        if self.sessions[actor]:
            c.cookies[settings.SESSION_COOKIE_NAME] = self.sessions[actor]
        return c


@pytest.fixture(scope="module")
def clients(world, django_db_blocker):
    with django_db_blocker.unblock():
        return Actors(world)


def _watched():
    """(name, model, columns left out): every table a POST could change (rows compared), and
    the append-only ones (rows counted)."""
    from accounts.models import Team, User
    from forecasting.models import ForecastAdjustment, ForecastSnapshot, Quota
    from pipeline.models import (
        Activity,
        Company,
        Contact,
        Lead,
        Opportunity,
        Pipeline,
        Stage,
        StageTransition,
    )

    compared = [
        ("deals", Opportunity, ()),
        ("leads", Lead, ()),
        ("companies", Company, ()),
        ("contacts", Contact, ()),
        ("activities", Activity, ()),
        ("users", User, ("last_login", "password")),
        ("teams", Team, ()),
        ("stages", Stage, ()),
        ("pipelines", Pipeline, ()),
        ("quotas", Quota, ()),
        ("adjustments", ForecastAdjustment, ()),
    ]
    counted = [
        ("history", Opportunity.history.model),
        ("transitions", StageTransition),
        ("snapshots", ForecastSnapshot),
    ]
    return compared, counted


def _columns(model, exclude) -> list:
    return [f for f in model._meta.concrete_fields if f.attname not in exclude]


def _fingerprint_sql() -> str:
    """One query: a digest of each compared table's rows, a count of each counted one."""
    qn = connection.ops.quote_name
    compared, counted = _watched()
    parts = []
    for name, model, exclude in compared:
        cols = ", ".join(f"t.{qn(f.column)}" for f in _columns(model, exclude))
        pk = qn(model._meta.pk.column)
        parts.append(
            f"(SELECT md5(coalesce(string_agg(ROW({cols})::text, '|' ORDER BY t.{pk}), '')) "
            f"FROM {qn(model._meta.db_table)} t) AS {qn(name)}"
        )
    for name, model in counted:
        parts.append(f"(SELECT count(*) FROM {qn(model._meta.db_table)}) AS {qn(name)}")
    return "SELECT " + ", ".join(parts)


def fingerprint() -> dict:
    """Everything a POST could change (last_login and sessions aside): on PostgreSQL one query
    of per-table digests, elsewhere the rows themselves."""
    compared, counted = _watched()
    names = [name for name, *_ in compared] + [name for name, _ in counted]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_fingerprint_sql())
            return dict(zip(names, cursor.fetchone(), strict=True))
    out = {}
    for name, model, exclude in compared:
        fields = [f.attname for f in _columns(model, exclude)]
        out[name] = list(model._default_manager.order_by("pk").values_list(*fields))
    for name, model in counted:
        out[name] = model._default_manager.count()
    return out


def _record_id(world: World, obj: str | None, team: str | None):
    if obj == "stage":
        return world.stage_id
    if obj is None or team is None:
        return None
    return world.ids[(team, obj)]


def _url(route: Route, spec: R, record_id) -> str:
    if route.name and spec.args:
        url = reverse(route.name, kwargs=spec.args)
    elif route.name:
        kwargs = {route.kwargs[0]: record_id} if route.kwargs else {}
        url = reverse(route.name, kwargs=kwargs)
    else:
        url = "/" + route.pattern
    if spec.query:
        url += "?" + spec.query.format(id=record_id)
    return url


def _expected(spec: R, method: str, actor: str, visible: bool):
    declared = spec.get if method == "get" else spec.post
    if declared is None:
        return None
    if actor == "anonymous" and not spec.public:
        return "login"
    if actor == "anonymous":
        status = spec.anonymous if spec.anonymous is not None else _for_role(declared, "rep")
    else:
        status = _for_role(declared, ROLE[actor])
    if status in (403, 405):  # refused for the role or the method, whatever the id
        return status
    return status if visible else spec.hidden


def _for_role(declared, role: str) -> int:
    if isinstance(declared, dict):
        return declared.get(role, declared["*"])
    return declared


def _cells(spec: R):
    """(actor, method, team of the record in the URL or None)."""
    teams = (None,) if spec.obj in (None, "stage") else ("east", "west")
    for actor in ACTORS:
        for method in ("get", "post"):
            for team in teams:
                yield actor, method, team
                if actor == "anonymous" and not spec.public:
                    break  # the login redirect does not depend on the id


def _body(response) -> str:
    if response.status_code in (301, 302, 303, 304) or response.streaming:
        return ""
    return response.content.decode("utf-8", "replace")


@pytest.mark.parametrize(
    "route", [r for r in ALL_ROUTES if r.key not in GROUPS], ids=lambda r: r.key
)
def test_matrix_route(route, world, clients, db):
    spec = ROUTES.get(route.key)
    if spec is None:
        pytest.fail(
            f'route "/{route.pattern}" has no entry: add "{route.key}": R(...) to ROUTES in '
            "tests/test_authorization_matrix.py (what a user who may see it gets on GET and POST)"
        )
    problems = []
    for actor, method, team in _cells(spec):
        visible = team is None or team in SEES[actor]
        expected = _expected(spec, method, actor, visible)
        if expected is None:
            continue
        record_id = _record_id(world, spec.obj, team)
        url = _url(route, spec, record_id)
        data = {k: v.format(id=record_id) for k, v in spec.data.items()}
        client = clients[actor]
        check_state = method == "post" and not (visible and spec.changes)
        with transaction.atomic():
            before = fingerprint() if check_state else None
            response = getattr(client, method)(url, data if method == "post" else None)
            after = fingerprint() if check_state else None
            transaction.set_rollback(True)
        cell = f"{actor} {method.upper()} {url}"
        status = response.status_code
        if expected == "login":
            location = response.get("Location", "")
            if status != 302 or not location.startswith(reverse("login")):
                problems.append(f"{cell}: expected a redirect to login, got {status} {location}")
        elif status != expected:
            problems.append(f"{cell}: expected {expected}, got {status}")
        if status == 500:
            problems.append(f"{cell}: server error")
        body = _body(response)
        for other in ("east", "west"):
            if other not in SEES[actor] and MARK[other] in body:
                problems.append(f"{cell}: names a {other} record it may not see")
        if check_state and before != after:
            changed = sorted(k for k in before if before[k] != after[k])
            problems.append(f"{cell}: an empty POST changed {changed}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "path,obj,admin_get,admin_post", ADMIN_URLS, ids=[u[0] for u in ADMIN_URLS]
)
def test_matrix_admin(path, obj, admin_get, admin_post, world, clients, db):
    problems = []
    teams = ("east", "west") if obj else (None,)
    for actor in ACTORS:
        for method in ("get", "post"):
            for team in teams:
                url = path.format(id=world.ids[(team, obj)]) if obj else path
                with transaction.atomic():
                    before = fingerprint() if method == "post" else None
                    response = getattr(clients[actor], method)(
                        url, {} if method == "post" else None
                    )
                    after = fingerprint() if method == "post" else None
                    transaction.set_rollback(True)
                cell = f"{actor} {method.upper()} {url}"
                status = response.status_code
                if actor == "admin":
                    expected = admin_get if method == "get" else admin_post
                    if status != expected:
                        problems.append(f"{cell}: expected {expected}, got {status}")
                else:
                    location = response.get("Location", "")
                    if status != 302 or not location.startswith("/admin/login/"):
                        problems.append(f"{cell}: expected the admin login, got {status}")
                    if _body(response):
                        problems.append(f"{cell}: a body for someone not allowed in")
                if method == "post" and before != after:
                    problems.append(f"{cell}: an empty POST changed something")
    assert not problems, "\n".join(problems)


def test_matrix_marks_show_where_visible(world, clients, db):
    """The leak check above is meaningful: each team's mark is on the pages of those who may
    see its records."""
    for actor, marks in (
        ("r_east", {"Quokka"}),
        ("m_west", {"Narwhal"}),
        ("admin", set(MARK.values())),
    ):
        for name in ("pipeline:opportunity_list", "pipeline:company_list", "pipeline:lead_list"):
            body = clients[actor].get(reverse(name)).content.decode()
            for mark in MARK.values():
                assert (mark in body) == (mark in marks), (actor, name, mark)


def test_matrix_fingerprint_sees_every_kind_of_change(world, db):
    """The "an empty POST changed nothing" check is meaningful: a changed field of a deal, a
    lead, a task or a user, and a new history row, each change the fingerprint."""
    from accounts.models import User
    from pipeline.models import Activity, Lead, Opportunity

    changes = [
        lambda: Opportunity.objects.filter(pk=world.ids[("west", "deal")]).update(next_step="x"),
        lambda: Lead.objects.filter(pk=world.ids[("east", "lead")]).update(status="working"),
        lambda: Activity.objects.filter(pk=world.ids[("west", "task")]).update(
            done_at=timezone.now()
        ),
        lambda: User.objects.filter(pk=world.ids[("east", "user")]).update(role="manager"),
        lambda: Opportunity.history.model.objects.create(
            **{
                f.attname: getattr(Opportunity.history.first(), f.attname)
                for f in Opportunity.history.model._meta.concrete_fields
                if f.attname != "history_id"
            }
        ),
    ]
    for change in changes:
        with transaction.atomic():
            before = fingerprint()
            change()
            assert fingerprint() != before
            transaction.set_rollback(True)
    last_login = fingerprint()
    User.objects.filter(pk=world.ids[("east", "user")]).update(last_login=timezone.now())
    assert fingerprint() == last_login
