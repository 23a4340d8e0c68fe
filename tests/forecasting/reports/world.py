"""A small sales world with every number of the reports computed by hand (see each test).

Team East: manager, rep, rep2. Team West: outsider (and manager_west). Pipeline "New
business": Qualification (rots after 30 d) → Discovery (30) → Proposal (21) → Negotiation
(14) → Won / Lost. Every event happens at 12:00 UTC; reports are read at NOW.

| deal | owner | amount | history |
| A | rep | 10,000 | created Jan 10 → Discovery Jan 20 → Proposal Feb 9 → Won Mar 1 |
| B | rep | 20,000 | created Jan 15 → Proposal Jan 25 (skips Discovery) → Lost Feb 14 (Price) |
| C | rep2 | 30,000 | created Feb 1 → Discovery Feb 5 → Won Mar 7 → reopened to Negotiation
|   |      |        | Mar 10 (manager); close date Feb 28 pushed to Mar 15 on Mar 11; call Mar 30 |
| D | rep2 | 5,000 | created Mar 1 (close Apr 15), close date pulled to Apr 1 (Mar 2), pushed
|   |      |       | to May 1 (Mar 3); no activity |
| F | rep | 8,000 | created Feb 10 → Discovery Feb 20 → back to Qualification Mar 20; close Apr
|   |     |       | 20; call Mar 25; next step due Mar 30; task due Apr 1 |
| G | rep | 40,000 | created Mar 31, close Jun 30 |
| E | outsider | 99,999 | created Jan 5 → Won Feb 1 |

Leads: L1 rep web Jan 5 → A; L2 rep web Jan 6 prospect (task due Mar 28); L3 rep referral
Jan 7 new; L4 rep2 referral Feb 2 → C; L5 rep2 web Dec 20 2025 → D; L6 outsider web Jan 8.
Quotas: rep 10,000 for each of Jan, Feb, Mar 2026.
"""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import time_machine

from forecasting.models import Quota
from pipeline import services
from pipeline.models import Lead
from tests.factories import ContactFactory, LeadFactory, OpportunityFactory, current_version, stage

UTC = dt.UTC
NOW = dt.datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
START = dt.date(2026, 1, 1)
END = dt.date(2026, 3, 31)


def at(month, day, hour=12):
    return dt.datetime(2026, month, day, hour, 0, tzinfo=UTC)


def travel(when):
    return time_machine.travel(when, tick=False)


def _move(deal, pipeline, name, by, when, **kwargs):
    kwargs.setdefault("version", current_version(deal))
    with travel(when):
        return services.move_opportunity(
            opportunity=deal, to_stage=stage(pipeline, name), by=by, **kwargs
        )


def _create(when, **kwargs):
    with travel(when):
        return OpportunityFactory(**kwargs)


def build_world(*, team, manager, rep, rep2, outsider, admin_user, pipeline, lost_reason):
    p = pipeline
    a = _create(
        at(1, 10), owner=rep, pipeline=p, name="A", amount=Decimal("10000"),
        expected_close_date=dt.date(2026, 3, 1),
    )  # fmt: skip
    _move(a, p, "Discovery", rep, at(1, 20))
    _move(a, p, "Proposal", rep, at(2, 9))
    a = _move(a, p, "Won", rep, at(3, 1))

    b = _create(
        at(1, 15), owner=rep, pipeline=p, name="B", amount=Decimal("20000"),
        expected_close_date=dt.date(2026, 2, 20),
    )  # fmt: skip
    _move(b, p, "Proposal", rep, at(1, 25))
    b = _move(b, p, "Lost", rep, at(2, 14), lost_reason=lost_reason)

    dm = ContactFactory(owner=rep2, is_decision_maker=True)
    c = _create(
        at(2, 1), owner=rep2, pipeline=p, name="C", amount=Decimal("30000"),
        expected_close_date=dt.date(2026, 2, 28), contact=dm,
    )  # fmt: skip
    _move(c, p, "Discovery", rep2, at(2, 5))
    _move(c, p, "Won", rep2, at(3, 7))
    c = _move(c, p, "Negotiation", manager, at(3, 10))
    with travel(at(3, 11)):
        c = services.update_opportunity(
            opportunity=c, by=rep2, version=c.version, expected_close_date="2026-03-15"
        )
    with travel(at(3, 30)):
        services.log_activity(by=rep2, kind="call", subject="Check-in", opportunity=c)

    d = _create(
        at(3, 1), owner=rep2, pipeline=p, name="D", amount=Decimal("5000"),
        expected_close_date=dt.date(2026, 4, 15),
    )  # fmt: skip
    with travel(at(3, 2)):
        d = services.update_opportunity(
            opportunity=d, by=rep2, version=d.version, expected_close_date="2026-04-01"
        )
    with travel(at(3, 3)):
        d = services.update_opportunity(
            opportunity=d, by=rep2, version=d.version, expected_close_date="2026-05-01"
        )

    f = _create(
        at(2, 10), owner=rep, pipeline=p, name="F", amount=Decimal("8000"),
        expected_close_date=dt.date(2026, 4, 20),
    )  # fmt: skip
    _move(f, p, "Discovery", rep, at(2, 20))
    f = _move(f, p, "Qualification", rep, at(3, 20))
    with travel(at(3, 25)):
        services.log_activity(by=rep, kind="call", subject="Follow-up", opportunity=f)
    with travel(at(3, 26)):
        f.refresh_from_db()
        f = services.update_opportunity(
            opportunity=f, by=rep, version=f.version, next_step="Send pricing",
            next_step_due="2026-03-30",
        )  # fmt: skip
        task_f = services.log_activity(
            by=rep, kind="task", subject="Call back", opportunity=f, due_on="2026-04-01"
        )

    g = _create(
        at(3, 31), owner=rep, pipeline=p, name="G", amount=Decimal("40000"),
        expected_close_date=dt.date(2026, 6, 30),
    )  # fmt: skip

    e = _create(
        at(1, 5), owner=outsider, pipeline=p, name="E", amount=Decimal("99999"),
        expected_close_date=dt.date(2026, 2, 1),
    )  # fmt: skip
    e = _move(e, p, "Won", outsider, at(2, 1))

    def lead(owner, source, created, status, opportunity=None, qualified=True):
        return LeadFactory(
            owner=owner, source=source, status=status, created_at=created,
            qualified_at=created + dt.timedelta(days=1) if qualified else None,
            converted_at=created + dt.timedelta(days=2) if opportunity else None,
            opportunity=opportunity,
        )  # fmt: skip

    lead(rep, "web", at(1, 5), Lead.Status.CONVERTED, a)
    l2 = lead(rep, "web", at(1, 6), Lead.Status.PROSPECT)
    lead(rep, "referral", at(1, 7), Lead.Status.NEW, qualified=False)
    lead(rep2, "referral", at(2, 2), Lead.Status.CONVERTED, c)
    lead(rep2, "web", dt.datetime(2025, 12, 20, 12, tzinfo=UTC), Lead.Status.CONVERTED, d)
    lead(outsider, "web", at(1, 8), Lead.Status.NEW, qualified=False)
    with travel(at(3, 20)):
        task_lead = services.log_activity(
            by=rep, kind="task", subject="Qualify budget", lead=l2, due_on="2026-03-28"
        )
        services.log_activity(by=rep, kind="task", subject="Later", lead=l2, due_on="2026-04-20")

    for month in (1, 2, 3):
        Quota.objects.create(user=rep, month=dt.date(2026, month, 1), amount=Decimal("10000"))

    return SimpleNamespace(
        a=a, b=b, c=c, d=d, e=e, f=f, g=g, l2=l2, task_f=task_f, task_lead=task_lead,
        pipeline=p, team=team, manager=manager, rep=rep, rep2=rep2, outsider=outsider,
        admin=admin_user,
    )  # fmt: skip
