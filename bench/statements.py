"""Statements benchmark: `make bench` (or `python bench/statements.py`).

On a fresh PostgreSQL database of its own, one partner with BENCH_STATEMENT_ENTRIES
(10,000) ledger movements this month. Measured, each the best of three: the month's
summary, its PDF built live, the same PDF served once kept (a closed month), and the
CSV detail; the reference, in the same run, is the PDF of a partner with no movement
(WeasyPrint's fixed cost). Figures go to the "Statements" section of BENCHMARKS.md.

Knobs: BENCH_STATEMENTS_DATABASE_URL
(postgres://postgres@127.0.0.1:5432/prm_bench_statements, dropped and created),
BENCH_STATEMENT_ENTRIES (10000), BENCH_WRITE (1).
"""

# ruff: noqa: S603, S607 - a local driver of local tools (psql)

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REPORT = ROOT / "BENCHMARKS.md"
START = "<!-- bench/statements.py: start -->"
END = "<!-- bench/statements.py: end -->"

DATABASE_URL = os.environ.get(
    "BENCH_STATEMENTS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prm_bench_statements"
)
ENTRIES = int(os.environ.get("BENCH_STATEMENT_ENTRIES", "10000"))
WRITE = os.environ.get("BENCH_WRITE", "1") == "1"

os.environ.update(
    DJANGO_SETTINGS_MODULE="prm.settings",
    DATABASE_URL=DATABASE_URL,
    DEBUG="0",
    SECRET_KEY="bench-only-" + "s" * 40,
    LOG_LEVEL="WARNING",
)
os.environ.pop("REDIS_URL", None)


def psql(sql: str) -> None:
    url = urlsplit(DATABASE_URL)
    subprocess.run(
        ["psql", "-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432)]
        + ["-U", url.username or "postgres", "-d", "postgres", "-qc", sql],
        check=True,
    )


def best_of(runs: int, step: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    name = urlsplit(DATABASE_URL).path.lstrip("/")
    psql(f"DROP DATABASE IF EXISTS {name}")
    psql(f"CREATE DATABASE {name}")
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from partners.models import PartnerProfile
    from prm.models import Tenant, User
    from prm.tenancy import tenant_scope
    from rewards.models import LedgerEntry
    from rewards.statements import (
        detail_rows,
        month_of,
        monthly_statement,
        statement_pdf,
        statement_pdf_cached,
    )

    call_command("migrate", verbosity=0)
    tenant = Tenant.objects.create(name="Bench", slug="bench")
    with tenant_scope(tenant):
        busy = PartnerProfile.objects.create(
            tenant=tenant, user=User.objects.create_user(email="busy@bench.test", password="x")
        )
        idle = PartnerProfile.objects.create(
            tenant=tenant, user=User.objects.create_user(email="idle@bench.test", password="x")
        )
        LedgerEntry.objects.bulk_create(
            [
                LedgerEntry(
                    tenant=tenant,
                    partner=busy,
                    currency="USD",
                    kind="adjustment",
                    key=f"bench:{i}",
                    available=Decimal("1.25"),
                )
                for i in range(ENTRIES)
            ],
            batch_size=5000,
        )
        now = timezone.now()
        month = month_of(now.year, now.month)
        statement_pdf(monthly_statement(idle, month))  # imports WeasyPrint once
        reference = best_of(3, lambda: statement_pdf(monthly_statement(idle, month)))
        summary = best_of(3, lambda: monthly_statement(busy, month))
        live = best_of(3, lambda: statement_pdf(monthly_statement(busy, month)))
        # A closed month is served from its stored PDF; pretend this one is closed.
        closed = month_of(now.year - 1, now.month)
        statement_pdf_cached(busy, closed)
        kept = best_of(3, lambda: statement_pdf_cached(busy, closed))
        detail = best_of(3, lambda: sum(1 for _ in detail_rows(busy, month)))

    rows = [
        ("reference: PDF of a month with no movement", reference),
        (f"summary of a month of {ENTRIES:,} movements (SQL)", summary),
        ("PDF of that month, built live (current month)", live),
        ("PDF of a closed month, served as kept", kept),
        (f"CSV/XLSX detail rows ({ENTRIES:,})", detail),
    ]
    table = "\n".join(f"| {label} | {seconds * 1000:,.0f} ms |" for label, seconds in rows)
    section = (
        f"{START}\n## Statements\n\n`python bench/statements.py`, {time.strftime('%Y-%m-%d')}, "
        f"best of three. The PDF sums the month by day, kind and program, so its cost "
        f"does not grow with the number of movements beyond the one aggregate query.\n\n"
        f"| step | time |\n|---|---|\n{table}\n{END}"
    )
    print(section)
    if WRITE:
        text = REPORT.read_text() if REPORT.exists() else "# Benchmarks\n"
        if START in text:
            text = text[: text.index(START)] + section + text[text.index(END) + len(END) :]
        else:
            text = text.rstrip() + "\n\n" + section + "\n"
        REPORT.write_text(text)
    from django.db import connection

    connection.close()
    psql(f"DROP DATABASE IF EXISTS {name}")


if __name__ == "__main__":
    main()
