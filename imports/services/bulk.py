"""Bulk inserts for an import's set-wise writes.

On PostgreSQL rows go in through ``COPY … FROM STDIN`` (psycopg 3's ``cursor.copy()``), a
tenth of the cost of multi-row ``INSERT`` for the hundreds of thousands of transitions,
history rows and undo records a large file makes; the ids of records that others refer to
are taken from the table's sequence first, so the rows can name each other without reading
anything back. Other databases (SQLite in development) use ``bulk_create``.

Values are written as the model holds them: a field a row leaves out takes its default, an
``auto_now`` field the current time, as ``bulk_create`` would do.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from itertools import chain

from django.core.exceptions import ValidationError
from django.db import connection, models
from django.utils import timezone

BATCH = 5000  # rows per INSERT where there is no COPY


def uses_copy() -> bool:
    return connection.vendor == "postgresql"


def _fields(model, *, with_pk: bool) -> list:
    return [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]


def _adapt(field):
    """The function turning a field's Python value into what COPY's text format takes."""
    if field.get_internal_type() == "JSONField":
        encoder = field.encoder

        def dump(value):
            return None if value is None else json.dumps(value, cls=encoder)

        return dump
    return None


def _copy(model, fields: list, rows: Iterable[tuple]) -> None:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    sql = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def reserve_ids(model, count: int) -> list[int]:
    """``count`` new primary keys from the table's sequence (PostgreSQL)."""
    if count == 0:
        return []
    pk = model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, pk, count],
        )
        return [row[0] for row in cursor.fetchall()]


def _keep_given_times(model, rows: list[dict], objs: list) -> None:
    """``bulk_create`` stamps ``auto_now`` fields with its own clock; COPY writes the values
    given (an import's one time, which undo compares against): rewrite them as given."""
    if not rows or not objs or objs[0].pk is None:
        return
    auto = [
        f.attname
        for f in model._meta.concrete_fields
        if (getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False))
        and f.attname in rows[0]
    ]
    for name in auto:
        pks_by_value: dict = {}
        for row, obj in zip(rows, objs, strict=True):
            pks_by_value.setdefault(row[name], []).append(obj.pk)
            setattr(obj, name, row[name])
        for value, pks in pks_by_value.items():
            model.objects.filter(pk__in=pks).update(**{name: value})


def insert_records(model, rows: list[dict]) -> list[int]:
    """Insert rows given as ``{attname: value}`` (all with the same keys) and return their
    new primary keys, in order."""
    if not rows:
        return []
    if not uses_copy():
        objs = [model(**row) for row in rows]
        model.objects.bulk_create(objs, batch_size=BATCH)
        _keep_given_times(model, rows, objs)
        return [obj.pk for obj in objs]
    ids = reserve_ids(model, len(rows))
    pk = model._meta.pk.attname
    insert_rows(model, ({**row, pk: id_} for row, id_ in zip(rows, ids, strict=True)), with_pk=True)
    return ids


def insert_rows(model, rows: Iterable[dict], *, with_pk: bool = False) -> int:
    """Insert rows given as ``{attname: value}`` (all with the same keys); the table numbers
    them. Returns how many were written."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return 0
    if not uses_copy():
        count, given, chunk = 0, [first], [model(**first)]
        for row in rows:
            given.append(row)
            chunk.append(model(**row))
            if len(chunk) >= BATCH:
                model.objects.bulk_create(chunk)
                _keep_given_times(model, given, chunk)
                count, given, chunk = count + len(chunk), [], []
        model.objects.bulk_create(chunk)
        _keep_given_times(model, given, chunk)
        return count + len(chunk)
    fields = _fields(model, with_pk=with_pk)
    order = [f.attname for f in fields]
    now = timezone.now()
    static, made, dumps = {}, {}, {}
    for f in fields:
        dump = _adapt(f)
        if f.attname in first:
            if dump:
                dumps[f.attname] = dump
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            static[f.attname] = now
        elif f.has_default() and callable(f.default):
            made[f.attname] = (f.get_default, dump)
        else:
            default = f.get_default()
            static[f.attname] = dump(default) if dump else default
    count = 0

    def tuples():
        nonlocal count
        for values in chain([first], rows):
            row = {**static, **values}
            for attname, (make, dump) in made.items():
                row[attname] = dump(make()) if dump else make()
            for attname, dump in dumps.items():
                row[attname] = dump(row[attname])
            count += 1
            yield [row[a] for a in order]

    _copy(model, fields, tuples())
    return count


def delete_all(model, pks) -> None:
    """Delete the rows of ``model`` whose primary key is in ``pks`` (a subquery), in a few
    statements whatever their number. Each relation to the model is honoured as it is
    declared, set-wise: ``CASCADE`` deletes the related rows the same way, ``SET_NULL``
    clears the link, ``PROTECT`` and ``RESTRICT`` refuse while a row is still referenced.
    The model's simple-history rows go with it. None of these models has delete signals;
    a relation this does not know (``SET(...)``, many-to-many) leaves it to Django's
    ``delete()``."""
    rows = model._base_manager.filter(pk__in=pks)
    if model._meta.many_to_many or any(r.many_to_many for r in model._meta.related_objects):
        rows.delete()
        return
    for rel in model._meta.related_objects:
        related = rel.related_model._base_manager.filter(**{f"{rel.field.attname}__in": pks})
        if rel.on_delete is models.CASCADE:
            delete_all(rel.related_model, related.values("pk"))
        elif rel.on_delete is models.SET_NULL:
            related.update(**{rel.field.attname: None})
        elif rel.on_delete in (models.PROTECT, models.RESTRICT):
            if related.exists():
                raise ValidationError(
                    f"Some {model._meta.verbose_name_plural} are still used by "
                    f"{rel.related_model._meta.verbose_name_plural}."
                )
        elif rel.on_delete is not models.DO_NOTHING:
            rows.delete()
            return
    history = getattr(model._meta, "simple_history_manager_attribute", None)
    if history:
        getattr(model, history).model._base_manager.filter(
            **{model._meta.pk.attname + "__in": pks}
        )._raw_delete(connection.alias)
    rows._raw_delete(connection.alias)
