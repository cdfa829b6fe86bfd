"""What can be exported: one ExportSource per console list (and per report).

A source turns the list's query string (and its URL's ids) into a Table: the column
names, the rows as a lazy iterable, and a count. Lists register in ``dataio.sources``;
a report registers the same way, with rows from its own function::

    register(ExportSource(
        key="report_partners", title=_("Report: partners"), perm=Perm.REPORTS_VIEW,
        table=lambda params, kwargs, may: rows_table(
            columns, report_rows(..., money=may(Perm.MONEY_VIEW), page_size=None).rows
        ),
    ))

and routes ``reports/<name>/export/`` to ``dataio.views.exports.export`` with
``{"source": "report_partners"}``. Exports, big-export jobs and scheduled exports then
work for it unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import QueryDict

from prm.dataio.resources import TenantResource
from prm.dataio.writers import CHUNK_ROWS
from prm.permissions import Perm

May = Callable[[Perm], bool]


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: Iterable[list[Any]]  # lazy: iterated once, while the file is written
    count: Callable[[], int]


@dataclass(frozen=True)
class ExportSource:
    key: str
    title: Any  # a lazy translation
    perm: Perm
    # (the list's query string, its URL's ids, whether the person exporting holds a
    # permission: a report leaves out money columns for roles that do not see money)
    table: Callable[[QueryDict, dict[str, str], May], Table]
    list_url: str = ""  # the console URL name of the list (for the way back)

    def filename(self, fmt: str) -> str:
        return f"{self.key.replace('_', '-')}.{fmt}"


_SOURCES: dict[str, ExportSource] = {}


def register(source: ExportSource) -> ExportSource:
    _SOURCES[source.key] = source
    return source


def member_may(user_id: Any) -> May:
    """What a job or a schedule may export: the permissions of the member it acts for
    (now, not when it was set up), in the active tenant."""
    from prm.models import Membership
    from prm.permissions import role_has

    membership = Membership.objects.filter(user_id=user_id).first() if user_id else None
    return lambda perm: membership is not None and role_has(membership.role, perm)


def source_for(key: str) -> ExportSource | None:
    return _SOURCES.get(key)


def all_sources() -> list[ExportSource]:
    return list(_SOURCES.values())


def queryset_table(resource: TenantResource, queryset: QuerySet[Any]) -> Table:
    """A list's rows through its resource, fetched a chunk at a time (a server-side
    cursor on PostgreSQL): memory stays flat and queries do not grow with rows."""

    def rows() -> Iterator[list[Any]]:
        for obj in queryset.iterator(chunk_size=CHUNK_ROWS):
            yield resource.export_row(obj)

    return Table(header=resource.header(), rows=rows(), count=queryset.count)


def rows_table(header: list[str], rows: Iterable[dict[str, Any]] | Iterable[list[Any]]) -> Table:
    """A report's rows (dicts keyed by column, or lists in the header's order)."""
    materialised = rows if isinstance(rows, list) else None

    def as_lists() -> Iterator[list[Any]]:
        for row in rows:
            yield [row.get(key) for key in header] if isinstance(row, dict) else list(row)

    def count() -> int:
        return len(materialised) if materialised is not None else 0

    return Table(header=header, rows=as_lists(), count=count)
