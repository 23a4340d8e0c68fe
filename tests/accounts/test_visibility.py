"""accounts.visibility: the one rule of who sees and edits what, for every role."""

import pytest
from django.contrib.auth.models import AnonymousUser

from accounts import visibility
from accounts.models import Team, User
from pipeline import services
from pipeline.models import Activity, Company, Contact, Lead, Opportunity
from tests.factories import (
    CompanyFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    TeamFactory,
    UserFactory,
    make_manager,
)


@pytest.fixture
def world(rep, rep2, manager, outsider, pipeline):
    """One deal, lead, company, contact and activity per owner."""
    owners = {"rep": rep, "rep2": rep2, "manager": manager, "outsider": outsider}
    records = {}
    for key, owner in owners.items():
        contact = ContactFactory(owner=owner, first_name=key)
        deal = OpportunityFactory(
            owner=owner, pipeline=pipeline, company=contact.company, contact=contact, name=key
        )
        lead = LeadFactory(owner=owner, first_name=key)
        activity = services.log_activity(by=owner, kind="note", subject=key, opportunity=deal)
        records[key] = {
            Opportunity: deal,
            Lead: lead,
            Company: contact.company,
            Contact: contact,
            Activity: activity,
        }
    return records


MODELS = [Opportunity, Lead, Company, Contact, Activity]


def _visible_keys(world, model, user):
    pks = set(model.objects.visible_to(user).values_list("pk", flat=True))
    return {key for key, recs in world.items() if recs[model].pk in pks}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_visible_to_rep_sees_only_own(world, rep, model):
    assert _visible_keys(world, model, rep) == {"rep"}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_visible_to_manager_sees_team_and_own(world, manager, model):
    assert _visible_keys(world, model, manager) == {"rep", "rep2", "manager"}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_visible_to_admin_sees_everything(world, admin_user, model):
    assert _visible_keys(world, model, admin_user) == {"rep", "rep2", "manager", "outsider"}
    assert model.objects.visible_to(admin_user).count() == model.objects.count()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_visible_to_outsider_sees_none_of_the_other_team(world, outsider, model):
    assert _visible_keys(world, model, outsider) == {"outsider"}


def test_visible_to_superuser_with_rep_role_sees_everything(world):
    root = UserFactory(username="root", is_superuser=True)
    assert Opportunity.objects.visible_to(root).count() == 4
    assert visibility.is_admin(root)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_visible_to_inactive_or_anonymous_sees_nothing(world, rep, admin_user, model):
    for user in (rep, admin_user):
        user.is_active = False
        user.save()
        assert not model.objects.visible_to(user).exists()
    assert not model.objects.visible_to(AnonymousUser()).exists()
    assert not model.objects.visible_to(None).exists()


def test_visible_to_company_and_contact_through_a_visible_deal(rep, rep2, pipeline):
    contact = ContactFactory(owner=rep)
    assert not Company.objects.visible_to(rep2).filter(pk=contact.company_id).exists()
    OpportunityFactory(owner=rep2, by=rep2, pipeline=pipeline, company=CompanyFactory(owner=rep2))
    # rep2's deal at rep's company, with rep's contact as primary contact (set by an admin
    # for the test; a rep can only choose what they see).
    admin = UserFactory(username="boss", role="admin")
    OpportunityFactory(
        owner=rep2, by=admin, pipeline=pipeline, company=contact.company, contact=contact
    )
    assert Company.objects.visible_to(rep2).filter(pk=contact.company_id).exists()
    assert Contact.objects.visible_to(rep2).filter(pk=contact.pk).exists()
    # Seeing the company does not reveal its other contacts or deals.
    other_contact = ContactFactory(owner=rep, company=contact.company)
    assert not Contact.objects.visible_to(rep2).filter(pk=other_contact.pk).exists()
    assert Opportunity.objects.visible_to(rep2).filter(owner=rep).count() == 0


def test_visible_to_through_deal_does_not_duplicate_rows(rep, pipeline):
    company = CompanyFactory(owner=rep)
    for _ in range(3):
        OpportunityFactory(owner=rep, pipeline=pipeline, company=company)
    assert list(Company.objects.visible_to(rep)) == [company]


def test_visible_to_manager_without_team_manager_set_still_leads_own_team(pipeline):
    team = TeamFactory(name="North")
    lead_manager = UserFactory(username="north_manager", role="manager", team=team)
    member = UserFactory(username="north_rep", team=team)
    deal = OpportunityFactory(owner=member, pipeline=pipeline)
    assert Opportunity.objects.visible_to(lead_manager).filter(pk=deal.pk).exists()


def test_visible_to_manager_of_several_teams(manager, rep, outsider, pipeline):
    west = outsider.team
    west.manager = manager
    west.save()
    manager.refresh_from_db()
    OpportunityFactory(owner=rep, pipeline=pipeline)
    OpportunityFactory(owner=outsider, pipeline=pipeline)
    owners = set(Opportunity.objects.visible_to(manager).values_list("owner__username", flat=True))
    assert owners == {"rep", "outsider"}


def test_visible_to_manager_member_of_a_team_led_by_someone_else(manager, rep, pipeline):
    """A manager who sits in East but manages only South does not see East's deals."""
    south = TeamFactory(name="South")
    peer = make_manager(south, username="south_manager")
    peer.team = manager.team
    peer.save()
    peer = User.objects.get(pk=peer.pk)
    south_rep = UserFactory(username="south_rep", team=south)
    east_deal = OpportunityFactory(owner=rep, pipeline=pipeline)
    south_deal = OpportunityFactory(owner=south_rep, pipeline=pipeline)
    visible = set(Opportunity.objects.visible_to(peer).values_list("pk", flat=True))
    assert south_deal.pk in visible
    assert east_deal.pk not in visible
    assert not visibility.can_edit(peer, east_deal)


def test_visible_to_manager_is_two_queries_whatever_the_data(
    manager, rep, pipeline, django_assert_num_queries
):
    def count():
        fresh = User.objects.get(pk=manager.pk)
        with django_assert_num_queries(2):  # managed teams + the filtered list
            return len(list(Opportunity.objects.visible_to(fresh)))

    OpportunityFactory(owner=rep, pipeline=pipeline)
    assert count() == 1
    for _ in range(20):
        OpportunityFactory(owner=rep, pipeline=pipeline)
    assert count() == 21


def test_manager_filter_names_the_owners_read_with_the_teams(manager, rep, outsider, pipeline):
    """The one query for the managed teams also reads their members, so the filter is
    ``owner IN (ids)``: the manager, every member (an inactive one too) and nobody of
    another team. A member who joins later is in the next request's list (a fresh user)."""
    idle = UserFactory(username="idle_rep", team=manager.team, is_active=False)
    fresh = User.objects.get(pk=manager.pk)
    q = visibility.owner_q(fresh)
    assert q.children == [("owner__in", sorted({manager.pk, rep.pk, idle.pk}))]
    assert fresh._managed_team_ids == [manager.team_id]
    newcomer = UserFactory(username="newcomer", team=manager.team)
    deal = OpportunityFactory(owner=newcomer, pipeline=pipeline)
    assert not Opportunity.objects.visible_to(fresh).filter(pk=deal.pk).exists()
    again = User.objects.get(pk=manager.pk)
    assert Opportunity.objects.visible_to(again).filter(pk=deal.pk).exists()
    assert visibility.rule_inputs(fresh) != visibility.rule_inputs(again)
    assert outsider.pk not in visibility.owner_q(again).children[0][1]


def test_manager_known_only_by_team_ids_reads_the_members_live(manager, rep, pipeline):
    """A user whose team ids were set without the members (an API token's cached user)
    gets the members as a subquery, answered at each run: a rep who joins is seen at once."""
    cached = User.objects.get(pk=manager.pk)
    cached._managed_team_ids = [manager.team_id]
    assert visibility._owner_ids(cached) is None
    newcomer = UserFactory(username="newcomer", team=manager.team)
    deal = OpportunityFactory(owner=newcomer, pipeline=pipeline)
    assert Opportunity.objects.visible_to(cached).filter(pk=deal.pk).exists()
    assert visibility.rule_inputs(cached)[-1] is None


# --- visible_users / visible_teams -----------------------------------------------------------


def test_visible_users_per_role(rep, rep2, manager, outsider, admin_user):
    rep2.is_active = False
    rep2.save()
    assert set(visibility.visible_users(rep)) == {rep}
    assert set(visibility.visible_users(manager)) == {manager, rep}
    everyone = set(User.objects.filter(is_active=True))
    assert set(visibility.visible_users(admin_user)) == everyone
    assert outsider in everyone and rep2 not in everyone
    assert not visibility.visible_users(rep2).exists()
    assert not visibility.visible_users(AnonymousUser()).exists()


def test_visible_teams_per_role(rep, manager, outsider, admin_user):
    assert list(visibility.visible_teams(rep)) == [rep.team]
    assert list(visibility.visible_teams(manager)) == [manager.team]
    assert set(visibility.visible_teams(admin_user)) == set(Team.objects.all())
    loner = UserFactory(username="loner")
    assert not visibility.visible_teams(loner).exists()
    outsider.is_active = False
    outsider.save()
    assert not visibility.visible_teams(outsider).exists()
    assert not visibility.visible_teams(AnonymousUser()).exists()


# --- can_edit / can_reopen -------------------------------------------------------------------


def test_can_edit_per_role(rep, rep2, manager, outsider, admin_user, opportunity):
    assert visibility.can_edit(rep, opportunity)
    assert visibility.can_edit(manager, opportunity)
    assert visibility.can_edit(admin_user, opportunity)
    assert not visibility.can_edit(rep2, opportunity)
    assert not visibility.can_edit(outsider, opportunity)
    assert not visibility.can_edit(outsider.team.manager, opportunity)
    assert not visibility.can_edit(AnonymousUser(), opportunity)
    rep.is_active = False
    rep.save()
    assert not visibility.can_edit(rep, opportunity)


def test_can_edit_record_without_owner_is_admin_only(rep, admin_user, opportunity):
    transition = opportunity.transitions.get()
    assert not visibility.can_edit(rep, transition)
    assert visibility.can_edit(admin_user, transition)


def test_can_reopen_only_manager_of_owner_or_admin(rep, manager, outsider, admin_user, opportunity):
    assert not visibility.can_reopen(rep, opportunity)
    assert visibility.can_reopen(manager, opportunity)
    assert visibility.can_reopen(admin_user, opportunity)
    assert not visibility.can_reopen(outsider.team.manager, opportunity)
    manager.is_active = False
    manager.save()
    assert not visibility.can_reopen(manager, opportunity)


def test_can_reopen_manager_own_deal(manager, pipeline):
    deal = OpportunityFactory(owner=manager, pipeline=pipeline)
    assert visibility.can_reopen(manager, deal)


def test_can_see_owner_none_is_admin_only(rep, admin_user):
    assert not visibility.can_see_owner(rep, None)
    assert visibility.can_see_owner(admin_user, None)


def test_visible_to_activity_on_a_visible_record_whoever_logged_it(
    rep, rep2, manager, outsider, opportunity
):
    note = services.log_activity(
        by=manager, kind="note", subject="Coaching: ask about budget", opportunity=opportunity
    )
    assert note.owner == manager
    assert Activity.objects.visible_to(rep).filter(pk=note.pk).exists()
    assert not Activity.objects.visible_to(rep2).filter(pk=note.pk).exists()
    assert not Activity.objects.visible_to(outsider).filter(pk=note.pk).exists()


def test_logged_by_visible_is_the_visible_activities_of_visible_people(
    rep, rep2, manager, outsider, admin_user, opportunity
):
    """Activities logged by a person the viewer sees: a subset of what the viewer sees, and for
    each such person exactly their visible activities (what the scorecards count per rep)."""
    outsider_deal = OpportunityFactory(owner=outsider)
    services.log_activity(by=manager, kind="note", subject="On rep's deal", opportunity=opportunity)
    services.log_activity(by=rep, kind="call", subject="Own call", opportunity=opportunity)
    services.log_activity(by=outsider, kind="note", subject="Outside", opportunity=outsider_deal)
    visible_users = list(User.objects.all())
    for viewer in (rep, rep2, manager, outsider, admin_user):
        logged = Activity.objects.logged_by_visible(viewer)
        seen = Activity.objects.visible_to(viewer)
        assert set(logged) <= set(seen)
        for person in visible_users:
            if visibility.can_see_owner(viewer, person):
                assert set(logged.filter(owner=person)) == set(seen.filter(owner=person))
            else:
                assert not logged.filter(owner=person).exists()
    assert Activity.objects.logged_by_visible(rep2).count() == 0
    assert Activity.objects.logged_by_visible(manager).count() == 2


# --- the named role questions ------------------------------------------------------------------

ROLE_QUESTIONS = {
    # question: the roles answered yes, of rep / manager / admin / superuser (rep role)
    "can_administer": {"admin", "superuser"},
    "can_assign_owner": {"manager", "admin", "superuser"},
    "can_use_two_factor": {"manager", "admin", "superuser"},
    "follows_team": {"manager"},
}


@pytest.fixture
def by_role(rep, manager, admin_user):
    return {
        "rep": rep,
        "manager": manager,
        "admin": admin_user,
        "superuser": UserFactory(username="root", is_superuser=True),
    }


@pytest.mark.parametrize("question", sorted(ROLE_QUESTIONS))
def test_named_role_question_per_role(by_role, question):
    ask = getattr(visibility, question)
    assert {role for role, user in by_role.items() if ask(user)} == ROLE_QUESTIONS[question]


@pytest.mark.parametrize("question", sorted(ROLE_QUESTIONS))
def test_named_role_question_is_no_for_inactive_and_anonymous(by_role, question):
    ask = getattr(visibility, question)
    for user in by_role.values():
        user.is_active = False
        assert not ask(user)
    assert not ask(AnonymousUser()) and not ask(None)


def test_scope_key_equal_for_equal_scopes_only(rep, rep2, manager, admin_user):
    root = UserFactory(username="root", is_superuser=True)
    assert visibility.scope_key(admin_user) == visibility.scope_key(root) == "admin"
    keys = {visibility.scope_key(u) for u in (rep, rep2, manager, admin_user)}
    assert len(keys) == 4


def test_role_questions_are_template_filters(rf, rep, manager, admin_user):
    from django.template import Context, Template

    page = Template(
        "{% load permissions %}{% if user|can_administer %}A{% endif %}"
        "{% if user|can_assign_owner %}O{% endif %}{% if user|can_use_two_factor %}2{% endif %}"
        "{% if user|follows_team %}T{% endif %}"
    )
    answers = [page.render(Context({"user": u})) for u in (rep, manager, admin_user)]
    assert answers == ["", "O2T", "AO2"]
