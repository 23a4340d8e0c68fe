"""One JSON shape for every error of the API:

``{"error": {"code": "...", "message": "...", "fields": {"field": ["reason", ...]}}}``

plus ``"current"`` (the record as stored) for version conflicts. A service's
``ValidationError`` is a 400 with its message and code, ``PermissionDenied`` a 403, an
unexpected exception still a JSON 500 (logged), never a traceback.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

log = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    """A stale version: 412 for ``If-Match``, 409 for a body ``version``."""

    def __init__(self, *, status_code: int, message: str, current: dict):
        self.status_code = status_code
        self.detail = message
        self.current = current
        self.code = "stale_version" if status_code != 428 else "version_required"


class PreconditionRequired(exceptions.APIException):
    status_code = 428
    default_code = "version_required"
    default_detail = (
        "Say which version you changed: send If-Match with the record's ETag, or “version” "
        "in the body."
    )


def _flatten(detail) -> list[str]:
    if isinstance(detail, dict):
        return [m for v in detail.values() for m in _flatten(v)]
    if isinstance(detail, list):
        return [m for v in detail for m in _flatten(v)]
    return [str(detail)]


def _fields(detail) -> dict:
    if not isinstance(detail, dict):
        return {}
    out = {}
    for key, value in detail.items():
        if key in ("non_field_errors", "__all__"):
            continue
        out[key] = _flatten(value) if not isinstance(value, dict) else _fields(value)
    return out


def body(code: str, message: str, fields: dict | None = None, **extra) -> dict:
    error = {"code": code, "message": message, "fields": fields or {}}
    error.update(extra)
    return {"error": error}


def from_django_validation(exc: DjangoValidationError) -> tuple[str, str, dict]:
    if hasattr(exc, "error_dict"):
        fields = {k: [str(m) for e in v for m in e.messages] for k, v in exc.error_dict.items()}
        general = fields.pop("__all__", [])
        message = " ".join(general) or " ".join(m for v in fields.values() for m in v)
        code = "invalid"
    else:
        fields = {}
        message = " ".join(exc.messages)
        code = getattr(exc, "code", None) or "invalid"
    return code, message, fields


def handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        return Response(
            body("too_large", "The request body is too large; send at most 2.5 MB."), status=413
        )
    if isinstance(exc, DjangoValidationError):
        code, message, fields = from_django_validation(exc)
        return Response(body(code, message, fields), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("No such record, or you may not see it.")
    if isinstance(exc, Conflict):
        response = Response(
            body(exc.code, str(exc.detail), current=exc.current), status=exc.status_code
        )
        if exc.current and "version" in exc.current:
            response["ETag"] = f'"{exc.current["version"]}"'
        return response
    response = exception_handler(exc, context)
    if response is None:
        log.exception("unexpected API error", exc_info=exc)
        return Response(
            body("server_error", "Something went wrong on our side; nothing was changed."),
            status=500,
        )
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    if isinstance(exc, exceptions.ValidationError):
        fields = _fields(detail)
        general = (
            _flatten(detail.get("non_field_errors", []))
            if isinstance(detail, dict)
            else _flatten(detail)
        )
        message = " ".join(general) or "Some fields are not valid; see “fields”."
        response.data = body("invalid", message, fields)
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else "error"
        response.data = body(code, " ".join(_flatten(detail)))
    return response
