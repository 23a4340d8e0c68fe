"""The forecasting questions of accounts.visibility, answered for every role: a rep, their
manager, an admin, a superuser without the admin role, a manager of another team, an
inactive manager and an anonymous visitor."""

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser

from accounts import visibility
from accounts.models import User
from forecasting.models import ForecastAdjustment, ForecastRange, Quota
from tests.factories import UserFactory


@pytest.fixture
def people(rep, rep2, manager, outsider, admin_user, team, other_team):
    return {
        "rep": rep,
        "rep2": rep2,
        "manager": manager,
        "manager_west": User.objects.get(username="manager_west"),
        "outsider": outsider,
        "admin": admin_user,
        "superuser": UserFactory(username="root", role="rep", is_superuser=True),
        "inactive_manager": UserFactory(
            username="gone", role="manager", team=team, is_active=False
        ),
        "anonymous": AnonymousUser(),
        "team": team,
        "other_team": other_team,
    }


# (question, who) -> expected answer, for every role
ROLE_ANSWERS = {
    "can_see_team_forecast": {"manager", "manager_west", "admin", "superuser"},
    "sees_every_record": {"admin", "superuser"},
    "forecasts_by_team": {"manager", "manager_west"},
    "can_calibrate_stages": {"admin", "superuser"},
}
WHO = ["rep", "manager", "manager_west", "admin", "superuser", "inactive_manager", "anonymous"]


@pytest.mark.parametrize("question", sorted(ROLE_ANSWERS))
@pytest.mark.parametrize("who", WHO)
def test_role_questions_per_role(people, question, who):
    answer = getattr(visibility, question)(people[who])
    assert answer is (who in ROLE_ANSWERS[question])


def test_carries_quota_only_reps(people):
    assert visibility.carries_quota(people["rep"])
    assert visibility.carries_quota(people["outsider"])
    assert not visibility.carries_quota(people["manager"])
    assert not visibility.carries_quota(people["admin"])
    reps = visibility.quota_carriers(User.objects.all())
    assert set(reps.values_list("username", flat=True)) == {"rep", "rep2", "outsider", "root"}


@pytest.mark.parametrize(
    ("who", "target", "expected"),
    [
        # Nobody but managers and admins opens the quota editor.
        ("rep", None, False),
        ("manager", None, True),
        ("admin", None, True),
        ("superuser", None, True),
        ("inactive_manager", None, False),
        ("anonymous", None, False),
        # A manager: their team, its members and themselves; never another team's.
        ("manager", "rep", True),
        ("manager", "manager", True),
        ("manager", "team", True),
        ("manager", "outsider", False),
        ("manager", "other_team", False),
        ("manager_west", "rep", False),
        ("manager_west", "other_team", True),
        # An admin: anyone's.
        ("admin", "outsider", True),
        ("admin", "other_team", True),
        # A rep: nobody's, not even their own.
        ("rep", "rep", False),
        ("rep", "team", False),
        ("inactive_manager", "rep", False),
    ],
)
def test_can_manage_quotas_per_role(people, who, target, expected):
    kwargs = {}
    if target in ("team", "other_team"):
        kwargs["team"] = people[target]
    elif target is not None:
        kwargs["user"] = people[target]
    assert visibility.can_manage_quotas(people[who], **kwargs) is expected


@pytest.mark.parametrize(
    ("who", "target", "expected"),
    [
        ("rep", None, False),
        ("manager", None, True),
        ("admin", None, True),
        ("anonymous", None, False),
        ("manager", "rep", True),
        ("manager", "team", True),
        ("manager", "outsider", False),
        ("admin", "outsider", True),
        ("rep", "rep", False),
        # Nobody adjusts their own number, whoever they are.
        ("manager", "manager", False),
        ("admin", "admin", False),
    ],
)
def test_can_adjust_forecast_per_role(people, who, target, expected):
    kwargs = {}
    if target == "team":
        kwargs["team"] = people[target]
    elif target is not None:
        kwargs["user"] = people[target]
    assert visibility.can_adjust_forecast(people[who], **kwargs) is expected


def test_owner_or_team_rows_per_role(people):
    """Quotas, adjustments and ranges about a rep or a team: the rep sees their own, the
    manager their team's and its members', the admin all, including company-wide rows."""
    month = dt.date(2026, 3, 1)
    Quota.objects.create(user=people["rep"], month=month, amount=1)
    Quota.objects.create(user=people["outsider"], month=month, amount=2)
    Quota.objects.create(team=people["team"], month=month, amount=3)
    Quota.objects.create(team=people["other_team"], month=month, amount=4)
    ForecastAdjustment.objects.create(
        user=people["rep"], period_kind="month", period=month, amount=5, author=people["manager"]
    )
    common = {"taken_on": month, "period_kind": "month", "period": month, "trials": 1, "seed": 1}
    common.update(mean=0, p10=0, p50=0, p90=0)
    ForecastRange.objects.create(owner=people["rep"], **common)
    ForecastRange.objects.create(team=people["team"], **common)
    ForecastRange.objects.create(**common)  # everyone

    def amounts(user):
        return sorted(
            int(a) for a in Quota.objects.visible_to(user).values_list("amount", flat=True)
        )

    def ranges(user):
        return sorted(
            "rep" if r.owner_id else "team" if r.team_id else "all"
            for r in ForecastRange.objects.visible_to(user)
        )

    assert amounts(people["rep"]) == [1]
    assert amounts(people["manager"]) == [1, 3]
    assert amounts(people["manager_west"]) == [2, 4]
    assert amounts(people["admin"]) == [1, 2, 3, 4]
    assert amounts(people["anonymous"]) == []
    assert amounts(people["inactive_manager"]) == []
    assert ranges(people["rep"]) == ["rep"]
    assert ranges(people["manager"]) == ["rep", "team"]
    assert ranges(people["outsider"]) == []
    assert ranges(people["admin"]) == ["all", "rep", "team"]
    assert ForecastAdjustment.objects.visible_to(people["rep2"]).count() == 0
    assert ForecastAdjustment.objects.visible_to(people["manager"]).count() == 1
