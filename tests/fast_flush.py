"""A faster flush after each transactional test (live-server, Chromium and real-process
tests). Django's flush TRUNCATEs every table in one statement, which gives each of the
~80 tables and their indexes new files: about a second of PostgreSQL's time per test.
A test fills a handful of tables, so the flush here finds the tables that have a row
(one statement) and DELETEs from those alone. Django's foreign keys are DEFERRABLE
INITIALLY DEFERRED, so the order of the deletes does not matter; the test role may
delete ledger rows (it is a member of prm_ledger_admin, as a superuser)."""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql.operations import DatabaseOperations

_truncate = DatabaseOperations.sql_flush
# Rows every migration writes and no test changes: left in place, so that the
# post_migrate signal after each flush finds them instead of writing them again.
KEEP = {"django_content_type", "auth_permission"}


def _sql_flush(
    self: DatabaseOperations,
    style: Any,
    tables: list[str],
    *,
    reset_sequences: bool = False,
    allow_cascade: bool = False,
) -> list[str]:
    if not tables or reset_sequences or allow_cascade:
        return _truncate(
            self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
    quote = self.quote_name
    probe = " UNION ALL ".join(
        f"(SELECT {i} FROM {quote(table)} LIMIT 1)" for i, table in enumerate(tables)
    )
    with self.connection.cursor() as cursor:
        cursor.execute(probe)
        filled = [tables[row[0]] for row in cursor.fetchall() if tables[row[0]] not in KEEP]
    return ["SET CONSTRAINTS ALL DEFERRED"] + [f"DELETE FROM {quote(t)}" for t in filled]


def install() -> None:
    DatabaseOperations.sql_flush = _sql_flush  # type: ignore[method-assign]
