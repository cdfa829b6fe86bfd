"""Spreadsheet files for people to open: CSV (with a BOM, so Excel reads UTF-8) and
XLSX, both with cells that could start a formula defused (CSV injection)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from decimal import Decimal

# A cell starting with one of these is a formula to Excel and LibreOffice.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_lines(header: list[str], rows: Iterable[list[object]]) -> Iterator[str]:
    """CSV text line by line (for a streaming response): a month of entries is never
    held in memory at once."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    yield "\ufeff" + buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([cell(v) for v in row])
        yield buffer.getvalue()


def csv_bytes(header: list[str], rows: Iterable[list[object]]) -> bytes:
    return "".join(csv_lines(header, rows)).encode("utf-8")


def xlsx_bytes(header: list[str], rows: Iterable[list[object]], *, title: str) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)  # rows are streamed to the file, not kept
    sheet = workbook.create_sheet(title[:31])
    sheet.append(header)
    for row in rows:
        sheet.append([float(v) if isinstance(v, Decimal) else cell(v) for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
