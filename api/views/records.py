"""Companies, contacts, activities and tasks: list, read, create and update, each write a
service call with the version the client names."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import status

from api import filters as api_filters
from api import serializers as s
from api.views.base import CREATE_ERRORS, IF_MATCH, WRITE_ERRORS, Records, record_schema, scoped
from pipeline import services
from pipeline.models import Activity, Company, Contact

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
    queryset_for = scoped(Company)

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
    queryset_for = scoped(Contact)

    def create(self, request):
        data = self.parsed(s.ContactInput)
        data.pop("version", None)
        contact = services.create_contact(by=request.user, **data)
        return self.respond(contact, status.HTTP_201_CREATED)

    def do_update(self, obj, data):
        return self.write(obj, services.update_contact, data, contact=obj)


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
