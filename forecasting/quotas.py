"""Quotas as the pages and the forecast ranges read them: the quotas of some months by rep
and by team, and each team's effective quota (its own, else the sum of its members')."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from accounts import visibility
from accounts.models import User
from forecasting.models import Quota

ZERO = Decimal("0")


def quota_lookup(months: list[dt.date]):
    """Quotas of the given months: ``(user_quota, team_quota)`` as dicts keyed by
    ``(id, month)``; the effective team quota falls back to the sum of its members'."""
    user_q: dict[tuple[int, dt.date], Decimal] = {}
    team_q: dict[tuple[int, dt.date], Decimal] = {}
    for user_id, team_id, month, amount in Quota.objects.filter(month__in=months).values_list(
        "user_id", "team_id", "month", "amount"
    ):
        if user_id:
            user_q[(user_id, month)] = amount
        else:
            team_q[(team_id, month)] = amount
    return user_q, team_q


@dataclass
class QuotaBook:
    """Quotas of some months: by user, by team, and each team's effective quota."""

    user: dict[tuple[int, dt.date], Decimal]
    team: dict[tuple[int, dt.date], Decimal]
    members: dict[int, list[int]]
    teamless: set[int]

    def for_user(self, user_id: int, months) -> Decimal | None:
        parts = [self.user[(user_id, m)] for m in months if (user_id, m) in self.user]
        return sum(parts, ZERO) if parts else None

    def for_team(self, team_id: int, months) -> Decimal | None:
        total, found = ZERO, False
        for m in months:
            if (team_id, m) in self.team:
                total += self.team[(team_id, m)]
                found = True
                continue
            for u in self.members.get(team_id, []):
                if (u, m) in self.user:
                    total += self.user[(u, m)]
                    found = True
        return total if found else None

    def for_scope(self, scope, months) -> Decimal | None:
        if scope.rep:
            return self.for_user(scope.rep.pk, months)
        if not visibility.can_see_team_forecast(scope.user):
            # A rep sees their own deals only, so their own quota is the one that applies.
            return self.for_user(scope.user.pk, months)
        parts = [self.for_team(t.pk, months) for t in scope.teams()]
        if scope.is_everyone:
            parts += [self.for_user(u, months) for u in self.teamless]
        parts = [p for p in parts if p is not None]
        return sum(parts, ZERO) if parts else None


def quota_book(months: list[dt.date]) -> QuotaBook:
    user_q, team_q = quota_lookup(months)
    members: dict[int, list[int]] = {}
    teamless = set()
    for pk, team_id in User.objects.filter(is_active=True).values_list("pk", "team_id"):
        if team_id:
            members.setdefault(team_id, []).append(pk)
        else:
            teamless.add(pk)
    teamless &= {u for (u, _) in user_q}
    return QuotaBook(user=user_q, team=team_q, members=members, teamless=teamless)
