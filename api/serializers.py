"""Representations of the records (read) and the input of each write.

Field names are the model's (the pages' and exports' names); money is a decimal string, dates
ISO 8601, times ISO 8601 with time zone. Related records are ids (``company``) plus, where a
page shows it, the name (``company_name``). Input serializers only parse and type-check: the
rules (visibility of related records, exit criteria, required lost reason …) are the
services', whose ``ValidationError`` becomes the API's error shape. Unknown fields are refused.
"""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers
from rest_framework.utils.serializer_helpers import BindingDict

from accounts import visibility
from accounts.models import Team, User
from api import deal_rows
from forecasting.models import ForecastSnapshot
from pipeline.models import (
    Activity,
    Company,
    Contact,
    Lead,
    LineItem,
    LostReason,
    Opportunity,
    Pipeline,
    Product,
    ProductPrice,
    Stage,
)

# An open deal's forecast category override ("" = its stage's).
OPEN_FORECAST_CATEGORIES = [
    ("", "Stage's"),
    ("pipeline", "Pipeline"),
    ("best_case", "Best case"),
    ("commit", "Commit"),
]
MONEY = {"max_digits": 14, "decimal_places": 2, "min_value": Decimal("0")}


class Visible(serializers.PrimaryKeyRelatedField):
    """An id of a record the caller may see: one they may not is answered exactly like an id
    that does not exist, so the API never confirms it."""

    def __init__(self, model, **kwargs):
        self.model = model
        kwargs.setdefault("queryset", model.objects.all())
        super().__init__(**kwargs)

    def get_queryset(self):
        user = self.context["request"].user
        if self.model is User:
            return visibility.visible_users(user)
        manager = self.model.objects
        return manager.visible_to(user) if hasattr(manager.all(), "visible_to") else manager.all()


class StrictInput(serializers.Serializer):
    """Refuses fields it does not know (a typo must not be silently ignored)."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": ["Send a JSON object of field names and values."]}
            )
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {
                    name: ["Unknown field; see the schema for the fields you may send."]
                    for name in unknown
                }
            )
        return super().to_internal_value(data)


# For representations (the read serializers): DRF builds every field of a serializer anew for
# each serializer, which for a model serializer means reading the model's fields again on every
# request. These are built once per class and shared by every instance, bound to a prototype.
# So only fields whose output depends on the record alone belong here: nothing from the request
# or the context, which the shared fields never see. (A comment, not a docstring: the schema
# would show a docstring as every representation's description.)
class SharedFields:
    @property
    def fields(self):
        cls = type(self)
        shared = cls.__dict__.get("_shared_fields")
        if shared is None:
            prototype = cls()
            shared = BindingDict(prototype)
            for name, field in prototype.get_fields().items():
                shared[name] = field
            cls._shared_fields = shared
        return shared


class VersionInput(StrictInput):
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="The version you changed (instead of If-Match). Stale: 409.",
    )


# --- read ------------------------------------------------------------------------------------


class UserSerializer(SharedFields, serializers.ModelSerializer):
    name = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "name", "first_name", "last_name", "email", "role", "team"]

    def get_name(self, obj) -> str:
        return str(obj)


class TeamSerializer(SharedFields, serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "manager"]


class StageSerializer(SharedFields, serializers.ModelSerializer):
    class Meta:
        model = Stage
        fields = [
            "id",
            "pipeline",
            "name",
            "position",
            "kind",
            "probability",
            "forecast_category",
            "rot_after_days",
            "exit_criteria",
        ]


class PipelineSerializer(SharedFields, serializers.ModelSerializer):
    stages = StageSerializer(many=True, read_only=True)
    use_empirical_probabilities = serializers.BooleanField(read_only=True)

    class Meta:
        model = Pipeline
        fields = [
            "id", "name", "position", "is_active", "probability_source",
            "use_empirical_probabilities", "stages",
        ]  # fmt: skip


class LostReasonSerializer(SharedFields, serializers.ModelSerializer):
    class Meta:
        model = LostReason
        fields = ["id", "name", "is_active", "position"]


class CompanySerializer(SharedFields, serializers.ModelSerializer):
    class Meta:
        model = Company
        fields = [
            "id",
            "name",
            "website",
            "industry",
            "employees",
            "phone",
            "city",
            "country",
            "owner",
            "version",
            "created_at",
            "updated_at",
        ]


class ContactSerializer(SharedFields, serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = [
            "id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "title",
            "is_decision_maker",
            "company",
            "owner",
            "version",
            "created_at",
            "updated_at",
        ]


class LeadSerializer(SharedFields, serializers.ModelSerializer):
    class Meta:
        model = Lead
        fields = [
            "id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "title",
            "company_name",
            "source",
            "status",
            "owner",
            "need",
            "budget",
            "authority",
            "timeline",
            "disqualification_reason",
            "company",
            "contact",
            "opportunity",
            "version",
            "created_at",
            "updated_at",
            "qualified_at",
            "converted_at",
            "disqualified_at",
        ]


class ProductPriceSerializer(SharedFields, serializers.ModelSerializer):
    class Meta:
        model = ProductPrice
        fields = ["currency", "unit_price"]


class ProductSerializer(SharedFields, serializers.ModelSerializer):
    prices = ProductPriceSerializer(many=True, read_only=True)

    class Meta:
        model = Product
        fields = ["id", "name", "code", "category", "description", "is_active", "prices"]


class LineItemSerializer(SharedFields, serializers.ModelSerializer):
    product_name = serializers.CharField(source="product.name", read_only=True)
    product_code = serializers.CharField(source="product.code", read_only=True)

    class Meta:
        model = LineItem
        fields = [
            "id",
            "opportunity",
            "product",
            "product_name",
            "product_code",
            "quantity",
            "unit_price",
            "discount_percent",
            "total",
            "created_at",
        ]


class OpportunitySerializer(SharedFields, serializers.ModelSerializer):
    company_name = serializers.CharField(source="company.name", read_only=True)
    stage_name = serializers.CharField(source="stage.name", read_only=True)
    stage_kind = serializers.CharField(source="stage.kind", read_only=True)
    effective_probability = serializers.IntegerField(read_only=True)
    weighted_amount = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    effective_forecast_category = serializers.CharField(read_only=True)
    line_items = LineItemSerializer(
        many=True,
        read_only=True,
        help_text="The products the deal sells; with any, the amount is their sum.",
    )

    class Meta:
        model = Opportunity
        fields = [
            "id",
            "name",
            "company",
            "company_name",
            "contact",
            "owner",
            "pipeline",
            "stage",
            "stage_name",
            "stage_kind",
            "amount",
            "currency",
            "probability",
            "effective_probability",
            "weighted_amount",
            "expected_close_date",
            "closed_on",
            "forecast_category",
            "effective_forecast_category",
            "lost_reason",
            "lost_note",
            "next_step",
            "next_step_due",
            "version",
            "created_at",
            "updated_at",
            "stage_entered_at",
            "last_activity_at",
            "line_items",
        ]

    def to_representation(self, instance):
        if isinstance(instance, deal_rows.DealRow):
            return deal_rows.represent(self, instance)
        return super().to_representation(instance)


class ActivitySerializer(SharedFields, serializers.ModelSerializer):
    class Meta:
        model = Activity
        fields = [
            "id",
            "kind",
            "subject",
            "body",
            "owner",
            "lead",
            "opportunity",
            "contact",
            "company",
            "occurred_at",
            "due_on",
            "done_at",
            "version",
            "created_at",
        ]


class ForecastSnapshotSerializer(SharedFields, serializers.ModelSerializer):
    class Meta:
        model = ForecastSnapshot
        fields = [
            "id",
            "taken_on",
            "period",
            "owner",
            "pipeline",
            "open_count",
            "open_amount",
            "weighted_amount",
            "commit_amount",
            "best_case_amount",
            "won_amount",
            "won_count",
            "lost_count",
            "lost_amount",
        ]


class FiguresSerializer(serializers.Serializer):
    won = serializers.DecimalField(max_digits=16, decimal_places=2)
    won_count = serializers.IntegerField()
    commit = serializers.DecimalField(max_digits=16, decimal_places=2)
    best_case = serializers.DecimalField(max_digits=16, decimal_places=2)
    weighted = serializers.DecimalField(max_digits=16, decimal_places=2)
    open = serializers.DecimalField(max_digits=16, decimal_places=2)
    open_count = serializers.IntegerField()
    lost_count = serializers.IntegerField()
    quota = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    commit_forecast = serializers.DecimalField(max_digits=16, decimal_places=2)
    best_case_forecast = serializers.DecimalField(max_digits=16, decimal_places=2)
    weighted_forecast = serializers.DecimalField(max_digits=16, decimal_places=2)
    attainment = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    gap = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)


class RepFiguresSerializer(serializers.Serializer):
    rep = serializers.IntegerField(source="rep.pk")
    rep_name = serializers.CharField(source="rep")
    figures = FiguresSerializer()


class DashboardSerializer(serializers.Serializer):
    period = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    pipeline = serializers.IntegerField(allow_null=True)
    team = serializers.IntegerField(allow_null=True)
    rep = serializers.IntegerField(allow_null=True)
    total = FiguresSerializer()
    reps = RepFiguresSerializer(many=True)


# --- write -----------------------------------------------------------------------------------


class CompanyInput(VersionInput):
    name = serializers.CharField(max_length=200)
    website = serializers.CharField(max_length=200, required=False, allow_blank=True)
    industry = serializers.CharField(max_length=100, required=False, allow_blank=True)
    employees = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=2_147_483_647
    )
    phone = serializers.CharField(max_length=50, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    country = serializers.CharField(max_length=100, required=False, allow_blank=True)
    owner = Visible(User, required=False)


class ContactInput(VersionInput):
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(max_length=50, required=False, allow_blank=True)
    title = serializers.CharField(max_length=150, required=False, allow_blank=True)
    is_decision_maker = serializers.BooleanField(required=False)
    company = Visible(Company, required=False, allow_null=True)
    owner = Visible(User, required=False)


class LeadInput(VersionInput):
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(max_length=50, required=False, allow_blank=True)
    title = serializers.CharField(max_length=150, required=False, allow_blank=True)
    company_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    source = serializers.ChoiceField(choices=Lead.Source.choices, required=False)
    need = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    budget = serializers.DecimalField(**MONEY, required=False, allow_null=True)
    authority = serializers.CharField(max_length=200, required=False, allow_blank=True)
    timeline = serializers.CharField(max_length=200, required=False, allow_blank=True)
    owner = Visible(User, required=False)


class LeadDisqualifyInput(VersionInput):
    reason = serializers.CharField(max_length=255)


class LeadConvertInput(VersionInput):
    amount = serializers.DecimalField(**MONEY)
    expected_close_date = serializers.DateField()
    pipeline = Visible(Pipeline, required=False, allow_null=True)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    company = Visible(Company, required=False, allow_null=True)
    company_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    contact = Visible(Contact, required=False, allow_null=True)
    contact_is_decision_maker = serializers.BooleanField(required=False)
    owner = Visible(User, required=False)


class OpportunityInput(VersionInput):
    name = serializers.CharField(max_length=200)
    company = Visible(Company)
    pipeline = Visible(Pipeline)
    stage = Visible(Stage, required=False, allow_null=True)
    contact = Visible(Contact, required=False, allow_null=True)
    owner = Visible(User, required=False)
    amount = serializers.DecimalField(**MONEY)
    currency = serializers.CharField(
        max_length=3,
        required=False,
        help_text="ISO 4217 code of the amount (default: the reporting currency).",
    )
    probability = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=100
    )
    expected_close_date = serializers.DateField()
    forecast_category = serializers.ChoiceField(
        choices=OPEN_FORECAST_CATEGORIES,
        required=False,
        allow_blank=True,
    )
    next_step = serializers.CharField(max_length=255, required=False, allow_blank=True)
    next_step_due = serializers.DateField(required=False, allow_null=True)


class OpportunityUpdateInput(OpportunityInput):
    """Every field optional (PATCH semantics on PUT too); pipeline and stage are not edited
    here: stage changes are the move / close actions."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.pop("pipeline")
        self.fields.pop("stage")
        for field in self.fields.values():
            field.required = False


class MoveInput(VersionInput):
    stage = Visible(Stage)
    lost_reason = Visible(LostReason, required=False, allow_null=True)
    lost_note = serializers.CharField(max_length=255, required=False, allow_blank=True)
    closed_on = serializers.DateField(required=False, allow_null=True)


class CloseWonInput(VersionInput):
    closed_on = serializers.DateField(required=False, allow_null=True)


class CloseLostInput(VersionInput):
    lost_reason = Visible(LostReason)
    lost_note = serializers.CharField(max_length=255, required=False, allow_blank=True)
    stage = Visible(Stage, required=False, allow_null=True)
    closed_on = serializers.DateField(required=False, allow_null=True)


QUANTITY = {"max_digits": 12, "decimal_places": 2}


class LineItemInput(VersionInput):
    product = Visible(Product)
    quantity = serializers.DecimalField(**QUANTITY, required=False, default=Decimal("1"))
    unit_price = serializers.DecimalField(
        **MONEY,
        required=False,
        allow_null=True,
        help_text="Empty: the product's list price in the deal's currency.",
    )
    discount_percent = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        required=False,
        allow_null=True,
    )


class LineItemUpdateInput(VersionInput):
    """Fields left out keep the line's values (its product never changes: remove the line and
    add another)."""

    quantity = serializers.DecimalField(**QUANTITY, required=False)
    unit_price = serializers.DecimalField(**MONEY, required=False)
    discount_percent = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        required=False,
    )


class LineItemChangeSerializer(serializers.Serializer):
    """A line item write's answer: the line (none after a removal) and the deal as it is now,
    with its new version (also the ETag) and amount."""

    line_item = LineItemSerializer(allow_null=True)
    opportunity = OpportunitySerializer()


class ActivityInput(StrictInput):
    kind = serializers.ChoiceField(choices=Activity.Kind.choices)
    subject = serializers.CharField(max_length=200)
    body = serializers.CharField(required=False, allow_blank=True, max_length=50_000)
    lead = Visible(Lead, required=False, allow_null=True)
    opportunity = Visible(Opportunity, required=False, allow_null=True)
    contact = Visible(Contact, required=False, allow_null=True)
    company = Visible(Company, required=False, allow_null=True)
    due_on = serializers.DateField(required=False, allow_null=True)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)
    owner = Visible(User, required=False)


class ActivityUpdateInput(VersionInput):
    subject = serializers.CharField(max_length=200, required=False)
    body = serializers.CharField(required=False, allow_blank=True, max_length=50_000)
    due_on = serializers.DateField(required=False, allow_null=True)
    occurred_at = serializers.DateTimeField(required=False)
    done = serializers.BooleanField(required=False, help_text="Tasks: complete or reopen.")
