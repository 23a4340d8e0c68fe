"""Optimistic concurrency the HTTP way.

Every record's response carries ``ETag: "<version>"``. A write names the version it was made
against with ``If-Match: "<version>"`` or ``"version"`` in the body. The services compare it
with the stored version under a row lock (the one rule the pages use too); here their refusal
becomes 412 (stale ``If-Match``) or 409 (stale body ``version``), each with the current record,
and a write naming no version is a 428.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

from django.core.exceptions import ValidationError

from api.exceptions import Conflict, PreconditionRequired

_TAG = re.compile(r'^\s*(?:W/)?"?(\d{1,10})"?\s*$')


def etag(version: int) -> str:
    return f'"{version}"'


class Expected:
    """The version a write was made against and where it came from (header or body)."""

    def __init__(self, version: int, source: str):
        self.version = version
        self.source = source

    @property
    def status(self) -> int:
        return 412 if self.source == "if-match" else 409


def expected(request, data: dict | None = None) -> Expected:
    header = request.headers.get("If-Match")
    if header is not None:
        match = _TAG.match(header)
        # An If-Match that names no version of ours ("*", garbage) cannot match: 412.
        return Expected(int(match.group(1)) if match else 0, "if-match")
    value = (data or {}).get("version")
    if value is not None:
        return Expected(int(value), "body")
    raise PreconditionRequired()


@contextmanager
def checked(exp: Expected, current):
    """Run a service call; its ``stale`` refusal becomes the HTTP conflict for ``exp`` with
    ``current()`` (the record as stored now, serialized)."""
    try:
        yield
    except ValidationError as exc:
        if getattr(exc, "code", None) == "stale" or (
            hasattr(exc, "error_list") and any(e.code == "stale" for e in exc.error_list)
        ):
            raise Conflict(
                status_code=exp.status, message=" ".join(exc.messages), current=current()
            ) from None
        raise
