"""The REST API's endpoints: thin, like every view. Reads start from ``visible_to(user)`` (a
record one may not see is a 404); every write is a service call, with the version the client
names (``If-Match`` or ``version``); business actions are endpoints of their own."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import visibility
from accounts.models import Team, User
from api import concurrency
from api import filters as api_filters
from api import serializers as s
from forecasting.forms import ScopeForm
from forecasting.models import ForecastSnapshot
from pipeline import services
from pipeline.models import (
    Activity,
    Company,
    Contact,
    Lead,
    LostReason,
    Opportunity,
    Pipeline,
    Stage,
)

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description='The record\'s ETag (e.g. "3"); or send "version" in the body. Stale: 412.',
)
ERROR = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorBody",
            {
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "fields": serializers.DictField(child=serializers.ListField()),
            },
        )
    },
)
WRITE_ERRORS = {
    400: OpenApiResponse(ERROR, description="Bad input; nothing was changed."),
    403: OpenApiResponse(ERROR, description="Not allowed (e.g. a read-only token)."),
    404: OpenApiResponse(ERROR, description="No such record, or you may not see it."),
    409: OpenApiResponse(ERROR, description="Stale body version; the current record is in it."),
    412: OpenApiResponse(ERROR, description="Stale If-Match; the current record is in it."),
    428: OpenApiResponse(ERROR, description="No version named."),
}
CREATE_ERRORS = {k: v for k, v in WRITE_ERRORS.items() if k in (400, 403)}
ID_REGEX = r"[0-9]{1,18}"


@csrf_exempt  # it changes nothing; a write to an unknown path is a 404 like a read
def not_found(request, *args, **kwargs):
    """Any path under /api/ that names no endpoint (or an id that is not a number)."""
    from django.http import JsonResponse

    from api.exceptions import body

    return JsonResponse(body("not_found", "No such endpoint or record."), status=404)


class _Lookup:
    """One record by id from the visible queryset, without building the list's filters."""

    def get_object(self):
        obj = get_object_or_404(self.get_queryset(), pk=self.kwargs[self.lookup_field])
        self.check_object_permissions(self.request, obj)
        return obj


class ReadOnly(_Lookup, viewsets.ReadOnlyModelViewSet):
    lookup_value_regex = ID_REGEX

    def get_queryset(self):
        return self.queryset_for(self.request.user)


class Records(_Lookup, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Records you may see. Each answer carries the record's ETag; every write names the
    version it was made against (If-Match, or "version" in the body)."""

    lookup_value_regex = ID_REGEX
    filter_backends = [api_filters.filters.DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["id", "created_at", "updated_at"]
    input_class: type[serializers.Serializer]
    update_class: type[serializers.Serializer] | None = None

    def get_queryset(self):
        return self.queryset_for(self.request.user)

    def parsed(self, serializer_class, *, partial=False) -> dict:
        data = self.request.data
        if not isinstance(data, dict):
            raise ValidationError({"non_field_errors": ["Send a JSON object."]})
        serializer = serializer_class(
            data=data, partial=partial, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def respond(self, obj, status_code=status.HTTP_200_OK) -> Response:
        fresh = self.queryset_for(None).get(pk=obj.pk)
        data = self.get_serializer(fresh).data
        response = Response(data, status=status_code)
        response["ETag"] = concurrency.etag(fresh.version)
        return response

    def current(self, obj):
        return lambda: self.get_serializer(self.queryset_for(None).get(pk=obj.pk)).data

    def retrieve(self, request, *args, **kwargs):
        obj = self.get_object()
        tag = concurrency.etag(obj.version)
        if request.headers.get("If-None-Match") == tag:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": tag})
        response = Response(self.get_serializer(obj).data)
        response["ETag"] = tag
        return response

    def write(self, obj, func, data: dict, **kwargs):
        """Call ``func`` (a service) with the version the client named."""
        exp = concurrency.expected(self.request, data)
        data.pop("version", None)
        with concurrency.checked(exp, self.current(obj)):
            result = func(by=self.request.user, version=exp.version, **kwargs, **data)
        return self.respond(result if result is not None else obj)

    def update(self, request, *args, **kwargs):
        obj = self.get_object()
        data = self.parsed(self.update_class or self.input_class, partial=True)
        return self.do_update(obj, data)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)


def _scoped(model, select=(), prefetch=()):
    def queryset_for(self, user):
        qs = model.objects.all() if user is None else model.objects.visible_to(user)
        if select:
            qs = qs.select_related(*select)
        if prefetch:
            qs = qs.prefetch_related(*prefetch)
        return qs

    return queryset_for


def record_schema(
    one: str,
    many: str,
    *,
    serializer,
    request,
    update_request=None,
    change_summary: str = "",
    create_example: tuple[str, dict],
    update_example: tuple[str, dict] | None = None,
    patch_example: tuple[str, dict] | None = None,
):
    """The schema of a record's list, read, create, update and partial update (``one``: "a
    company", ``many``: "companies"); writes name their input, If-Match and error answers."""

    def examples(example):
        return [OpenApiExample(example[0], value=example[1])] if example else None

    change = {"parameters": [IF_MATCH], "request": update_request or request}
    answered = {200: serializer, **WRITE_ERRORS}
    return extend_schema_view(
        list=extend_schema(summary=f"List {many}"),
        retrieve=extend_schema(summary=f"Read {one}"),
        create=extend_schema(
            summary=f"Create {one}",
            request=request,
            responses={201: serializer, **CREATE_ERRORS},
            examples=examples(create_example),
        ),
        update=extend_schema(
            summary=change_summary or f"Change {one}",
            responses=answered,
            examples=examples(update_example),
            **change,
        ),
        partial_update=extend_schema(
            summary=f"Change some fields of {one}",
            responses=answered,
            examples=examples(patch_example),
            **change,
        ),
    )


# --- companies and contacts ------------------------------------------------------------------


@record_schema(
    "a company",
    "companies",
    serializer=s.CompanySerializer,
    request=s.CompanyInput,
    create_example=("New company", {"name": "Acme Ltd", "city": "Leeds"}),
    update_example=("Rename", {"name": "Acme Group"}),
)
class CompanyViewSet(Records):
    queryset = Company.objects.none()  # the schema's id type; get_queryset decides
    serializer_class = s.CompanySerializer
    input_class = s.CompanyInput
    filterset_class = api_filters.CompanyFilter
    ordering_fields = ["id", "name", "created_at", "updated_at"]
    queryset_for = _scoped(Company)

    def create(self, request):
        data = self.parsed(s.CompanyInput)
        data.pop("version", None)
        company = services.create_company(by=request.user, **data)
        return self.respond(company, status.HTTP_201_CREATED)

    def do_update(self, obj, data):
        return self.write(obj, services.update_company, data, company=obj)


@record_schema(
    "a contact",
    "contacts",
    serializer=s.ContactSerializer,
    request=s.ContactInput,
    create_example=(
        "New contact",
        {"first_name": "Dana", "last_name": "Reyes", "email": "dana@acme.test"},
    ),
    patch_example=("Decision maker", {"is_decision_maker": True}),
)
class ContactViewSet(Records):
    queryset = Contact.objects.none()  # the schema's id type; get_queryset decides
    serializer_class = s.ContactSerializer
    input_class = s.ContactInput
    filterset_class = api_filters.ContactFilter
    ordering_fields = ["id", "last_name", "created_at", "updated_at"]
    queryset_for = _scoped(Contact)

    def create(self, request):
        data = self.parsed(s.ContactInput)
        data.pop("version", None)
        contact = services.create_contact(by=request.user, **data)
        return self.respond(contact, status.HTTP_201_CREATED)

    def do_update(self, obj, data):
        return self.write(obj, services.update_contact, data, contact=obj)


# --- leads -----------------------------------------------------------------------------------

LEAD_EXAMPLE = {
    "first_name": "Sam",
    "last_name": "Okafor",
    "email": "sam@northwind.test",
    "company_name": "Northwind",
    "source": "web",
    "need": "Replace spreadsheets for 40 sellers",
    "budget": "48000.00",
    "timeline": "Decide in Q1",
}


@record_schema(
    "a lead",
    "leads",
    serializer=s.LeadSerializer,
    request=s.LeadInput,
    create_example=("From the website form", LEAD_EXAMPLE),
    patch_example=("Budget known", {"budget": "50000.00"}),
)
class LeadViewSet(Records):
    queryset = Lead.objects.none()  # the schema's id type; get_queryset decides
    serializer_class = s.LeadSerializer
    input_class = s.LeadInput
    filterset_class = api_filters.LeadFilter
    ordering_fields = ["id", "created_at", "updated_at", "last_name", "budget"]
    queryset_for = _scoped(Lead)

    def create(self, request):
        data = self.parsed(s.LeadInput)
        data.pop("version", None)
        lead = services.create_lead(by=request.user, **data)
        return self.respond(lead, status.HTTP_201_CREATED)

    def do_update(self, obj, data):
        return self.write(obj, services.update_lead, data, lead=obj)

    @extend_schema(
        summary="Qualify a lead as a prospect",
        parameters=[IF_MATCH],
        request=s.VersionInput,
        responses={200: s.LeadSerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("With the version in the body", value={"version": 1})],
    )
    @action(detail=True, methods=["post"])
    def qualify(self, request, pk=None):
        lead = self.get_object()
        return self.write(lead, services.qualify_lead, self.parsed(s.VersionInput), lead=lead)

    @extend_schema(
        summary="Disqualify a lead",
        parameters=[IF_MATCH],
        request=s.LeadDisqualifyInput,
        responses={200: s.LeadSerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Too small", value={"reason": "Fewer than 5 seats"})],
    )
    @action(detail=True, methods=["post"])
    def disqualify(self, request, pk=None):
        lead = self.get_object()
        data = self.parsed(s.LeadDisqualifyInput)
        return self.write(lead, services.disqualify_lead, data, lead=lead)

    @extend_schema(
        summary="Convert a prospect into an opportunity",
        description="Needs the lead's need, budget and timeline. Answers with the new deal.",
        parameters=[IF_MATCH],
        request=s.LeadConvertInput,
        responses={201: s.OpportunitySerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Convert", value={"amount": "48000.00", "expected_close_date": "2027-03-31"}
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def convert(self, request, pk=None):
        lead = self.get_object()
        data = self.parsed(s.LeadConvertInput)
        exp = concurrency.expected(request, data)
        data.pop("version", None)
        with concurrency.checked(exp, self.current(lead)):
            deal = services.convert_lead(lead=lead, by=request.user, version=exp.version, **data)
        deal = Opportunity.objects.select_related("stage", "company").get(pk=deal.pk)
        response = Response(
            s.OpportunitySerializer(deal, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )
        response["ETag"] = concurrency.etag(deal.version)
        response["Location"] = f"/api/v1/opportunities/{deal.pk}/"
        return response


# --- opportunities ---------------------------------------------------------------------------

DEAL_EXAMPLE = {
    "name": "Acme — 40 seats",
    "company": 12,
    "pipeline": 1,
    "amount": "48000.00",
    "expected_close_date": "2027-03-31",
}


@record_schema(
    "an opportunity",
    "opportunities",
    serializer=s.OpportunitySerializer,
    request=s.OpportunityInput,
    update_request=s.OpportunityUpdateInput,
    change_summary="Change an opportunity (never its stage)",
    create_example=("New deal", DEAL_EXAMPLE),
    patch_example=("New amount", {"amount": "52000.00"}),
)
class OpportunityViewSet(Records):
    queryset = Opportunity.objects.none()  # the schema's id type; get_queryset decides
    serializer_class = s.OpportunitySerializer
    input_class = s.OpportunityInput
    update_class = s.OpportunityUpdateInput
    filterset_class = api_filters.OpportunityFilter
    ordering_fields = ["id", "amount", "expected_close_date", "created_at", "updated_at"]
    queryset_for = _scoped(Opportunity, select=("stage", "company", "pipeline", "win_score"))

    def create(self, request):
        data = self.parsed(s.OpportunityInput)
        data.pop("version", None)
        deal = services.create_opportunity(by=request.user, **data)
        return self.respond(deal, status.HTTP_201_CREATED)

    def do_update(self, obj, data):
        return self.write(obj, services.update_opportunity, data, opportunity=obj)

    @extend_schema(
        summary="Move an opportunity to another stage of its pipeline",
        parameters=[IF_MATCH],
        request=s.MoveInput,
        responses={200: s.OpportunitySerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Next stage", value={"stage": 2})],
    )
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        deal = self.get_object()
        data = self.parsed(s.MoveInput)
        data["to_stage"] = data.pop("stage")
        return self.write(deal, services.move_opportunity, data, opportunity=deal)

    @extend_schema(
        summary="Close an opportunity as won",
        parameters=[IF_MATCH],
        request=s.CloseWonInput,
        responses={200: s.OpportunitySerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Won today", value={})],
    )
    @action(detail=True, methods=["post"], url_path="close-won")
    def close_won(self, request, pk=None):
        deal = self.get_object()
        data = self.parsed(s.CloseWonInput)
        return self.write(deal, services.close_won, data, opportunity=deal)

    @extend_schema(
        summary="Close an opportunity as lost",
        parameters=[IF_MATCH],
        request=s.CloseLostInput,
        responses={200: s.OpportunitySerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Lost on price", value={"lost_reason": 1, "lost_note": ""})],
    )
    @action(detail=True, methods=["post"], url_path="close-lost")
    def close_lost(self, request, pk=None):
        deal = self.get_object()
        data = self.parsed(s.CloseLostInput)
        return self.write(deal, services.close_lost, data, opportunity=deal)


# --- activities and tasks --------------------------------------------------------------------


class _ActivityRecords(Records):
    queryset = Activity.objects.none()  # the schema's id type; get_queryset decides
    serializer_class = s.ActivitySerializer
    input_class = s.ActivityInput
    update_class = s.ActivityUpdateInput
    ordering_fields = ["id", "occurred_at", "due_on", "created_at"]
    kind_filter: str | None = None

    def queryset_for(self, user):
        qs = Activity.objects.all() if user is None else Activity.objects.visible_to(user)
        return qs.filter(kind=self.kind_filter) if self.kind_filter else qs

    def create(self, request):
        data = self.parsed(s.ActivityInput)
        if self.kind_filter:
            data["kind"] = self.kind_filter
        activity = services.log_activity(by=request.user, **data)
        return self.respond(activity, status.HTTP_201_CREATED)

    def do_update(self, obj, data):
        return self.write(obj, services.update_activity, data, activity=obj)


ACTIVITY_WRITE = {
    "create": extend_schema(
        request=s.ActivityInput,
        responses={201: s.ActivitySerializer, **CREATE_ERRORS},
        examples=[
            OpenApiExample(
                "A call on a deal", value={"kind": "call", "subject": "Intro", "opportunity": 7}
            )
        ],
    ),
    "update": extend_schema(
        parameters=[IF_MATCH],
        request=s.ActivityUpdateInput,
        responses={200: s.ActivitySerializer, **WRITE_ERRORS},
    ),
    "partial_update": extend_schema(
        parameters=[IF_MATCH],
        request=s.ActivityUpdateInput,
        responses={200: s.ActivitySerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Complete a task", value={"done": True})],
    ),
}


@extend_schema_view(**ACTIVITY_WRITE)
class ActivityViewSet(_ActivityRecords):
    """Calls, emails, meetings, notes and tasks."""

    filterset_class = api_filters.ActivityFilter


@extend_schema_view(**ACTIVITY_WRITE)
class TaskViewSet(_ActivityRecords):
    """Tasks only (activities of kind ``task``); ``?done=false`` for open ones."""

    filterset_class = api_filters.TaskFilter
    kind_filter = Activity.Kind.TASK


# --- read-only lists -------------------------------------------------------------------------


class PipelineViewSet(ReadOnly):
    queryset = Pipeline.objects.none()  # the schema's id type; get_queryset decides
    serializer_class = s.PipelineSerializer

    def queryset_for(self, user):
        return Pipeline.objects.prefetch_related("stages")


class StageViewSet(ReadOnly):
    queryset = Stage.objects.none()  # the schema's id type; get_queryset decides
    serializer_class = s.StageSerializer
    filterset_fields = ["pipeline", "kind"]

    def queryset_for(self, user):
        return Stage.objects.all()


class LostReasonViewSet(ReadOnly):
    queryset = LostReason.objects.none()  # the schema's id type; get_queryset decides
    serializer_class = s.LostReasonSerializer
    filterset_fields = ["is_active"]

    def queryset_for(self, user):
        return LostReason.objects.all()


class UserViewSet(ReadOnly):
    """The users whose records you may see (reps: themselves)."""

    queryset = User.objects.none()  # the schema's id type; get_queryset decides
    serializer_class = s.UserSerializer

    def queryset_for(self, user):
        return visibility.visible_users(user)


class TeamViewSet(ReadOnly):
    queryset = Team.objects.none()  # the schema's id type; get_queryset decides
    serializer_class = s.TeamSerializer

    def queryset_for(self, user):
        return visibility.visible_teams(user) if user is not None else Team.objects.all()


class ForecastSnapshotViewSet(ReadOnly):
    """Nightly forecast snapshots (one row per date, period, owner and pipeline)."""

    queryset = ForecastSnapshot.objects.none()  # the schema's id type; get_queryset decides
    serializer_class = s.ForecastSnapshotSerializer
    filterset_class = api_filters.SnapshotFilter

    def queryset_for(self, user):
        return ForecastSnapshot.objects.visible_to(user)


class DashboardView(APIView):
    """The forecast dashboard's figures for a period, pipeline, team or rep."""

    @extend_schema(
        summary="Forecast figures of a period",
        parameters=[
            OpenApiParameter("period", str, description="2026-11 (a month) or 2026-Q4."),
            OpenApiParameter("pipeline", int),
            OpenApiParameter("team", int),
            OpenApiParameter("rep", int),
        ],
        responses={200: s.DashboardSerializer, 400: OpenApiResponse(ERROR)},
    )
    def get(self, request):
        from forecasting import selectors

        form = ScopeForm(request.GET, user=request.user)
        if not form.is_valid():
            raise ValidationError(
                form.errors.get_json_data()
                and {k: [e["message"] for e in v] for k, v in form.errors.get_json_data().items()}
            )
        scope = form.scope()
        board = selectors.dashboard(scope)
        data = {
            "period": scope.period.param,
            "period_start": scope.period.start,
            "period_end": scope.period.last_day,
            "pipeline": scope.pipeline.pk if scope.pipeline else None,
            "team": scope.team.pk if scope.team else None,
            "rep": scope.rep.pk if scope.rep else None,
            "total": board.total,
            "reps": board.rows,
        }
        return Response(s.DashboardSerializer(data).data)
