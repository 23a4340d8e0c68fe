"""What a plan is made of: one row being read, its errors, the deals it creates, and the
plan's counts; with the small checks the planners share."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from imports import parsing

PREVIEW_ROWS = 20


@dataclass
class RowError:
    row: int
    column: str
    value: str
    message: str

    def as_dict(self) -> dict:
        return {
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "message": self.message,
        }


@dataclass
class Plan:
    kind: str
    total: int = 0
    create: list[dict] = field(default_factory=list)
    update: list[dict] = field(default_factory=list)
    skip: int = 0
    refused_rows: set[int] = field(default_factory=set)
    errors: list[RowError] = field(default_factory=list)
    new_companies: dict[str, dict] = field(default_factory=dict)  # key → values
    new_contacts: dict[str, dict] = field(default_factory=dict)
    first_date: dt.date | None = None
    # Counted apart from the lists: a preview keeps only its first rows (see Planner.keep).
    creates: int = 0
    updates: int = 0

    @property
    def counts(self) -> dict:
        return {
            "rows": self.total,
            "create": self.creates,
            "update": self.updates,
            "skip": self.skip,
            "refuse": len(self.refused_rows),
            "companies": len(self.new_companies),
            "contacts": len(self.new_contacts),
        }

    def preview_rows(self) -> list[dict]:
        return [dict(r, action="create") for r in self.create[:PREVIEW_ROWS]] + [
            dict(r, action="update")
            for r in self.update[: max(0, PREVIEW_ROWS - len(self.create[:PREVIEW_ROWS]))]
        ]


class DealRow:
    """A deal the plan creates. Slotted rather than a dict: a 200,000-row plan holds one per
    row, and a slotted object takes a fifth of a dict's memory. Read like a dict."""

    __slots__ = (
        "_action",
        "_row",
        "name",
        "amount",
        "expected_close_date",
        "probability",
        "next_step",
        "external_id",
        "owner",
        "stage",
        "closed_on",
        "lost_reason",
        "company_pk",
        "company_key",
        "contact_pk",
        "contact_key",
        "path",
        # what the preview shows
        "company",
        "contact",
        "created_on",
        "engaged_on",
    )

    def __init__(self, **values):
        for key, value in values.items():
            setattr(self, key, value)

    def __getitem__(self, key):
        return getattr(self, key)

    def get(self, key, default=None):
        return getattr(self, key, default)

    def keys(self):
        return self.__slots__

    def items(self):
        return [(k, getattr(self, k)) for k in self.__slots__]


class RowRefused(Exception):
    pass


class Row:
    """One file row being read: collects every cell error of the row."""

    def __init__(self, number: int, cells: list, headers: list[str], columns: dict[str, str]):
        self.number = number
        self.cells = cells
        self.index = {h: i for i, h in enumerate(headers)}
        self.columns = columns
        self.errors: list[RowError] = []

    def raw(self, key: str):
        header = self.columns.get(key)
        if not header or header not in self.index:
            return ""
        return self.cells[self.index[header]]

    def has(self, key: str) -> bool:
        return bool(self.columns.get(key)) and self.columns[key] in self.index

    def error(self, key: str, message: str, value=None) -> None:
        raw = self.raw(key) if value is None else value
        self.errors.append(
            RowError(self.number, self.columns.get(key, key), parsing.text(raw)[:200], message)
        )

    def get(self, key: str, parse=parsing.text, **kwargs):
        try:
            return parse(self.raw(key), **kwargs)
        except parsing.CellError as e:
            self.error(key, str(e))
            return None


def valid_email(value: str) -> bool:
    from django.core.validators import validate_email

    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def changed_values(obj, values: dict) -> dict:
    out = {}
    for key, value in values.items():
        current = getattr(obj, key)
        if isinstance(current, str) and value is None:
            value = ""
        if current != value:
            out[key] = value
    return out
