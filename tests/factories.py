"""factory_boy factories shared by the whole suite. Stages and transitions are never made by
hand for opportunities: ``OpportunityFactory`` goes through ``services.create_opportunity``
so every deal starts with its creation transition, and later stages are reached with
``services.move_opportunity``."""

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from accounts.models import Team, User
from pipeline import services
from pipeline.models import Company, Contact, Lead, LostReason, Pipeline, Stage


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = User.Role.REP
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def make_manager(team: Team, **kwargs) -> User:
    manager = UserFactory(role=User.Role.MANAGER, team=team, **kwargs)
    team.manager = manager
    team.save(update_fields=["manager"])
    return manager


class PipelineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pipeline
        django_get_or_create = ("name",)
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Pipeline {n}")

    @factory.post_generation
    def stages(obj, create, extracted, **kwargs):
        """Default stages: Qualification 10, Discovery 25, Proposal 50, Negotiation 75,
        Won 100, Lost 0."""
        if not create or extracted is False or obj.stages.exists():
            return
        spec = extracted or [
            ("Qualification", "open", 10, "pipeline", 30, []),
            ("Discovery", "open", 25, "pipeline", 30, []),
            ("Proposal", "open", 50, "best_case", 21, ["amount", "expected_close_date"]),
            ("Negotiation", "open", 75, "commit", 14, ["decision_maker"]),
            ("Won", "won", 100, "closed", None, []),
            ("Lost", "lost", 0, "omitted", None, []),
        ]
        for pos, (name, kind, prob, cat, rot, crit) in enumerate(spec):
            Stage.objects.create(
                pipeline=obj,
                name=name,
                position=pos,
                kind=kind,
                probability=prob,
                forecast_category=cat,
                rot_after_days=rot,
                exit_criteria=crit,
            )


def stage(pipeline: Pipeline, name: str) -> Stage:
    return pipeline.stages.get(name=name)


class LostReasonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LostReason
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Reason {n}")


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n}")
    owner = factory.SubFactory(UserFactory)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Faker("email")
    company = factory.SubFactory(CompanyFactory, owner=factory.SelfAttribute("..owner"))
    owner = factory.SubFactory(UserFactory)


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Faker("email")
    company_name = factory.Sequence(lambda n: f"Lead Co {n}")
    owner = factory.SubFactory(UserFactory)
    source = Lead.Source.WEB


class OpportunityFactory(factory.Factory):
    """Builds a deal through ``services.create_opportunity`` (creation transition included)."""

    class Meta:
        model = dict

    owner = factory.SubFactory(UserFactory)
    pipeline = factory.SubFactory(PipelineFactory)
    company = factory.LazyAttribute(lambda o: CompanyFactory(owner=o.owner))
    contact = None
    name = factory.Sequence(lambda n: f"Deal {n}")
    amount = Decimal("10000.00")
    expected_close_date = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=30))
    probability = None
    stage = None
    by = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        by = kwargs.pop("by") or kwargs["owner"]
        return services.create_opportunity(by=by, **kwargs)

    _build = _create


def current_version(opportunity) -> int:
    """The deal's version as stored now: what a page would post after a reload. Tests and
    helpers that move deals pass it explicitly, as every caller of a stage action must."""
    from pipeline.models import Opportunity

    return Opportunity.objects.values_list("version", flat=True).get(pk=opportunity.pk)


def stored_version(record) -> int:
    """Any versioned record's version as stored now (a company, contact, lead, activity)."""
    return type(record).objects.values_list("version", flat=True).get(pk=record.pk)
