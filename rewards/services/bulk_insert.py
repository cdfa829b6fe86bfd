"""Many new rows of one model in one COPY statement (PostgreSQL), for the accrual batch.

``bulk_create`` on PostgreSQL sends each column as an array and escapes every JSON
value's quotes in Python, which cost the accrual batch more time than all its queries
together; COPY sends the rows as they are, formatted by psycopg's C code. The rows must
be new (no conflicts to handle) and their primary keys set in Python or drawn by the
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


def _columns(model: type[models.Model]) -> list[tuple[str, str, int]]:
    """(column, attribute, how to read it) of every column a new row sets."""
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
        columns.append((f.column, f.attname, how))
    return columns


def bulk_insert(model: type[models.Model], objs: Sequence[models.Model]) -> None:
    """Insert ``objs`` (new instances of ``model``) in one statement."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objs)  # type: ignore[attr-defined]
        return
    columns = _columns(model)
    rows = []
    for obj in objs:
        row: list[Any] = []
        for _column, attname, how in columns:
            if how == _NOW:
                value = timezone.now()  # one each, as bulk_create's pre_save gives
                setattr(obj, attname, value)
            else:
                value = getattr(obj, attname)
                if how == _JSON and value is not None:
                    value = json.dumps(value)
            row.append(value)
        rows.append(row)
        obj._state.adding = False
        obj._state.db = connection.alias
    quote = connection.ops.quote_name
    sql = "COPY {} ({}) FROM STDIN".format(
        quote(model._meta.db_table), ", ".join(quote(c) for c, _a, _h in columns)
    )
    started = time.monotonic()
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
    if connection.queries_logged:  # counted like any statement (CaptureQueriesContext)
        connection.queries_log.append(
            {"sql": f"{sql} -- {len(rows)} rows", "time": f"{time.monotonic() - started:.3f}"}
        )
