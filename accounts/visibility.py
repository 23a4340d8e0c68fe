"""Who may see and edit what: the one place that decides it.

Reps see and edit the records they own; managers those owned by members of the teams they
manage (and their own); admins (role ``admin`` or superusers) everything. Inactive or
anonymous users see nothing. Every query of records starts from ``Model.objects.visible_to``
(the :class:`VisibleQuerySet` below) and every edit checks :func:`can_edit`, so the rule
cannot drift between pages, reports, exports and jobs.
"""

from __future__ import annotations

from django.db import models
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q


def _is_active(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def is_admin(user) -> bool:
    return _is_active(user) and (user.is_superuser or user.role == "admin")


def is_manager(user) -> bool:
    return _is_active(user) and user.role == "manager"


def managed_team_ids(user) -> list[int]:
    """Ids of the teams this user manages (cached on the user object for the request).

    The same query reads the members of those teams (:func:`_owner_ids`), so a manager's
    filters can name their owners outright."""
    if not is_manager(user):
        return []
    cached = getattr(user, "_managed_team_ids", None)
    if cached is None:
        from accounts.models import Team

        # The teams whose manager they are, plus their own team when it has no manager set
        # (they still lead it); never a team led by another manager.
        own_unled = Q(pk=user.team_id, manager__isnull=True) if user.team_id else Q(pk__in=[])
        rows = list(
            Team.objects.filter(Q(manager=user) | own_unled)
            .order_by("id", "members__id")
            .values_list("id", "members__id")
        )
        cached = sorted({team for team, _ in rows})
        user._managed_team_ids = cached
        user._owner_ids = sorted({user.pk, *(member for _, member in rows if member)})
    return cached


def _owner_ids(user) -> list[int] | None:
    """The ids of the owners a manager sees (themselves and their teams' members) when they
    were read with the teams in this request; None when only the team ids are known (an API
    token's cached user): the members are then a subquery, answered at each run."""
    managed_team_ids(user)
    return getattr(user, "_owner_ids", None)


def owner_q(user, owner_field: str = "owner") -> Q | None:
    """The filter on ``owner_field`` that selects what ``user`` may see; ``None`` means all.

    Returns a filter that matches nothing for inactive or anonymous users.
    """
    if not _is_active(user):
        return Q(pk__in=[])
    if is_admin(user):
        return None
    if is_manager(user):
        # ``owner IN (the manager and the members of their teams)``: the ids themselves when
        # they were read with the teams, which PostgreSQL matches on an owner index and
        # estimates from its statistics (a manager's what changed at 100,000 deals: 166 -> 113
        # ms of SQL); else a subquery it hashes once.
        owners = _owner_ids(user)
        if owners is not None:
            return Q(**{f"{owner_field}__in": owners})
        from accounts.models import User

        members = User.objects.filter(Q(pk=user.pk) | Q(team_id__in=managed_team_ids(user))).values(
            "pk"
        )
        return Q(**{f"{owner_field}__in": members})
    return Q(**{owner_field: user})


def rule_inputs(user) -> tuple:
    """Everything :func:`owner_q` reads of ``user`` (active, admin or manager, id, team, the
    teams they manage and, when read with them, those teams' members): users with equal
    inputs get the same filter, so a query compiled for one may serve the other
    (``api.deal_rows`` keeps compiled reads by it). A rule that reads more of the user must
    add it here. (:func:`scope_key` is coarser: whose records, for caches that are cleared
    when the records change.)"""
    return (
        user.pk,
        _is_active(user),
        is_admin(user),
        is_manager(user),
        getattr(user, "team_id", None),
        tuple(managed_team_ids(user)),
        None if (owners := _owner_ids(user)) is None else tuple(owners),
    )


def visible_users(user):
    """Users whose records ``user`` may see: the choices of every owner dropdown and filter."""
    from accounts.models import User

    qs = User.objects.filter(is_active=True)
    if not _is_active(user):
        return qs.none()
    if is_admin(user):
        return qs
    if is_manager(user):
        return qs.filter(Q(pk=user.pk) | Q(team_id__in=managed_team_ids(user)))
    return qs.filter(pk=user.pk)


def visible_teams(user):
    from accounts.models import Team

    if is_admin(user):
        return Team.objects.all()
    if is_manager(user):
        return Team.objects.filter(pk__in=managed_team_ids(user))
    if _is_active(user) and user.team_id:
        return Team.objects.filter(pk=user.team_id)
    return Team.objects.none()


def can_see_owner(user, owner) -> bool:
    """Whether records owned by ``owner`` (a User or None) are within ``user``'s scope."""
    if not _is_active(user):
        return False
    if is_admin(user):
        return True
    if owner is None:
        return False
    if owner.pk == user.pk:
        return True
    return is_manager(user) and owner.team_id in managed_team_ids(user)


def can_edit(user, obj) -> bool:
    """Edits follow visibility: whoever may see a record's owner scope may edit the record."""
    return can_see_owner(user, getattr(obj, "owner", None))


def can_reopen(user, obj) -> bool:
    """Reopening a closed deal: only the owner's manager or an admin."""
    if is_admin(user):
        return True
    owner = getattr(obj, "owner", None)
    return is_manager(user) and owner is not None and owner.team_id in managed_team_ids(user)


# --- Named questions of role ------------------------------------------------------------------
# Code outside this module never compares roles; it asks one of these (a test holds it so).


def can_administer(user) -> bool:
    """Django admin (pipelines, stages, teams, users) and every model permission: admins
    only. Such an account must have two-factor sign-in when ``OPPORTUNE_REQUIRE_2FA`` is on."""
    return is_admin(user)


def can_manage_integrations(user) -> bool:
    """Webhook endpoints and every user's API tokens: admins only."""
    return is_admin(user)


def administrators():
    """The active admins (role admin or superuser): who hears of an integration's trouble."""
    from accounts.models import User

    return User.objects.filter(Q(role="admin") | Q(is_superuser=True), is_active=True)


def can_assign_owner(user) -> bool:
    """Whether ``user`` sees more owners than themselves: managers and admins choose a
    record's owner and filter lists by owner and team; a rep owns what they create."""
    return is_admin(user) or is_manager(user)


def can_use_two_factor(user) -> bool:
    """Two-factor sign-in is offered to admins and managers."""
    return is_admin(user) or is_manager(user)


def follows_team(user) -> bool:
    """Managers follow their team: the daily digest's team sections and notice of the team's
    won and lost deals."""
    return is_manager(user)


def scope_key(user) -> str:
    """A key of whose records ``user`` sees: users with equal keys see the same records
    (admins all share one), so a page cached for one serves the others."""
    if is_admin(user):
        return "admin"
    return f"{user.role}-{user.pk}-{user.team_id or 0}"


class VisibleQuerySet(models.QuerySet):
    """A queryset that knows which field holds the owner; ``visible_to(user)`` applies the rule.

    Subclasses may set ``owner_field`` or override :meth:`visibility_q` for records whose
    visibility follows a related record (e.g. a company visible through its deals).
    """

    owner_field = "owner"

    def visibility_q(self, user) -> Q | None:
        return owner_q(user, self.owner_field)

    def visible_to(self, user):
        q = self.visibility_q(user)
        return self if q is None else self.filter(q)


class RowExists(Exists):
    """``EXISTS (… OFFSET 0)``: a correlated existence test that PostgreSQL runs per outer row,
    one index probe each. A plain ``EXISTS`` inside an ``OR`` may be turned into a hashed
    subplan, which reads every matching row of the inner table first (every deal of a team
    to show one page of 50 contacts): its cost grows with the table while a page's does not.
    The ``OFFSET`` keeps the planner from that rewrite and changes nothing else."""

    template = "EXISTS(%(subquery)s OFFSET 0)"


def visible_ref(user, model, ref: str):
    """An annotation: whether the ``model`` record whose id is in field ``ref`` of the rows
    is one ``user`` may open (False when ``ref`` is empty).

    Pages that name a related record (an activity's deal, a contact's company …) show its
    name and link only when this is true, so nothing a user may not open is named."""
    q = model.objects.all().visibility_q(user)
    if q is None:
        return ExpressionWrapper(Q(**{f"{ref}__isnull": False}), output_field=BooleanField())
    return RowExists(model.objects.filter(q, pk=OuterRef(ref)))


# Forecasting questions ------------------------------------------------------------------------
# What the forecast pages, the reports and the home page ask about a user's role. Forecasting
# code never compares roles itself; it asks one of these.


def owner_or_team_q(user, owner_field: str = "user", team_field: str = "team") -> Q | None:
    """Rows about a person (``owner_field``) follow the owner rule; rows about a team
    (``team_field``) are visible to the team's manager; ``None`` (admins) means all."""
    q = owner_q(user, owner_field)
    if q is None:
        return None
    teams = managed_team_ids(user)
    if teams:
        q |= Q(**{f"{team_field}_id__in": teams})
    return q


class OwnerOrTeamQuerySet(VisibleQuerySet):
    """Records about either a person or a team (quotas, adjustments, forecast ranges): the
    person's follow the owner rule, a team's are its manager's, and a record about neither
    (the company-wide range) is for admins only."""

    owner_field = "user"
    team_field = "team"

    def visibility_q(self, user) -> Q | None:
        return owner_or_team_q(user, self.owner_field, self.team_field)


def can_see_team_forecast(user) -> bool:
    """Whether ``user`` sees other people's numbers: managers (their teams) and admins
    (everyone) get rows per rep and team, the people filters and the team's week at a
    glance; a rep sees their own figures only."""
    return is_admin(user) or is_manager(user)


def sees_every_record(user) -> bool:
    """Whether no owner rule narrows what ``user`` sees (admins): their company-wide figures
    and the unscoped fast paths of the reports."""
    return is_admin(user)


def forecasts_by_team(user) -> bool:
    """Whether ``user``'s own range of outcomes is a team's (managers) rather than their own
    (reps) or everyone's (admins)."""
    return is_manager(user)


def can_calibrate_stages(user) -> bool:
    """Stage calibration (configured probability against the empirical win rate): admins."""
    return is_admin(user)


def carries_quota(user) -> bool:
    """Reps carry a quota and are the rows of forecasts and scorecards; a manager or an admin
    is a row only where they own deals or have a quota."""
    return user.role == "rep"


def quota_carriers(users):
    """The users of the queryset ``users`` who carry a quota (reps)."""
    return users.filter(role="rep")


def can_manage_quotas(by, *, user=None, team=None) -> bool:
    """Whether ``by`` sets the quota of ``user`` or ``team``: an admin anyone's; a manager
    their own, their teams' and their teams' members'; a rep nobody's. Without a rep or a
    team: whether ``by`` sets any quota at all (opens the quota editor)."""
    if is_admin(by):
        return True
    if not is_manager(by):
        return False
    if user is None and team is None:
        return True
    teams = managed_team_ids(by)
    if team is not None:
        return team.pk in teams
    return user.team_id in teams or user.pk == by.pk


def can_adjust_forecast(by, *, user=None, team=None) -> bool:
    """Whether ``by`` records a call on the forecast of ``user`` or ``team``: whoever manages
    their quotas, except on their own number (nobody adjusts their own forecast). Without a
    rep or a team: whether ``by`` adjusts forecasts at all (managers and admins)."""
    if user is not None and by is not None and user.pk == by.pk:
        return False
    return can_manage_quotas(by, user=user, team=team)
