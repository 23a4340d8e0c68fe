"""What every API endpoint shares: the version-checked write, the visible-record lookup, the
schema of a record's list/read/create/update, and the error answers the schema names."""

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
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from api import concurrency
from api import filters as api_filters

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
    filter_backends = [api_filters.FilterBackend, OrderingFilter]
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


def scoped(model, select=(), prefetch=()):
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
