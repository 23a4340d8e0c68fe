"""Exchange rates: load a CSV of dated rates (``manage.py load_exchange_rates``).

The file has a header row naming the columns ``date``, ``currency`` and ``rate`` (any order;
other columns are ignored): one row per currency per day, ``rate`` being the units of the
reporting currency one unit of ``currency`` buys. A rate already stored for that currency and
day is replaced. A file with any bad row changes nothing: every bad row is reported with its
line number and what to fix.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import connection, transaction

from pipeline import board_cache
from pipeline.currency import known_currencies, reporting_currency
from pipeline.models import ExchangeRate
from pipeline.models.exchange_rates import RATE
from pipeline.services.closed_rates import refresh_closed_rates

COLUMNS = ("date", "currency", "rate")
MAX_ERRORS = 20
RATE_MAX = Decimal(10) ** (RATE["max_digits"] - RATE["decimal_places"])


@dataclass
class LoadResult:
    created: int
    updated: int


def _parse_row(row: dict, line: int, reporting: str) -> tuple[tuple[str, dt.date], Decimal]:
    problems = []
    raw_date = (row.get("date") or "").strip()
    try:
        day = dt.date.fromisoformat(raw_date)
    except ValueError:
        day = None
        problems.append(f"date “{raw_date}” is not a date like 2026-03-31")
    code = (row.get("currency") or "").strip().upper()
    if code not in known_currencies():
        problems.append(f"currency “{code}” is not an ISO 4217 code such as EUR or GBP")
    elif code == reporting:
        problems.append(f"{code} is the reporting currency and takes no rate")
    raw_rate = (row.get("rate") or "").strip()
    try:
        rate = Decimal(raw_rate)
    except InvalidOperation:
        rate = None
    if rate is None or not rate.is_finite():
        problems.append(f"rate “{raw_rate}” is not a number like 1.0842")
        rate = None
    elif rate <= 0:
        problems.append(f"rate {raw_rate} must be above zero")
    elif rate >= RATE_MAX or rate.as_tuple().exponent < -RATE["decimal_places"]:
        problems.append(
            f"rate {raw_rate} needs at most {RATE['decimal_places']} decimals and must be "
            f"below {RATE_MAX}"
        )
    if problems:
        raise ValidationError(f"Line {line}: " + "; ".join(problems) + ".")
    return (code, day), rate


def parse_rates(text: str) -> dict[tuple[str, dt.date], Decimal]:
    """The rates of a CSV text by (currency, date); raises one ValidationError listing every
    bad line (up to :data:`MAX_ERRORS`)."""
    reader = csv.DictReader(io.StringIO(text))
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ValidationError(
            "The first row must name the columns date, currency and rate; missing: "
            + ", ".join(missing)
            + "."
        )
    reader.fieldnames = header
    reporting = reporting_currency()
    out: dict[tuple[str, dt.date], Decimal] = {}
    seen: dict[tuple[str, dt.date], int] = {}
    errors: list[str] = []
    for row in reader:
        line = reader.line_num
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        try:
            key, rate = _parse_row(row, line, reporting)
        except ValidationError as e:
            errors.extend(e.messages)
        else:
            if key in seen:
                errors.append(
                    f"Line {line}: a second rate for {key[0]} on {key[1]:%Y-%m-%d} "
                    f"(the first is on line {seen[key]}); keep one rate per currency per day."
                )
            seen[key] = line
            out[key] = rate
        if len(errors) >= MAX_ERRORS:
            errors.append("Stopped after 20 errors.")
            break
    if errors:
        raise ValidationError(errors)
    if not out:
        raise ValidationError("The file has no rates: add rows of date, currency and rate.")
    return out


@transaction.atomic
def load_rates(text: str) -> LoadResult:
    """Store the rates of a CSV text (all or nothing); returns how many were new and how many
    replaced a stored rate."""
    rates = parse_rates(text)
    existing = {
        (r.currency, r.on_date): r
        for r in ExchangeRate.objects.filter(
            currency__in={c for c, _ in rates}, on_date__in={d for _, d in rates}
        )
    }
    new, changed = [], []
    for (code, day), rate in rates.items():
        row = existing.get((code, day))
        if row is None:
            new.append(ExchangeRate(currency=code, on_date=day, rate=rate))
        elif row.rate != rate:
            row.rate = rate
            changed.append(row)
    ExchangeRate.objects.bulk_create(new, batch_size=2000)
    ExchangeRate.objects.bulk_update(changed, ["rate"], batch_size=2000)
    written = [*new, *changed]
    for code in sorted({r.currency for r in written}):
        since = min(r.on_date for r in written if r.currency == code)
        refresh_closed_rates(connection, currencies=[code], since=since)
    board_cache.changed()
    return LoadResult(created=len(new), updated=len(changed))
