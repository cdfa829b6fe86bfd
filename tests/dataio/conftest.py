"""Worlds for the export and import tests: acme's money world (programs, partners,
leads, conversions, rewards, ledgers, payouts, audit rows) and a globex with one row of
every kind, each carrying GLOBEX so an export that leaks it is caught."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from itertools import zip_longest
from typing import Any

import pytest
from django.utils import timezone

from prm.audit import audit_record
from prm.models import Tenant, User
from prm.tenancy import tenant_scope
from programs.models import Lead
from rewards.models import PayoutMethod, PayoutRequest
from tests.prm.conftest import run_jobs  # noqa: F401  (the real burst worker)
from tests.rewards.console_world import World, build
from tests.rewards.helpers import make_partner, make_program, sale

MARK = "GLOBEX"


@pytest.fixture
def money(acme: Tenant, owner: User) -> World:
    world = build(acme, owner)
    with tenant_scope(acme):
        Lead.objects.create(
            tenant=acme,
            program=world.program,
            partner=world.alice,
            source=Lead.Source.CONSOLE,
            name="Ann Customer",
            email="ann@customer.test",
        )
        Lead.objects.create(
            tenant=acme,
            program=world.program,
            source=Lead.Source.API,
            name="Ben Customer",
            email="ben@customer.test",
            status=Lead.Status.QUALIFIED,
        )
        audit_record(tenant=acme, actor=owner, action="settings.update", object_type="tenant")
    return world


@pytest.fixture
def globex_rows(globex: Tenant, outsider: User) -> None:
    """One row of each exported kind in globex, all marked."""
    with tenant_scope(globex):
        program = make_program(globex, name=f"{MARK} Pro")
        partner = make_partner(globex, program, f"{MARK}P", display_name=f"{MARK} partner")
        sale(program, partner, "100.00")
        Lead.objects.create(
            tenant=globex,
            program=program,
            partner=partner,
            source=Lead.Source.API,
            name=f"{MARK} lead",
            email="lead@globex.test",
        )
        method = PayoutMethod.objects.create(
            tenant=globex, kind="card", name=f"{MARK} card", currency="USD"
        )
        PayoutRequest.objects.create(
            tenant=globex,
            partner=partner,
            method=method,
            details_masked=f"{MARK} ****",
            currency="USD",
            amount=Decimal("5"),
            fee=Decimal("0"),
            created_at=timezone.now(),
        )
        audit_record(
            tenant=globex, actor=outsider, action=f"{MARK}.action", object_type=MARK.lower()
        )


def content_of(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def rows_of(response: Any, fmt: str) -> list[dict[str, Any]]:
    """The exported rows as dicts, whatever the format."""
    return parse(content_of(response), fmt)


def parse(body: bytes, fmt: str) -> list[dict[str, Any]]:
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    if fmt == "json":
        return json.loads(body)
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
    lines = list(sheet.iter_rows(values_only=True))
    header = [str(h) for h in lines[0]]
    # read-only sheets leave out a row's trailing empty cells
    return [dict(zip_longest(header, line)) for line in lines[1:]]
