"""Imports of partners, leads and conversions from CSV or XLSX (django-import-export).

Upload → the file is checked as a whole (size, encoding, columns, duplicate keys)
and stored → a dry run goes through every row with the real services inside a
transaction that is rolled back, giving the preview (what would be created, updated or
left, and each row's errors) → on confirmation the same run is made for real, in one
transaction: a single failing row rolls the whole file back (all or nothing).

Files of up to PRM_IMPORT_INLINE_ROWS rows run in the request; larger ones as RQ jobs,
with their progress in the cache (the run's own transaction hides it from others).
"""

from __future__ import annotations

import csv
import importlib
import io
import zipfile
from collections import Counter
from datetime import timedelta
from typing import Any

import tablib
from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from prm.audit import audit_record
from prm.dataio.models import ImportBatch
from prm.dataio.resources import TenantResource
from prm.jobs import job_enqueue
from prm.models import Tenant, User
from prm.permissions import Perm

RESOURCES = {
    ImportBatch.Kind.PARTNERS: "partners.resources.PartnerResource",
    ImportBatch.Kind.LEADS: "programs.resources.LeadResource",
    ImportBatch.Kind.CONVERSIONS: "programs.resources.ConversionResource",
}
PERMS = {
    ImportBatch.Kind.PARTNERS: Perm.PARTNERS_MANAGE,
    ImportBatch.Kind.LEADS: Perm.LEADS_MANAGE,
    ImportBatch.Kind.CONVERSIONS: Perm.CONVERSIONS_IMPORT,
}
PREVIEW_ROWS = 50
XLSX_MAX_UNPACKED = 200 * 1024 * 1024
KEEP_BATCHES = timedelta(days=30)
FORMULA = "=+-@\t\r"
MAX_ERRORS = 200

TOO_LARGE = gettext_lazy("The file is larger than %(limit)s MB: split it and import the parts.")
WRONG_TYPE = gettext_lazy("Upload a .csv or .xlsx file.")
BAD_ENCODING = gettext_lazy(
    "The file is not UTF-8 text. Save it as “CSV UTF-8” (or as .xlsx) and upload it again."
)
NOT_XLSX = gettext_lazy("The file cannot be read as an Excel workbook (.xlsx).")
NOT_CSV = gettext_lazy("The file cannot be read as CSV: %(error)s")
NO_ROWS = gettext_lazy("The file has no rows under its header line.")
TOO_MANY_ROWS = gettext_lazy("The file has more than %(limit)s rows: split it.")
MISSING_COLUMNS = gettext_lazy("Columns missing: %(columns)s. The first line must name them.")
UNKNOWN_COLUMNS = gettext_lazy(
    "Unknown columns: %(columns)s. The columns this import reads: %(known)s."
)
REPEATED_COLUMNS = gettext_lazy("Columns named twice: %(columns)s.")
DUPLICATE_KEYS = gettext_lazy("The same %(key)s appears more than once: %(values)s.")
NOT_CHECKED = gettext_lazy("This file was not checked, or has errors: nothing to import.")
ROW_ERRORS = gettext_lazy(
    "Nothing was imported: fix the rows with errors and upload the file again."
)


class FileProblem(Exception):
    """The file as a whole cannot be imported (nothing in it is)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def resource_class(kind: str) -> type[TenantResource]:
    module, _, name = RESOURCES[ImportBatch.Kind(kind)].rpartition(".")
    return getattr(importlib.import_module(module), name)


def columns_help(kind: str) -> dict[str, list[str]]:
    cls = resource_class(kind)
    return {"required": list(cls.required_columns), "known": sorted(cls.known_columns())}


def _csv_dataset(content: bytes) -> tablib.Dataset:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileProblem(str(BAD_ENCODING)) from None
    if "\x00" in text:
        raise FileProblem(str(BAD_ENCODING))
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise FileProblem(str(NOT_CSV) % {"error": exc}) from None
    return _dataset(rows)


def _xlsx_dataset(content: bytes) -> tablib.Dataset:
    from openpyxl import load_workbook

    try:
        # A small file may unpack to gigabytes (a zip bomb): judge what it would unpack to.
        unpacked = sum(info.file_size for info in zipfile.ZipFile(io.BytesIO(content)).infolist())
        if unpacked > XLSX_MAX_UNPACKED:
            raise FileProblem(str(TOO_LARGE) % {"limit": settings.PRM_IMPORT_MAX_BYTES // 2**20})
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise FileProblem(str(NOT_XLSX)) from None
    rows: list[list[Any]] = []
    try:
        sheet = workbook.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            rows.append(["" if v is None else v for v in row])
            if len(rows) > settings.PRM_IMPORT_MAX_ROWS + 1:
                break  # _dataset says it has too many
    finally:
        workbook.close()
    return _dataset(rows)


def _unescaped(value: Any) -> Any:
    """Undo the exports' formula defusing ("'=…" back to "=…"), so an exported file
    imports with the values it was made from."""
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" and value[1] in FORMULA:
        return value[1:]
    return value


def _dataset(rows: list[list[Any]]) -> tablib.Dataset:
    rows = [row for row in rows if any(str(v).strip() for v in row)]  # blank lines
    if len(rows) < 2:
        raise FileProblem(str(NO_ROWS))
    if len(rows) - 1 > settings.PRM_IMPORT_MAX_ROWS:
        raise FileProblem(str(TOO_MANY_ROWS) % {"limit": settings.PRM_IMPORT_MAX_ROWS})
    header = [str(v).strip().lower() for v in rows[0]]
    width = len(header)
    while width and not header[width - 1]:
        width -= 1  # empty trailing header cells (a spreadsheet's stray column)
    header = header[:width]
    data = [tuple(_unescaped(v) for v in [*row, *[""] * width][:width]) for row in rows[1:]]
    dataset = tablib.Dataset(headers=header)
    for row in data:
        dataset.append(row)
    return dataset


def read_dataset(content: bytes, fmt: str, kind: str) -> tablib.Dataset:
    """The file as a dataset, or FileProblem saying what is wrong with it as a whole."""
    dataset = _csv_dataset(content) if fmt == "csv" else _xlsx_dataset(content)
    cls = resource_class(kind)
    header = list(dataset.headers or [])
    repeated = sorted(name for name, n in Counter(header).items() if n > 1)
    if repeated:
        raise FileProblem(str(REPEATED_COLUMNS) % {"columns": ", ".join(repeated)})
    missing = [c for c in cls.required_columns if c not in header]
    if missing:
        raise FileProblem(str(MISSING_COLUMNS) % {"columns": ", ".join(missing)})
    known = cls.known_columns()
    unknown = [c for c in header if c not in known]
    if unknown:
        raise FileProblem(
            str(UNKNOWN_COLUMNS)
            % {"columns": ", ".join(unknown), "known": ", ".join(sorted(known))}
        )
    _check_duplicate_keys(dataset, cls)
    return dataset


def _check_duplicate_keys(dataset: tablib.Dataset, cls: type[TenantResource]) -> None:
    keys = list(getattr(cls, "key_columns", ()))
    if not keys or any(c not in (dataset.headers or []) for c in keys):
        return  # e.g. leads without an external_id column: nothing names a lead twice
    last = keys[-1]
    seen: dict[tuple[str, ...], int] = {}
    repeated: list[str] = []
    for line, row in enumerate(dataset.dict, 2):
        if not str(row.get(last) or "").strip():
            continue  # a lead without an external id is keyed by nothing
        key = tuple(str(row.get(c) or "").strip().lower() for c in keys)
        if key in seen:
            repeated.append(
                _("“%(value)s” (lines %(first)s and %(line)s)")
                % {"value": " / ".join(key), "first": seen[key], "line": line}
            )
        else:
            seen[key] = line
    if repeated:
        raise FileProblem(
            str(DUPLICATE_KEYS) % {"key": " + ".join(keys), "values": "; ".join(repeated[:10])}
        )


def _format_of(name: str) -> str:
    lowered = name.lower()
    if lowered.endswith(".csv"):
        return "csv"
    if lowered.endswith(".xlsx"):
        return "xlsx"
    raise FileProblem(str(WRONG_TYPE))


def import_upload(
    *, tenant: Tenant, actor: User, kind: str, upload: UploadedFile, invite: bool = False
) -> ImportBatch:
    """Check the file as a whole, store it and start its dry run (in the request for a
    small file, as a job for a large one). Raises FileProblem; then nothing is stored."""
    limit = settings.PRM_IMPORT_MAX_BYTES
    if upload.size is None or upload.size > limit:
        raise FileProblem(str(TOO_LARGE) % {"limit": limit // (1024 * 1024)})
    fmt = _format_of(upload.name or "")
    content = upload.read(limit + 1)
    if len(content) > limit:
        raise FileProblem(str(TOO_LARGE) % {"limit": limit // (1024 * 1024)})
    dataset = read_dataset(content, fmt, kind)
    batch = ImportBatch.objects.create(
        tenant=tenant,
        kind=kind,
        filename=(upload.name or "")[-200:],
        format=fmt,
        content=content,
        invite=invite and kind == ImportBatch.Kind.PARTNERS,
        rows=len(dataset),
        created_by=actor,
    )
    _start(batch, "prm.dataio.imports.import_check", check_batch)
    return batch


def _start(batch: ImportBatch, job: str, inline: Any, **kwargs: Any) -> None:
    if batch.rows <= settings.PRM_IMPORT_INLINE_ROWS:
        inline(batch, **kwargs)
    else:
        job_enqueue(job, tenant=batch.tenant, batch_id=str(batch.pk), **kwargs)


def progress_key(batch_id: Any) -> str:
    return f"dataio:import:{batch_id}"


def live_progress(batch: ImportBatch) -> int:
    """Rows done so far, as the running job last reported."""
    done = cache.get(progress_key(batch.pk)) if batch.running else None
    return min(100, round(100 * done / batch.rows)) if done and batch.rows else batch.progress


def _summary(result: Any, dry_run: bool) -> dict[str, Any]:
    errors: list[dict[str, Any]] = []
    for invalid in result.invalid_rows:
        for field, messages in invalid.error_dict.items():
            column = "" if field == "__all__" else field
            errors += [
                {"line": invalid.number + 1, "column": column, "message": m} for m in messages
            ]
    for error_row in result.error_rows:
        for error in error_row.errors:
            message = " ".join(getattr(error.error, "messages", [])) or str(error.error)
            errors.append({"line": error_row.number + 1, "column": "", "message": message[:300]})
    for error in result.base_errors:
        errors.append({"line": 0, "column": "", "message": str(error.error)[:300]})
    errors.sort(key=lambda e: e["line"])
    preview = [
        {
            "line": n + 1,
            "action": row.import_type,
            "object": row.object_repr or "",
            "changes": [str(c)[:200] for c in getattr(row, "changes", [])],
        }
        for n, row in enumerate(result.rows[:PREVIEW_ROWS], 1)
    ]
    totals = dict(result.totals)
    return {
        "dry_run": dry_run,
        "new": totals.get("new", 0),
        "update": totals.get("update", 0),
        "skip": totals.get("skip", 0),
        "errors": errors[:MAX_ERRORS],
        "error_count": len(errors),
        "preview": preview,
    }


def _run(batch: ImportBatch, *, dry_run: bool, actor: User | None = None) -> dict[str, Any]:
    dataset = read_dataset(bytes(batch.content), batch.format, batch.kind)
    resource = resource_class(batch.kind)(actor=actor or batch.created_by, invite=batch.invite)  # type: ignore[call-arg]
    key = progress_key(batch.pk)
    cache.set(key, 0, 3600)

    def progress(done: int) -> None:
        cache.set(key, done, 3600)

    resource.on_progress = progress
    resource.lookup_cache = {}
    result = resource.import_data(
        dataset,
        dry_run=dry_run,
        use_transactions=True,
        rollback_on_validation_errors=True,
        raise_errors=False,
        lookup_cache=resource.lookup_cache,
    )
    cache.delete(key)
    return _summary(result, dry_run)


def check_batch(batch: ImportBatch) -> ImportBatch:
    """The dry run: every row through the real services, then rolled back."""
    try:
        summary = _run(batch, dry_run=True)
    except FileProblem as exc:
        summary = {"errors": [{"line": 0, "column": "", "message": exc.message}], "error_count": 1}
    status = ImportBatch.Status.INVALID if summary["error_count"] else ImportBatch.Status.CHECKED
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=status, result=summary, done=batch.rows, finished_at=timezone.now()
    )
    batch.refresh_from_db()
    return batch


def import_check(*, batch_id: str) -> None:
    """Job: the dry run of a large file."""
    batch = ImportBatch.objects.filter(pk=batch_id, status=ImportBatch.Status.CHECKING).first()
    if batch is not None:
        check_batch(batch)


def import_confirm(*, batch: ImportBatch, actor: User) -> ImportBatch:
    """Start the real import of a checked file (once: a second click finds it started)."""
    started = ImportBatch.objects.filter(pk=batch.pk, status=ImportBatch.Status.CHECKED).update(
        status=ImportBatch.Status.IMPORTING, done=0
    )
    if not started:
        raise FileProblem(str(NOT_CHECKED))
    batch.refresh_from_db()
    # The person who confirms is the one who imports (history and audit name them).
    _start(batch, "prm.dataio.imports.import_apply", apply_batch, actor_id=actor.pk)
    return batch


def apply_batch(batch: ImportBatch, *, actor_id: Any = None) -> ImportBatch:
    """The import itself, all or nothing; the audit row commits with it."""
    actor = User.objects.filter(pk=actor_id).first() if actor_id else batch.created_by
    with transaction.atomic():
        summary = _run(batch, dry_run=False, actor=actor)
        ok = not summary["error_count"]
        if ok:
            audit_record(
                tenant=batch.tenant,
                actor=actor,
                action=f"import.{batch.kind}",
                obj=batch,
                object_type="import",
                after={
                    "file": batch.filename,
                    "rows": batch.rows,
                    "new": summary["new"],
                    "update": summary["update"],
                    "skip": summary["skip"],
                },
            )
    if not ok:
        summary["message"] = str(ROW_ERRORS)
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatch.Status.DONE if ok else ImportBatch.Status.FAILED,
        result=summary,
        done=batch.rows,
        finished_at=timezone.now(),
    )
    batch.refresh_from_db()
    return batch


def import_apply(*, batch_id: str, actor_id: Any = None) -> None:
    """Job: the import of a large file."""
    batch = ImportBatch.objects.filter(pk=batch_id, status=ImportBatch.Status.IMPORTING).first()
    if batch is not None:
        apply_batch(batch, actor_id=actor_id)


def summary_text(batch: ImportBatch) -> str:
    result = batch.result or {}
    new, update = result.get("new", 0), result.get("update", 0)
    return (
        ngettext("%(n)d row will be created", "%(n)d rows will be created", new) % {"n": new}
        + ", "
        + ngettext("%(n)d updated", "%(n)d updated", update) % {"n": update}
    )


def prune_old_imports() -> int:
    """Periodic: forget uploaded files (and their previews) after a month."""
    # Cross-tenant on purpose: a platform job with no tenant scope, deleting by date.
    old = ImportBatch.all_tenants_unscoped.filter(created_at__lt=timezone.now() - KEEP_BATCHES)
    deleted, _ = old.delete()
    return deleted
