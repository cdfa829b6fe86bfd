"""Writing rows as CSV, XLSX or JSON without holding them all: CSV and JSON are
produced piece by piece (for a streaming response or a file), XLSX through openpyxl's
write-only mode into a temporary file.

Text cells that a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@``, a tab
or a carriage return first) are defused with a leading apostrophe in CSV and XLSX
(CSV injection). JSON is data for programs, not for spreadsheets: values stay as they are.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import IO, Any

from rewards.tabular import cell

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
# Rows fetched per round trip when iterating a queryset for an export.
CHUNK_ROWS = 2000


def _text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def csv_chunks(header: list[str], rows: Iterable[list[Any]]) -> Iterator[bytes]:
    """CSV with a BOM (so Excel reads UTF-8), a few hundred rows per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    pending = "\ufeff" + buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    for n, row in enumerate(rows, 1):
        writer.writerow([cell(_text(v)) for v in row])
        if n % 200 == 0:
            yield (pending + buffer.getvalue()).encode("utf-8")
            pending = ""
            buffer.seek(0)
            buffer.truncate()
    yield (pending + buffer.getvalue()).encode("utf-8")


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # money keeps its cents exactly
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    return str(value)


def json_chunks(header: list[str], rows: Iterable[list[Any]]) -> Iterator[bytes]:
    """A JSON array of objects keyed by the column names."""
    yield b"["
    first = True
    for row in rows:
        item = {key: _json_value(value) for key, value in zip(header, row, strict=False)}
        text = json.dumps(item, ensure_ascii=False)
        yield (("\n" if first else ",\n") + text).encode("utf-8")
        first = False
    yield b"\n]\n"


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        # Excel has no time zones: the UTC wall time (exports give every time in UTC).
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, bool | int | float | date) or value is None:
        return value
    return cell(_text(value) if isinstance(value, dict | list) else str(value))


def xlsx_file(header: list[str], rows: Iterable[list[Any]], *, title: str) -> IO[bytes]:
    """The workbook in a temporary file (on disk past a few megabytes), rewound."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31] or "export")
    sheet.append(header)
    for row in rows:
        sheet.append([_xlsx_value(v) for v in row])
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    workbook.save(out)
    out.seek(0)
    return out


def file_chunks(fileobj: IO[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    try:
        while block := fileobj.read(size):
            yield block
    finally:
        fileobj.close()


def chunks(
    fmt: str, header: list[str], rows: Iterable[list[Any]], *, title: str
) -> Iterator[bytes]:
    """The file in ``fmt``, piece by piece."""
    if fmt == "csv":
        return csv_chunks(header, rows)
    if fmt == "json":
        return json_chunks(header, rows)
    return file_chunks(xlsx_file(header, rows, title=title))
