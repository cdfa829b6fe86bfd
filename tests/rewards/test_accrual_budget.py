"""A program's budget in the batch accrual (rewards.services.budget): charged at the end
with one conditional update; a batch that would overrun it is capped reward by reward
under the running total's lock, also when another batch charged it meanwhile."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from prm.tenancy import tenant_scope
from rewards.models import LedgerEntry, ProgramBudget, Reward
from rewards.services.accrual_batch import accrue_conversions
from rewards.services.verify import verify
from tests.factories import TenantFactory
from tests.rewards import _reference_accrual as reference
from tests.rewards.helpers import D, make_partner, make_program, rule, sale


def _budget_statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "rewards_programbudget" in q["sql"]]


def _amounts(partner: object) -> list[Decimal]:
    return [
        r.amount for r in Reward.objects.filter(partner=partner).order_by("conversion__occurred_at")
    ]


@pytest.fixture
def budgeted(in_acme):
    program = make_program(in_acme, reward_budget=D("25"))
    rule(program, value=D("10"))  # 10 % of each 100 sale
    return program


def test_it_charges_a_batch_within_the_budget_without_locking_it(budgeted):
    alice = make_partner(budgeted.tenant, budgeted, "ALICE")
    sale(budgeted, alice, "100")  # the first accrual makes the running total
    ids = [sale(budgeted, alice, "50", accrue=False).pk for _ in range(2)]
    with CaptureQueriesContext(connection) as queries:
        accrue_conversions(ids)
    statements = _budget_statements(queries)
    assert not [sql for sql in statements if "FOR UPDATE" in sql]
    (charge,) = [sql for sql in statements if sql.startswith("UPDATE")]
    assert '"spent" <=' in charge  # the conditional update
    assert _amounts(alice) == [D("10.00"), D("5.00"), D("5.00")]
    assert ProgramBudget.objects.get().spent == D("20.00")


def test_a_batch_that_overruns_the_budget_at_its_end_is_capped_as_one_by_one(budgeted):
    alice = make_partner(budgeted.tenant, budgeted, "ALICE")
    sale(budgeted, alice, "100")  # 10 spent, 15 left
    ids = [sale(budgeted, alice, "100", accrue=False).pk for _ in range(3)]

    def one_by_one() -> tuple[list[Decimal], list[str], Decimal]:
        for pk in ids:
            reference.accrue_conversion(conversion_id=str(pk))
        return (
            _amounts(alice),
            list(LedgerEntry.objects.order_by("created_at", "id").values_list("memo", flat=True)),
            ProgramBudget.objects.get().spent,
        )

    with transaction.atomic():
        expected = one_by_one()
        transaction.set_rollback(True)
    with CaptureQueriesContext(connection) as queries:
        accrue_conversions(ids)
    # The charge of 30 did not fit: the batch locked the total and capped the second.
    assert [sql for sql in _budget_statements(queries) if "FOR UPDATE" in sql]
    assert _amounts(alice) == [D("10.00"), D("10.00"), D("5.00")] == expected[0]
    memos = list(LedgerEntry.objects.order_by("created_at", "id").values_list("memo", flat=True))
    assert memos == expected[1]
    assert memos[-1].endswith("program budget reached")
    assert ProgramBudget.objects.get().spent == D("25.00") == expected[2]
    assert verify() == []


@pytest.mark.django_db(transaction=True)
def test_two_batches_racing_on_one_budget_spend_it_exactly_once():
    """Alice's batch charges the budget and holds its transaction open; Bob's batch,
    computed meanwhile without any budget lock, waits on the running total at its
    charge, then sees Alice's charge, overruns, and is capped under the lock."""
    tenant = TenantFactory(slug="acme")
    with tenant_scope(tenant):
        program = make_program(tenant, reward_budget=D("145"))
        rule(program, value=D("10"))
        alice = make_partner(tenant, program, "ALICE")
        bob = make_partner(tenant, program, "BOB")
        sale(program, alice, "100")  # makes the running total: 10 spent, 135 left
        batches = {
            partner.pk: [sale(program, partner, "100", accrue=False).pk for _ in range(10)]
            for partner in (alice, bob)
        }
    charged, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def alice_batch() -> None:
        try:
            with tenant_scope(tenant), transaction.atomic():
                accrue_conversions(batches[alice.pk])  # 100 charged, row locked till commit
                charged.set()
                release.wait(20)
        except BaseException as exc:  # reported by the assertions below
            errors.append(exc)
        finally:
            connection.close()

    def bob_batch() -> None:
        try:
            with tenant_scope(tenant):
                accrue_conversions(batches[bob.pk])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    first = threading.Thread(target=alice_batch)
    first.start()
    assert charged.wait(20)
    second = threading.Thread(target=bob_batch)
    second.start()
    try:
        # Bob's charge waits on the row Alice's open transaction updated.
        deadline = time.monotonic() + 20
        waiting = False
        while not waiting and time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' "
                    "AND query LIKE 'UPDATE \"rewards_programbudget\"%'"
                )
                waiting = cursor.fetchone()[0] == 1
            time.sleep(0.02)
        assert waiting
    finally:
        release.set()
        first.join(30)
        second.join(30)
    assert errors == []
    with tenant_scope(tenant):
        assert sum(_amounts(alice)) == D("110.00")  # its first sale and the batch
        assert _amounts(bob) == [D("10.00")] * 3 + [D("5.00")]  # the 35 left
        assert ProgramBudget.objects.get().spent == D("145.00")
        assert LedgerEntry.objects.filter(memo__endswith="program budget reached").count() == 1
        assert verify() == []
