"""Every write of the imports app: upload, preview, import, undo, snapshot back-fill.

An import is planned, then written.

* :func:`plan` reads every row of the file with the batch's mapping, applies the same rules as
  the per-record services of ``pipeline.services`` (required fields, money and date limits,
  the owner the user may assign, stages of the chosen pipeline, exit criteria of every stage a
  deal entered, a lost reason for a lost deal, no close date in the future ...) and decides
  for each row: create, update, skip (an identical record exists) or refuse (with row,
  column, value and message). It writes nothing: the preview is this plan.
* :func:`execute` writes a plan in one transaction, set-wise: companies, contacts, leads,
  deals, their stage transitions and field history with the instants of the file, by
  ``bulk_create`` in chunks (never a loop over the per-deal services, and never a frozen
  clock). Rows that update an existing record go through the services, so their history is
  recorded like any edit. Every record written is listed in an :class:`ImportedRecord` for
  :func:`undo`.

Duplicates follow the one visibility rule: companies are matched by website domain, else by
case-insensitive name, contacts and leads by email, deals by external id (else by name and
company) — each among the records the importing user may see, so an import never reveals or
updates a record its user could not open.

A row's dates become instants at noon (``settings.TIME_ZONE``) of the day: the deal is
created in the pipeline's first open stage on its created date, enters the "engaged" stage on
its engaged date, and its final stage on its close date; without dates it enters today.

One module per step: :mod:`~imports.services.batches` (upload and the wizard's choices),
:mod:`~imports.services.rows` and :mod:`~imports.services.planning` with
:mod:`~imports.services.planning_deals` (the plan), :mod:`~imports.services.running` (confirm
and run), :mod:`~imports.services.writing` (the set-wise writes), :mod:`~imports.services.undo`
and :mod:`~imports.services.snapshots`. Callers use the package: ``from imports import
services; services.preview(...)``.
"""

from imports.services.batches import (
    column_values,
    create_batch,
    detected_date_order,
    load_table,
    save_options,
)
from imports.services.planning import Planner, plan, preview
from imports.services.progress import progress, progress_key
from imports.services.rows import Plan, RowError
from imports.services.running import INLINE_ROWS, confirm, run
from imports.services.snapshots import backfill_after_import
from imports.services.undo import can_undo, undo
from imports.services.writing import execute

__all__ = [
    "INLINE_ROWS",
    "Plan",
    "Planner",
    "RowError",
    "backfill_after_import",
    "can_undo",
    "column_values",
    "confirm",
    "create_batch",
    "detected_date_order",
    "execute",
    "load_table",
    "plan",
    "preview",
    "progress",
    "progress_key",
    "run",
    "save_options",
    "undo",
]
