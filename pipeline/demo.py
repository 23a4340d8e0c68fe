"""Deterministic demo data: the same seed and reference date always give the same rows (the
demo's day ends at noon; seeded earlier on that day itself, it ends at that moment instead).

Builds 3 teams with a manager each, 12 reps, an admin; two pipelines (New business,
Renewals); companies, contacts, leads in every status; opportunities whose stage histories
span the past 24 months (won and lost included) and whose open close dates span the next six
months; field history (slipped close dates, changed amounts); activities and open tasks; a
product catalogue priced in three currencies with daily exchange rates over the history, line
items on most deals and a minority of recent deals in the two other currencies
(``pipeline.demo_catalogue``).

Large tables are written in bulk with explicit ids (``COPY`` on PostgreSQL, ``executemany``
on SQLite), then the id sequences are reset, so 100,000 deals load in well under a minute.
The same stage history rules as the services hold: one transition per stage entered,
creation included, with the amount and probability at that moment.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Team, User
from pipeline import board_cache, read_cache
from pipeline.demo_bulk import bulk_insert
from pipeline.demo_catalogue import DemoSales, demo_currencies, write_catalogue, write_rates
from pipeline.models import (
    Activity,
    Company,
    Contact,
    ExitCriterion,
    Lead,
    LineItem,
    LostReason,
    Opportunity,
    Pipeline,
    Stage,
    StageTransition,
)
from pipeline.services.closed_rates import refresh_closed_rates

DEMO_PASSWORD = "demo-pass-2026"
HISTORY_DAYS = 745  # a little over 24 months

FIRST = (
    "Dana Lee Alex Sam Jordan Taylor Morgan Casey Riley Jamie Avery Quinn Harper Rowan Blake "
    "Drew Emery Finley Hayden Kai Logan Micah Noel Parker Reese Sage Skyler Tatum Val Wren"
).split()
LAST = (
    "Nguyen Smith Garcia Müller Rossi Kim Okafor Silva Novak Cohen Tanaka Brown Dubois "
    "Jensen Kowalski Haddad Patel Larsen Moreau Santos Ivanova Ahmed Murphy Fischer Costa"
).split()
PREFIX = (
    "Acme Globex Initech Umbrella Stark Wayne Wonka Hooli Vandelay Soylent Cyberdyne Tyrell "
    "Aperture Gringotts Oscorp Pied Piper Massive Dynamic Monarch Nakatomi Virtucon Gekko "
    "Blue Sun Prestige Sirius Zorg Nimbus Polaris Quantum Vertex Summit Harbor Beacon"
).split()
SUFFIX = (
    "Labs Systems Logistics Health Foods Energy Analytics Retail Bank Media Works Group".split()
)
INDUSTRIES = "Software Manufacturing Healthcare Retail Finance Logistics Energy Media".split()
CITIES = [
    ("Berlin", "Germany"),
    ("Austin", "United States"),
    ("Lyon", "France"),
    ("Toronto", "Canada"),
    ("Leeds", "United Kingdom"),
    ("Osaka", "Japan"),
    ("Porto", "Portugal"),
    ("Denver", "United States"),
]
PRODUCTS = ["seats", "platform licence", "analytics add-on", "support plan", "pilot", "expansion"]
NEEDS = [
    "Replace spreadsheets for pipeline tracking",
    "Forecast accuracy for the board",
    "Consolidate three regional CRMs",
    "Visibility into partner-sourced deals",
    "Faster quote approvals",
]
TIMELINES = ["This quarter", "Next quarter", "Within 6 months", "Before fiscal year end"]
DISQUALIFY = ["No budget", "Student / researcher", "Competitor", "Too small", "Duplicate"]
ACTIVITY_SUBJECTS = {
    "call": ["Discovery call", "Pricing call", "Check-in call", "Follow-up call"],
    "email": ["Sent proposal", "Shared case study", "Answered security questions", "Recap email"],
    "meeting": ["On-site demo", "Stakeholder meeting", "Procurement review", "Executive sponsor"],
    "note": ["Champion is positive", "Budget confirmed", "Competitor in play", "Legal review"],
}
TASKS = ["Send revised quote", "Book demo", "Follow up on contract", "Call champion", "Prepare ROI"]

NEW_BUSINESS = [
    # name, kind, probability, category, rot days, exit criteria
    ("Qualification", "open", 10, "pipeline", 14, []),
    ("Discovery", "open", 25, "pipeline", 21, []),
    ("Proposal", "open", 50, "best_case", 21, [ExitCriterion.AMOUNT, ExitCriterion.CLOSE_DATE]),
    ("Negotiation", "open", 75, "commit", 14, [ExitCriterion.DECISION_MAKER]),
    ("Won", "won", 100, "closed", None, []),
    ("Lost", "lost", 0, "omitted", None, []),
]
RENEWALS = [
    ("Upcoming renewal", "open", 60, "best_case", 30, []),
    ("Renewal quote", "open", 80, "commit", 21, [ExitCriterion.AMOUNT]),
    ("Renewed", "won", 100, "closed", None, []),
    ("Churned", "lost", 0, "omitted", None, []),
]
LOST_REASONS = ["Price", "Lost to competitor", "No budget", "No decision", "Timing", "Product fit"]


@dataclass
class Tables:
    """Rows to write, as tuples in the column order given for each table."""

    rows: dict[str, list[tuple]] = field(default_factory=dict)

    def add(self, table: str, row: tuple) -> None:
        self.rows.setdefault(table, []).append(row)


COLUMNS = {
    Company: [
        "id", "name", "website", "industry", "employees", "phone", "city", "country",
        "owner_id", "created_at", "updated_at",
    ],
    Contact: [
        "id", "first_name", "last_name", "email", "phone", "title", "is_decision_maker",
        "company_id", "owner_id", "created_at", "updated_at",
    ],
    Opportunity: [
        "id", "name", "company_id", "contact_id", "owner_id", "pipeline_id", "stage_id",
        "amount", "probability", "expected_close_date", "closed_on", "forecast_category",
        "lost_reason_id", "lost_note", "next_step", "next_step_due", "version", "created_at",
        "updated_at", "stage_entered_at", "last_activity_at", "currency", "close_pushes",
        "close_pushed_days",
    ],
    LineItem: [
        "id", "opportunity_id", "product_id", "quantity", "unit_price", "discount_percent",
        "total", "created_at",
    ],
    StageTransition: [
        "id", "opportunity_id", "from_stage_id", "to_stage_id", "changed_by_id", "changed_at",
        "amount", "probability", "left_at", "next_stage_id",
    ],
    Opportunity.history.model: [
        "history_id", "id", "amount", "probability", "expected_close_date", "forecast_category",
        "owner_id", "history_date", "history_change_reason", "history_type", "history_user_id",
        "currency",
    ],
    Activity: [
        "id", "kind", "subject", "body", "owner_id", "lead_id", "opportunity_id", "contact_id",
        "company_id", "occurred_at", "due_on", "done_at", "created_at",
    ],
    Lead: [
        "id", "first_name", "last_name", "email", "phone", "title", "company_name", "source",
        "status", "owner_id", "need", "budget", "authority", "timeline",
        "disqualification_reason", "company_id", "contact_id", "opportunity_id", "created_at",
        "updated_at", "qualified_at", "converted_at", "disqualified_at",
    ],
}  # fmt: skip


def _next_id(model) -> int:
    last = model.objects.order_by("-pk").values_list("pk", flat=True).first()
    return (last or 0) + 1


class DemoBuilder:
    def __init__(
        self,
        *,
        opportunities: int,
        seed: int,
        today: dt.date | None = None,
        progress: Callable[[str], None] | None = None,
        extensions: Iterable[Callable[[DemoBuilder], None]] = (),
    ):
        self.n = opportunities
        self.extensions = list(extensions)
        self.progress = progress or (lambda message: None)
        self.rng = random.Random(seed)
        self.seed = seed
        self.today = today or timezone.localdate()
        tz = timezone.get_current_timezone()
        # The demo's "now": noon of its day, or the present moment when that is earlier (a
        # morning seed), so that no call, email or move is dated later than now.
        midnight = timezone.make_aware(dt.datetime.combine(self.today, dt.time()), tz)
        noon = timezone.make_aware(dt.datetime.combine(self.today, dt.time(hour=12)), tz)
        self.now = min(noon, max(timezone.now(), midnight))
        self.tables = Tables()

    # --- small tables through the ORM -----------------------------------------------------
    def build_people(self):
        password = make_password(DEMO_PASSWORD, salt="opportunedemo")
        admin = User.objects.create(
            username="admin", first_name="Ada", last_name="Admin", email="admin@example.com",
            role=User.Role.ADMIN, is_staff=True, password=password,
        )  # fmt: skip
        self.admin = admin
        self.reps: list[User] = []
        self.managers: list[User] = []
        rep_no = 0
        for t, team_name in enumerate(["Enterprise", "Mid-market", "SMB"], start=1):
            team = Team.objects.create(name=team_name)
            mgr = User.objects.create(
                username=f"manager{t}", first_name=FIRST[t], last_name=LAST[t],
                email=f"manager{t}@example.com", role=User.Role.MANAGER, team=team,
                password=password,
            )  # fmt: skip
            team.manager = mgr
            team.save(update_fields=["manager"])
            self.managers.append(mgr)
            for _ in range(4):
                rep_no += 1
                self.reps.append(
                    User.objects.create(
                        username=f"rep{rep_no}",
                        first_name=FIRST[(rep_no * 7) % len(FIRST)],
                        last_name=LAST[(rep_no * 5) % len(LAST)],
                        email=f"rep{rep_no}@example.com",
                        role=User.Role.REP,
                        team=team,
                        password=password,
                    )  # fmt: skip
                )
        # Rep skill varies so scorecards and coaching reports have something to show.
        self.skill = {r.pk: 0.25 + 0.05 * ((i * 5) % 7) for i, r in enumerate(self.reps)}

    def build_pipelines(self):
        self.pipelines = []
        for pos, (name, spec) in enumerate(
            [("New business", NEW_BUSINESS), ("Renewals", RENEWALS)]
        ):
            p = Pipeline.objects.create(name=name, position=pos)
            for spos, (sname, kind, prob, cat, rot, crit) in enumerate(spec):
                Stage.objects.create(
                    pipeline=p, name=sname, position=spos, kind=kind, probability=prob,
                    forecast_category=cat, rot_after_days=rot, exit_criteria=list(crit),
                )  # fmt: skip
            stages = list(p.stages.order_by("position"))
            self.pipelines.append(
                (
                    p,
                    [s for s in stages if s.kind == "open"],
                    next(s for s in stages if s.kind == "won"),
                    next(s for s in stages if s.kind == "lost"),
                )
            )
        self.lost_reasons = [
            LostReason.objects.create(name=n, position=i) for i, n in enumerate(LOST_REASONS)
        ]

    def build_catalogue(self):
        """The catalogue in three currencies and daily rates over the history, written first: the
        deals' line items name its products."""
        reporting = settings.OPPORTUNE_CURRENCY
        others = demo_currencies(reporting)
        count = write_catalogue(reporting, others)
        rates = write_rates(
            reporting=reporting, currencies=others, today=self.today, seed=self.seed
        )
        self.progress(f"wrote {count} products and {rates:,} exchange rates")
        self.sales = DemoSales(reporting=reporting, today=self.today, seed=self.seed)

    # --- helpers --------------------------------------------------------------------------
    def _ago(self, days: float) -> dt.datetime:
        return self.now - dt.timedelta(days=days, minutes=self.rng.randrange(0, 600))

    def _amount(self, renewal: bool) -> Decimal:
        base = self.rng.lognormvariate(9.6 if renewal else 10.2, 0.75)
        return Decimal(max(500, min(int(round(base, -2)), 2_000_000))).quantize(Decimal("0.01"))

    # --- big tables -----------------------------------------------------------------------
    def build_accounts(self):
        rng = self.rng
        n_companies = max(40, self.n // 4)
        company_id, contact_id = _next_id(Company), _next_id(Contact)
        self.companies: list[tuple[int, int, list[int], int]] = []  # id, owner, contacts, dm
        for i in range(n_companies):
            owner = self.reps[i % len(self.reps)]
            name = f"{PREFIX[i % len(PREFIX)]} {SUFFIX[(i // len(PREFIX)) % len(SUFFIX)]}"
            if i >= len(PREFIX) * len(SUFFIX):
                name += f" {i // (len(PREFIX) * len(SUFFIX)) + 1}"
            city, country = CITIES[i % len(CITIES)]
            created = self._ago(HISTORY_DAYS + 30 + rng.randrange(0, 200))
            slug = name.lower().replace(" ", "")
            self.tables.add(
                "company",
                (company_id, name, f"https://{slug}.example", INDUSTRIES[i % len(INDUSTRIES)],
                 rng.choice([12, 40, 85, 250, 900, 4000]), f"+1 555 {i % 10000:04d}", city,
                 country, owner.pk, created, created),
            )  # fmt: skip
            contacts = []
            for c in range(rng.choice([1, 2, 2, 3])):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                self.tables.add(
                    "contact",
                    (contact_id, first, last, f"{first.lower()}.{c}{contact_id}@{slug}.example",
                     f"+1 555 {contact_id % 10000:04d}",
                     "VP Sales" if c == 0 else rng.choice(["Head of Ops", "CFO", "IT Lead"]),
                     c == 0, company_id, owner.pk, created, created),
                )  # fmt: skip
                contacts.append(contact_id)
                contact_id += 1
            self.companies.append((company_id, owner.pk, contacts, contacts[0]))
            company_id += 1
        self.by_owner: dict[int, list[int]] = {}
        for idx, (_, owner_id, _, _) in enumerate(self.companies):
            self.by_owner.setdefault(owner_id, []).append(idx)

    def build_opportunities(self):
        rng = self.rng
        opp_id = _next_id(Opportunity)
        tr_id = _next_id(StageTransition)
        hist_model = Opportunity.history.model
        hist_id = _next_id(hist_model)
        act_id = _next_id(Activity)
        line_id = _next_id(LineItem)
        sales = self.sales
        self.opportunity_rows = []
        for _ in range(self.n):
            owner = rng.choice(self.reps)
            skill = self.skill[owner.pk]
            comp_idx = rng.choice(self.by_owner[owner.pk])
            company_pk, _, contacts, dm = self.companies[comp_idx]
            renewal = rng.random() < 0.2
            pipeline, open_stages, won, lost = self.pipelines[1 if renewal else 0]
            # Deals spread over the history, more of them recent (about a quarter in the last 90
            # days, as many as when the history was 18 months, so every rep has open deals).
            age = HISTORY_DAYS * (rng.random() ** 1.5)
            created = self._ago(age)
            amount = self._amount(renewal)
            currency = sales.currency(created)
            lines = sales.lines(amount, currency)
            if lines:
                amount = sum((line[4] for line in lines), Decimal(0))
                for product_id, qty, price, discount, total in lines:
                    self.tables.add(
                        "lineitem",
                        (line_id, opp_id, product_id, qty, price, discount, total, created),
                    )
                    line_id += 1
            # Walk the stages.
            t = created
            path = [(None, open_stages[0], t)]
            current = open_stages[0]
            outcome = None
            idx = 0
            while True:
                t_next = t + dt.timedelta(days=rng.uniform(4, 55), hours=rng.randrange(0, 12))
                if t_next >= self.now:
                    break
                r = rng.random()
                last_open = idx == len(open_stages) - 1
                if r < 0.17 - 0.1 * skill + 0.02 * idx:
                    outcome, target = "lost", lost
                elif last_open:
                    won_now = rng.random() < 0.5 + 0.35 * skill
                    outcome, target = ("won", won) if won_now else ("lost", lost)
                elif idx >= len(open_stages) - 2 and r > 0.96:
                    outcome, target = "won", won  # a fast deal that skips the last stage
                else:
                    # Mostly the next stage; sometimes one is skipped.
                    jump = 2 if rng.random() < 0.08 and idx + 2 < len(open_stages) else 1
                    idx += jump
                    target = open_stages[idx]
                path.append((current, target, t_next))
                current, t = target, t_next
                if outcome:
                    break
            last_at = path[-1][2]
            # Close dates: open deals between 3 weeks ago and 6 months out.
            if outcome is None:
                expected = self.today + dt.timedelta(days=rng.randrange(-21, 183))
                closed_on = None
            else:
                closed_on = timezone.localtime(last_at).date()
                expected = closed_on + dt.timedelta(days=rng.randrange(-20, 10))
            initial_expected = expected
            slipped = outcome is None and rng.random() < 0.3 or outcome and rng.random() < 0.15
            initial_amount = amount
            if slipped:
                initial_expected = expected - dt.timedelta(days=rng.choice([14, 21, 30, 45, 60]))
            if rng.random() < 0.15:
                initial_amount = (amount * Decimal(rng.choice(["0.8", "0.9", "1.2"]))).quantize(
                    Decimal("1.00")
                )
            category = ""
            if outcome is None and current.probability >= 50 and rng.random() < 0.25:
                category = rng.choice(["commit", "best_case"])
            contact = dm if current.position >= 2 or outcome == "won" else rng.choice(contacts)
            lost_reason = rng.choice(self.lost_reasons).pk if outcome == "lost" else None
            product = PRODUCTS[rng.randrange(len(PRODUCTS))]
            name = f"{rng.choice([10, 25, 40, 80, 150])} {product}"
            next_step, next_due = "", None
            if outcome is None:
                next_step = rng.choice(["Send proposal", "Demo for IT", "Pricing call",
                                        "Legal review", "Intro to CFO"])  # fmt: skip
                next_due = self.today + dt.timedelta(days=rng.randrange(-7, 14))
            # Transitions: amount at the moment; probability of the stage entered.
            for step, (from_stage, to_stage, at) in enumerate(path):
                amt = initial_amount if at < created + (last_at - created) / 2 else amount
                nxt = path[step + 1] if step + 1 < len(path) else None
                self.tables.add(
                    "transition",
                    (tr_id, opp_id, from_stage.pk if from_stage else None, to_stage.pk,
                     owner.pk, at, amt, to_stage.probability, nxt[2] if nxt else None,
                     nxt[1].pk if nxt else None),
                )  # fmt: skip
                tr_id += 1
            # Field history: created, then the slip / amount change half-way.
            self.tables.add(
                "history",
                (hist_id, opp_id, initial_amount, None, initial_expected, "", owner.pk, created,
                 None, "+", owner.pk, currency),
            )  # fmt: skip
            hist_id += 1
            if initial_expected != expected or initial_amount != amount or category:
                mid = created + (last_at - created) / 2 + dt.timedelta(minutes=1)
                self.tables.add(
                    "history",
                    (hist_id, opp_id, amount, None, expected, category, owner.pk, mid, None,
                     "~", owner.pk, currency),
                )  # fmt: skip
                hist_id += 1
            # Activities over the deal's life; open tasks on open deals.
            last_activity = None
            for _ in range(rng.choice([0, 1, 1, 2, 3])):
                kind = rng.choice(["call", "email", "meeting", "note"])
                span = max((last_at - created).total_seconds(), 3600)
                at = created + dt.timedelta(seconds=rng.uniform(0, span))
                self.tables.add(
                    "activity",
                    (act_id, kind, rng.choice(ACTIVITY_SUBJECTS[kind]), "", owner.pk, None,
                     opp_id, None, None, at, None, None, at),
                )  # fmt: skip
                act_id += 1
                last_activity = max(last_activity or at, at)
            if outcome is None and rng.random() < 0.35:
                due = self.today + dt.timedelta(days=rng.randrange(-6, 15))
                self.tables.add(
                    "activity",
                    (act_id, "task", rng.choice(TASKS), "", owner.pk, None, opp_id, None, None,
                     self._ago(rng.randrange(1, 10)), due, None, self.now),
                )  # fmt: skip
                act_id += 1
            stage_pk = current.pk if outcome is None else (won.pk if outcome == "won" else lost.pk)
            self.tables.add(
                "opportunity",
                (opp_id, f"{PREFIX[comp_idx % len(PREFIX)]} — {name}", company_pk, contact,
                 owner.pk, pipeline.pk, stage_pk, amount, None, expected, closed_on, category,
                 lost_reason, "", next_step, next_due, len(path) + (1 if slipped else 0),
                 created, last_at, last_at, last_activity, currency,
                 1 if expected > initial_expected else 0,
                 max((expected - initial_expected).days, 0)),
            )  # fmt: skip
            self.opportunity_rows.append((opp_id, owner.pk, company_pk, contact, created, outcome))
            opp_id += 1
        self._act_id = act_id

    def build_leads(self):
        rng = self.rng
        lead_id = _next_id(Lead)
        # Converted leads point at the earliest deals (one lead per converted deal).
        convertible = [row for row in self.opportunity_rows if rng.random() < 0.5]
        n_open = max(40, self.n // 5)
        sources = [s for s, _ in Lead.Source.choices]
        for opp_id, owner_id, company_pk, contact_pk, created, _ in convertible:
            made = created - dt.timedelta(days=rng.randrange(3, 30))
            first, last = rng.choice(FIRST), rng.choice(LAST)
            self.tables.add(
                "lead",
                (lead_id, first, last, f"{first.lower()}{lead_id}@example.com", "", "",
                 "", rng.choice(sources), "converted", owner_id, rng.choice(NEEDS),
                 Decimal(rng.choice([20000, 50000, 90000, 150000])), "VP Sales",
                 rng.choice(TIMELINES), "", company_pk, contact_pk, opp_id, made, created,
                 made + (created - made) / 2, created, None),
            )  # fmt: skip
            lead_id += 1
        statuses = ["new", "working", "prospect", "disqualified"]
        for i in range(n_open):
            owner = self.reps[i % len(self.reps)]
            status = statuses[i % 4] if i < 8 else rng.choice(statuses + ["new", "working"])
            made = self._ago(rng.uniform(0, 240))
            first, last = rng.choice(FIRST), rng.choice(LAST)
            qualified = made + dt.timedelta(days=2) if status == "prospect" else None
            disq = made + dt.timedelta(days=5) if status == "disqualified" else None
            filled = status == "prospect" or rng.random() < 0.3
            self.tables.add(
                "lead",
                (lead_id, first, last, f"{first.lower()}{lead_id}@example.com",
                 f"+1 555 {lead_id % 10000:04d}", rng.choice(["CTO", "Head of Sales", "COO"]),
                 f"{rng.choice(PREFIX)} {rng.choice(SUFFIX)}", rng.choice(sources), status,
                 owner.pk, rng.choice(NEEDS) if filled else "",
                 Decimal(rng.choice([15000, 40000, 80000])) if filled else None,
                 "Head of Sales" if filled else "", rng.choice(TIMELINES) if filled else "",
                 rng.choice(DISQUALIFY) if disq else "", None, None, None, made,
                 max(made, disq or qualified or made), qualified, None, disq),
            )  # fmt: skip
            if status in ("new", "working", "prospect") and rng.random() < 0.3:
                self.tables.add(
                    "activity",
                    (self._act_id, "task", "Qualify lead", "", owner.pk, lead_id, None, None,
                     None, made, self.today + dt.timedelta(days=rng.randrange(-3, 7)), None,
                     made),
                )  # fmt: skip
                self._act_id += 1
            lead_id += 1

    def won_amount(self) -> Decimal:
        """The total amount of the deals built in a won stage."""
        won_stage_ids = {won.pk for _, _, won, _ in self.pipelines}
        stage_col = COLUMNS[Opportunity].index("stage_id")
        amount_col = COLUMNS[Opportunity].index("amount")
        return sum(
            (r[amount_col] for r in self.tables.rows.get("opportunity", [])
             if r[stage_col] in won_stage_ids),
            Decimal(0),
        )  # fmt: skip

    def write(self):
        order = [
            ("company", Company), ("contact", Contact), ("opportunity", Opportunity),
            ("lineitem", LineItem), ("transition", StageTransition),
            ("history", Opportunity.history.model), ("lead", Lead), ("activity", Activity),
        ]  # fmt: skip
        for key, model in order:
            rows = self.tables.rows.get(key, [])
            bulk_insert(model, COLUMNS[model], rows)
            self.progress(f"wrote {len(rows):,} {model._meta.verbose_name_plural}")
        models = [Company, Contact, Opportunity, LineItem, StageTransition,
                  Opportunity.history.model, Lead, Activity]  # fmt: skip
        sql = connection.ops.sequence_reset_sql(no_style(), models)
        if sql:
            with connection.cursor() as cursor:
                for statement in sql:
                    cursor.execute(statement)
        refresh_closed_rates(connection)  # what Opportunity.save keeps, for the rows written

    def run(self) -> dict[str, int]:
        with transaction.atomic():
            self.build_people()
            self.build_pipelines()
            self.build_catalogue()
            self.build_accounts()
            self.build_opportunities()
            self.build_leads()
            built = sum(len(rows) for rows in self.tables.rows.values())
            self.progress(f"built {built:,} rows in memory ({self.n:,} deals with their history)")
            self.write()
            for extend in self.extensions:
                extend(self)
        return {k: len(v) for k, v in self.tables.rows.items()}


def seed(
    *,
    opportunities: int,
    seed: int,
    today: dt.date | None = None,
    progress: Callable[[str], None] | None = None,
    extensions: Iterable[Callable[[DemoBuilder], None]] = (),
) -> dict[str, int]:
    """Load the demo into an empty database; refuses when users or deals already exist.
    ``progress`` is called with a short message after each step of the load. Each of
    ``extensions`` is called with the builder once the rows are written, in the same
    transaction: the layers above the pipeline add their own demo data that way (quotas)."""
    if User.objects.exists() or Opportunity.objects.exists():
        raise ValueError(
            "The database already has users or deals; seed_demo loads into an empty database "
            "(use a fresh database, or `manage.py flush` first)."
        )
    counts = DemoBuilder(
        opportunities=opportunities,
        seed=seed,
        today=today,
        progress=progress,
        extensions=extensions,
    ).run()
    # The rows were copied in bulk, with no model signal: cached boards and figures are stale.
    board_cache.changed()
    read_cache.changed()
    if connection.vendor == "postgresql":
        # Fresh planner statistics: right after a bulk load they describe empty tables, and
        # the first pages would pick plans made for nothing.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return counts
