"""Many new rows of one model in one COPY statement (PostgreSQL), for the accrual batch.

``bulk_create`` on PostgreSQL sends each column as an array and escapes every JSON
value's quotes in Python, which cost the accrual batch more time than all its queries
together; COPY sends the rows as they are, formatted by psycopg's C code. The rows must
be new (no conflicts to handle), with their primary keys set in Python or drawn by the
database; other databases get ``bulk_create``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from django.db import connection, models
from django.utils import timezone

_PLAIN, _JSON, _NOW = 0, 1, 2


def _columns(model: type[models.Model]) -> list[tuple[str, str, int, Any]]:
    """(column, attribute, how to write it, default) of every column a new row sets."""
    columns = []
    for f in model._meta.concrete_fields:
        if isinstance(f, models.AutoField | models.BigAutoField):
            continue  # drawn by the database
        if isinstance(f, models.DateTimeField) and (f.auto_now or f.auto_now_add):
            how = _NOW
        elif isinstance(f, models.JSONField):
            assert f.encoder is None, f  # stored as json.dumps writes it, as Django does
            how = _JSON
        else:
            how = _PLAIN
        columns.append((f.column, f.attname, how, f.get_default()))
    return columns


def bulk_insert(model: type[models.Model], objs: Sequence[models.Model]) -> None:
    """Insert ``objs``, new instances of ``model``, in one statement."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objs)  # type: ignore[attr-defined]
        return
    columns = _columns(model)
    rows = []
    for obj in objs:
        row: list[Any] = []
        for _column, attname, how, _default in columns:
            if how == _NOW:
                value = timezone.now()  # one each, as bulk_create's pre_save gives
                setattr(obj, attname, value)
            else:
                value = getattr(obj, attname)
            row.append(value)
        rows.append(row)
        obj._state.adding = False
        obj._state.db = connection.alias
    _copy(model, columns, rows)


def bulk_insert_rows(model: type[models.Model], rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` of ``model`` (attribute → value; the rest take the fields'
    defaults) in one statement, without making model instances."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create([model(**row) for row in rows])  # type: ignore[attr-defined]
        return
    columns = _columns(model)
    values = []
    for source in rows:
        row: list[Any] = []
        for _column, attname, how, default in columns:
            if how == _NOW:
                row.append(timezone.now())
            else:
                row.append(source.get(attname, default))
        values.append(row)
    _copy(model, columns, values)


def _copy(
    model: type[models.Model], columns: list[tuple[str, str, int, Any]], rows: list[list[Any]]
) -> None:
    json_at = [i for i, (_c, _a, how, _d) in enumerate(columns) if how == _JSON]
    quote = connection.ops.quote_name
    sql = "COPY {} ({}) FROM STDIN".format(
        quote(model._meta.db_table), ", ".join(quote(c[0]) for c in columns)
    )
    started = time.monotonic()
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            for i in json_at:
                if row[i] is not None:
                    row[i] = json.dumps(row[i])
            copy.write_row(row)
    if connection.queries_logged:  # counted like any statement (CaptureQueriesContext)
        connection.queries_log.append(
            {"sql": f"{sql} -- {len(rows)} rows", "time": f"{time.monotonic() - started:.3f}"}
        )
