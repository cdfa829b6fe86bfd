"""The ledger's append-only guarantee, tried as the application's own database role
(not a superuser, which could drop the trigger anyway): no UPDATE, DELETE or TRUNCATE,
no purge switch a session can flip, and a whole-tenant purge only through the
SECURITY DEFINER function granted to an operator."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from rewards.models import LedgerEntry
from tests.rewards.helpers import D, make_partner, make_program, rule, sale

APP_ROLE = "prm_app_test"


@pytest.fixture
def entries(in_acme):
    program = make_program(in_acme, hold_days=30)
    rule(program, value=D("10"))
    alice = make_partner(in_acme, program, "ALICE")
    sale(program, alice, "100")
    sale(program, alice, "200")
    assert LedgerEntry.objects.count() == 2
    with connection.cursor() as cursor:
        cursor.execute(
            f"""DO $$ BEGIN CREATE ROLE {APP_ROLE} NOLOGIN;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"""
        )
        # What an application's role holds: every right on every table.
        cursor.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
    return in_acme


def as_app_role(sql: str, *params: object) -> list[tuple]:
    with transaction.atomic(), connection.cursor() as cursor:
        # The test's own inserts leave deferred FK checks, which TRUNCATE would trip on.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"SET LOCAL ROLE {APP_ROLE}")
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE rewards_ledgerentry SET pending = 1000",
        "DELETE FROM rewards_ledgerentry",
        "TRUNCATE rewards_ledgerentry CASCADE",
    ],
)
def test_the_application_role_cannot_rewrite_the_ledger(entries, sql):
    with pytest.raises(DatabaseError, match="append-only"):
        as_app_role(sql)
    assert LedgerEntry.objects.count() == 2


@pytest.mark.parametrize(
    "statement", ["DELETE FROM rewards_ledgerentry", "TRUNCATE rewards_ledgerentry CASCADE"]
)
def test_the_old_purge_switch_opens_nothing(entries, statement):
    with pytest.raises(DatabaseError, match="append-only"):
        as_app_role(f"SELECT set_config('prm.ledger_purge', 'on', true); {statement}")
    assert LedgerEntry.objects.count() == 2


def test_only_a_granted_role_may_purge_a_whole_tenant(entries, globex):
    with pytest.raises(DatabaseError, match="permission denied"):
        as_app_role("SELECT rewards_ledger_purge_tenant(%s)", str(entries.pk))
    with connection.cursor() as cursor:
        cursor.execute(f"GRANT EXECUTE ON FUNCTION rewards_ledger_purge_tenant(uuid) TO {APP_ROLE}")
    assert as_app_role("SELECT rewards_ledger_purge_tenant(%s)", str(globex.pk)) == [(0,)]
    assert as_app_role("SELECT rewards_ledger_purge_tenant(%s)", str(entries.pk)) == [(2,)]
    assert LedgerEntry.all_tenants_unscoped.count() == 0
