"""Fixtures of the report tests: the hand-computed world of ``world.py``."""

import pytest

from forecasting.reports.scope import ReportScope
from tests.forecasting.reports.world import END, NOW, START, build_world, travel


@pytest.fixture
def world(team, manager, rep, rep2, outsider, admin_user, pipeline, lost_reason):
    return build_world(
        team=team, manager=manager, rep=rep, rep2=rep2, outsider=outsider,
        admin_user=admin_user, pipeline=pipeline, lost_reason=lost_reason,
    )  # fmt: skip


@pytest.fixture
def scope_for():
    def make(user, start=START, end=END, **kwargs):
        kwargs.setdefault("now", NOW)
        return ReportScope(user=user, start=start, end=end, **kwargs)

    return make


@pytest.fixture
def at_now():
    with travel(NOW):
        yield NOW
