"""Keep every closed deal's exchange rate stored beside it (``Opportunity.closed_rate``).

A closed deal converts at the rate of its closed date (``pipeline.conversion``). Looking that
rate up is one probe of the rates' index per deal, which a report summing a year of closed
deals pays tens of thousands of times; the rate a closed deal converts at changes only when
the deal's currency, dates or stage change, or when a rate of its currency on or before its
date is written. So it is stored:

* ``Opportunity.save`` sets it (:func:`closed_rate_of`) for a closed deal in another
  currency than the reporting one, and clears it otherwise;
* a written or deleted :class:`~pipeline.models.ExchangeRate` refreshes the closed deals of
  its currency dated on or after it (:func:`refresh_closed_rates`, from the rates' signals
  and ``load_rates``);
* bulk writers (the demo, imports) call :func:`refresh_closed_rates` for what they wrote.

Sums read ``COALESCE(closed_rate, <the lookup>)``: a deal without a stored rate (a bulk
write not refreshed yet, or a currency without a rate on that day) is looked up as before,
so a missing value costs time, never a wrong figure. Plain SQL on the tables (no model
code), so a migration can call it."""

from __future__ import annotations

import datetime as dt
import threading
from contextlib import contextmanager

from pipeline.currency import reporting_currency

_RATE = (
    "(SELECT fx.rate FROM pipeline_exchangerate fx WHERE fx.currency = "
    "pipeline_opportunity.currency AND fx.on_date <= COALESCE(pipeline_opportunity.closed_on, "
    "pipeline_opportunity.expected_close_date) ORDER BY fx.on_date DESC LIMIT 1)"
)
_CLOSED = "stage_id IN (SELECT id FROM pipeline_stage WHERE kind <> 'open')"


def closed_rate_of(deal):
    """The rate ``deal`` (an unsaved or saved ``Opportunity``) converts at while closed: that
    of its closed date (its expected close date without one); None while it is open, in the
    reporting currency, or without a rate on that day."""
    if deal.currency == reporting_currency() or deal.stage.kind == "open":
        return None
    from pipeline.conversion import rate_on

    return rate_on(deal.currency, deal.closed_on or deal.expected_close_date)


def refresh_closed_rates(
    connection,
    *,
    currencies: list[str] | None = None,
    since: dt.date | None = None,
    ids: list[int] | None = None,
    new: bool = False,
) -> None:
    """Store the rate of every closed deal in another currency (of ``currencies``, dated on
    or after ``since``, among ``ids``, when given), and, unless narrowed by currency or date
    or the deals are ``new`` (just written, none stored), clear it on the other deals: one
    or two statements (per 500 ``ids``)."""
    if ids is not None:
        ids = list(ids)
        for at in range(0, len(ids), 500):
            _refresh(connection, currencies, since, ids[at : at + 500], new)
        return
    _refresh(connection, currencies, since, None, new)


def _placeholders(values: list) -> str:
    return ", ".join(["%s"] * len(values))


def _refresh(connection, currencies, since, ids, new) -> None:
    reporting = reporting_currency()
    where, params = [f"currency <> %s AND {_CLOSED}"], [reporting]
    if currencies is not None:
        if not currencies:
            return
        where.append(f"currency IN ({_placeholders(currencies)})")
        params += list(currencies)
    if since is not None:
        where.append("COALESCE(closed_on, expected_close_date) >= %s")
        params.append(since)
    stale, stale_params = (
        [f"closed_rate IS NOT NULL AND (currency = %s OR NOT {_CLOSED})"],
        [reporting],
    )
    if ids is not None:
        where.append(f"id IN ({_placeholders(ids)})")
        params += ids
        stale.append(f"id IN ({_placeholders(ids)})")
        stale_params += ids
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE pipeline_opportunity SET closed_rate = {_RATE} WHERE {' AND '.join(where)}",  # nosec B608: fixed SQL texts and placeholders; values are params
            params,
        )
        if currencies is None and since is None and not new:
            cursor.execute(
                f"UPDATE pipeline_opportunity SET closed_rate = NULL WHERE {' AND '.join(stale)}",  # nosec B608: fixed SQL texts and placeholders; values are params
                stale_params,
            )


# --- the rates' own writes ------------------------------------------------------------------


_batch = threading.local()


@contextmanager
def one_refresh(connection):
    """Rates saved or deleted inside the block (the admin's bulk delete of a hundred rates)
    refresh the closed deals once at its end: per currency, from the earliest date written,
    instead of once per rate."""
    if getattr(_batch, "since", None) is not None:  # an outer block refreshes
        yield
        return
    _batch.since = {}
    try:
        yield
        since = _batch.since
    finally:
        _batch.since = None
    for code in sorted(since):
        refresh_closed_rates(connection, currencies=[code], since=since[code])


def _rate_written(sender, instance, **kwargs) -> None:
    """A rate saved or deleted one by one (the admin, a test): refresh the closed deals of
    its currency dated on or after it, and of the currency and date it had before an edit
    (inside :func:`one_refresh`, once for the whole block)."""
    from django.db import connections

    before = getattr(instance, "_stored_key", None) or (instance.currency, instance.on_date)
    keys = {(instance.currency, instance.on_date), before}
    instance._stored_key = (instance.currency, instance.on_date)
    batch = getattr(_batch, "since", None)
    connection = connections[kwargs.get("using") or "default"]
    for code in sorted({c for c, _ in keys}):
        since = min(d for c, d in keys if c == code)
        if batch is not None:
            batch[code] = min(since, batch.get(code, since))
        else:
            refresh_closed_rates(connection, currencies=[code], since=since)


def connect_signals() -> None:
    from django.db.models.signals import post_delete, post_save

    from pipeline.models import ExchangeRate

    post_save.connect(_rate_written, sender=ExchangeRate, dispatch_uid="closed_rates_save")
    post_delete.connect(_rate_written, sender=ExchangeRate, dispatch_uid="closed_rates_delete")
