"""Exports: a list's filtered rows streamed to the browser, or, past
PRM_EXPORT_STREAM_ROWS rows, written by a job into a stored file (chunks in
PostgreSQL, like every file the platform keeps) that expires after
PRM_EXPORT_KEEP_DAYS days."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import timedelta
from typing import IO, Any

from django.conf import settings
from django.http import HttpRequest, QueryDict
from django.utils import timezone

from prm.audit import audit_record
from prm.dataio.models import ExportChunk, ExportFile
from prm.dataio.registry import ExportSource, Table, member_may, source_for
from prm.dataio.writers import chunks
from prm.jobs import job_enqueue
from prm.models import Tenant, User

CHUNK_BYTES = 1024 * 1024
FORMATS = ("csv", "xlsx", "json")


def export_audit(
    *,
    tenant: Tenant,
    actor: User | None,
    source: ExportSource,
    fmt: str,
    params: str,
    rows: int,
    how: str,
    request: HttpRequest | None = None,
) -> None:
    """Who took which rows out of the workspace, in which format."""
    audit_record(
        tenant=tenant,
        actor=actor,
        action=f"export.{how}",
        object_type="export",
        after={"list": source.key, "format": fmt, "filters": params, "rows": rows},
        request=request,
    )


def counted_rows(table: Table, progress: Any = None) -> Iterator[list[Any]]:
    for n, row in enumerate(table.rows, 1):
        if progress is not None and n % 1000 == 0:
            progress(n)
        yield row


def write_file(
    source: ExportSource, table: Table, fmt: str, progress: Any = None
) -> tuple[IO[bytes], int]:
    """The whole file in a temporary file (on disk past a few megabytes), rewound."""
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    size = 0
    for piece in chunks(fmt, table.header, counted_rows(table, progress), title=source.key):
        out.write(piece)
        size += len(piece)
    out.seek(0)
    return out, size


def store_chunks(export: ExportFile, fileobj: IO[bytes]) -> int:
    """Copy the file into the export's chunks; returns its size."""
    ExportChunk.objects.filter(export=export).delete()  # a retried job starts over
    size = seq = 0
    while block := fileobj.read(CHUNK_BYTES):
        ExportChunk.objects.create(tenant=export.tenant, export=export, seq=seq, data=block)
        size += len(block)
        seq += 1
    return size


def stored_chunks(export: ExportFile) -> Iterator[bytes]:
    """The file's pieces in order, a few at a time. The queryset is built here, in the
    request's tenant scope; the response iterates it after the view has returned."""
    rows = ExportChunk.objects.filter(export=export).order_by("seq").values_list("data", flat=True)
    return (bytes(data) for data in rows.iterator(chunk_size=4))


def export_start(
    *,
    tenant: Tenant,
    actor: User | None,
    source: ExportSource,
    fmt: str,
    params: str,
    url_kwargs: dict[str, str],
    total: int,
) -> ExportFile:
    """Record a large export and hand it to a job (after commit)."""
    export = ExportFile.objects.create(
        tenant=tenant,
        source=source.key,
        params=params[:2000],
        url_kwargs=url_kwargs,
        perm=source.perm.value,
        format=fmt,
        total=total,
        filename=source.filename(fmt),
        requested_by=actor,
        expires_at=timezone.now() + timedelta(days=settings.PRM_EXPORT_KEEP_DAYS),
    )
    job_enqueue("prm.dataio.exports.export_build", tenant=tenant, export_id=str(export.pk))
    return export


def export_build(*, export_id: str) -> None:
    """Job: write the file of a large export, saving its progress as it goes."""
    export = ExportFile.objects.filter(pk=export_id).first()
    source = source_for(export.source) if export is not None else None
    if export is None or source is None or export.status == ExportFile.Status.DONE:
        return
    ExportFile.objects.filter(pk=export.pk).update(status=ExportFile.Status.RUNNING, done=0)

    def progress(done: int) -> None:
        ExportFile.objects.filter(pk=export.pk).update(done=done)

    try:
        may = member_may(export.requested_by_id)
        table = source.table(QueryDict(export.params), export.url_kwargs, may)
        fileobj, _size = write_file(source, table, export.format, progress)
        with fileobj:
            size = store_chunks(export, fileobj)
    except Exception:
        ExportFile.objects.filter(pk=export.pk).update(
            status=ExportFile.Status.FAILED, error="the export could not be written"
        )
        raise
    ExportFile.objects.filter(pk=export.pk).update(
        status=ExportFile.Status.DONE, size=size, done=export.total
    )


def prune_expired_exports() -> int:
    """Periodic: delete export files past their expiry, in every workspace."""
    # Cross-tenant on purpose: a platform job with no tenant scope, deleting by date.
    expired = ExportFile.all_tenants_unscoped.filter(expires_at__lt=timezone.now())
    deleted, _ = expired.delete()
    return deleted
