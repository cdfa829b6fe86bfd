"""Monthly statements at scale: the PDF sums the month (by day, kind and program), a
closed month's PDF is built once and kept, and every movement is in the CSV/XLSX
detail."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from rewards.models import LedgerEntry, StatementFile
from rewards.services.approvals import reward_approve
from rewards.services.ledger import post
from rewards.statements import (
    month_of,
    monthly_statement,
    statement_pdf_cached,
    statements_build_closed_month,
)
from tests.rewards.helpers import D, make_partner, make_program, rule, sale


@pytest.fixture
def program(in_acme):
    p = make_program(in_acme, hold_days=30)
    rule(p, value=D("10"))
    return p


@pytest.fixture
def alice(in_acme, program):
    return make_partner(in_acme, program, "ALICE")


def last_month():  # type: ignore[no-untyped-def]
    now = timezone.now()
    year, number = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
    return month_of(year, number)


def backdate_everything(month) -> None:  # type: ignore[no-untyped-def]
    """Entries are created "now" and the ledger refuses updates: replica mode (a
    superuser's switch, as a data migration would use) lets this test move them."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET LOCAL session_replication_role = replica")
        LedgerEntry.objects.update(created_at=month.start + timedelta(days=3))
        cursor.execute("SET LOCAL session_replication_role = origin")


def test_a_busy_month_is_summed_not_listed(in_acme, program, alice):
    for n in range(30):
        post(
            tenant=in_acme,
            partner=alice,
            currency="USD",
            kind=LedgerEntry.Kind.ADJUSTMENT,
            key=f"many:{n}",
            available=D("1000.50"),
            memo="=HYPERLINK(1)" if n == 0 else "",
        )
    now = timezone.now()
    statement = monthly_statement(alice, month_of(now.year, now.month))
    [row] = statement.summary
    assert (row.count, row.available) == (30, D("30015.00"))
    assert statement.entry_count == 30


def test_the_statement_queries_do_not_grow_with_the_months_entries(in_acme, program, alice):
    now = timezone.now()
    month = month_of(now.year, now.month)
    sale(program, alice, "100")
    with CaptureQueriesContext(connection) as few:
        monthly_statement(alice, month)
    for _ in range(20):
        sale(program, alice, "100")
    with CaptureQueriesContext(connection) as many:
        monthly_statement(alice, month)
    assert len(many) == len(few)


def test_a_closed_months_pdf_is_built_once_and_kept(in_acme, program, alice):
    conversion = sale(program, alice, "100")
    reward_approve(reward=conversion.rewards.get())
    month = last_month()
    backdate_everything(month)
    first = statement_pdf_cached(alice, month)
    assert first.startswith(b"%PDF")
    assert StatementFile.objects.count() == 1
    with CaptureQueriesContext(connection) as queries:
        again = statement_pdf_cached(alice, month)
    assert again == first and len(queries) == 1  # read back, not rebuilt


def test_the_monthly_job_builds_last_months_statements(in_acme, program, alice):
    make_partner(in_acme, program, "IDLE")  # no money moved: no statement
    sale(program, alice, "100")
    backdate_everything(last_month())
    assert statements_build_closed_month() == 1
    assert StatementFile.objects.get().partner_id == alice.pk


def test_the_current_month_is_never_kept(in_acme, program, alice):
    sale(program, alice, "100")
    now = timezone.now()
    statement_pdf_cached(alice, month_of(now.year, now.month))
    assert not StatementFile.objects.exists()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_detail_lists_every_movement(client_for, in_acme, partner, program, fmt):
    from partners.models import PartnerProfile

    me = PartnerProfile.objects.get(user=partner)
    for n in range(3):
        post(
            tenant=in_acme,
            partner=me,
            currency="USD",
            kind=LedgerEntry.Kind.ADJUSTMENT,
            key=f"detail:{n}",
            available=D("1.00"),
            memo="=cmd|' /C calc'!A0" if n == 0 else "thanks",
        )
    month = f"{timezone.now():%Y-%m}"
    response = client_for(partner).get(f"/payouts/statement.{fmt}?month={month}")
    assert response.status_code == 200
    assert f'filename="statement-{month}.{fmt}"' in response["Content-Disposition"]
    content = b"".join(response.streaming_content) if fmt == "csv" else response.content
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    else:
        sheet = load_workbook(io.BytesIO(content)).active
        rows = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    assert rows[0][:2] == ["Date", "What happened"]
    assert len(rows) == 4
    notes = [row[-1] for row in rows[1:]]
    assert "'=cmd|' /C calc'!A0" in notes  # a formula is defused
    assert Decimal(str(rows[1][5])) == D("1.00")


def test_the_detail_of_no_real_month_or_format_is_a_404(client_for, partner):
    client = client_for(partner)
    assert client.get("/payouts/statement.csv?month=9999-12").status_code in (302, 404)
    assert client.get("/payouts/statement.txt?month=2025-01").status_code in (302, 404)
