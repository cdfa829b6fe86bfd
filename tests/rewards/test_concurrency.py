"""Parallel withdrawals and approvals on PostgreSQL never overdraw or pay twice."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from prm.tenancy import tenant_scope
from rewards.models import LedgerEntry, PayoutDetails, PayoutMethod, PayoutRequest, Reward
from rewards.services.approvals import reward_approve
from rewards.services.ledger import balance
from rewards.services.payouts import payout_mark_paid, payout_request
from rewards.services.verify import verify
from tests.factories import TenantFactory
from tests.rewards.helpers import D, make_partner, make_program, rule, sale

pytestmark = pytest.mark.django_db(transaction=True)


def in_threads(count, work):
    """Run ``work(i)`` in ``count`` threads at once, each on its own connection."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # collected for the assertions
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


@pytest.fixture
def setup():
    tenant = TenantFactory(slug="acme")
    with tenant_scope(tenant):
        program = make_program(tenant)
        rule(program, value=D("10"))
        alice = make_partner(tenant, program, "ALICE")
        method = PayoutMethod.objects.create(
            tenant=tenant, kind="card", name="Card", currency="USD", minimum=D("1")
        )
        PayoutDetails.objects.create(
            tenant=tenant, partner=alice, method=method, encrypted="x", masked="•••• 1111"
        )
        conversion = sale(program, alice, "1000")
        reward_approve(reward=Reward.objects.get(conversion=conversion))  # 100 available
    return tenant, alice, method


def test_parallel_withdrawals_never_overdraw(setup):
    tenant, alice, method = setup

    def withdraw(i):
        with tenant_scope(tenant):
            return payout_request(tenant=tenant, partner=alice, method=method, amount=D("60"))

    results = in_threads(6, withdraw)
    made = [r for r in results if isinstance(r, PayoutRequest)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(made) == 1 and len(refused) == 5
    with tenant_scope(tenant):
        assert balance(alice, "USD").available == Decimal("40.00")
        assert verify() == []


def test_parallel_payments_of_one_payout_pay_once(setup):
    tenant, alice, method = setup
    with tenant_scope(tenant):
        payout = payout_request(tenant=tenant, partner=alice, method=method, amount=D("50"))
        # Approved by a person (the audit row needs one; the test only needs the state).
        PayoutRequest.objects.filter(pk=payout.pk).update(status="approved")

    def pay(i):
        with tenant_scope(tenant):
            return payout_mark_paid(payout=PayoutRequest.objects.get(pk=payout.pk), actor=None)

    results = in_threads(5, pay)
    assert sum(isinstance(r, PayoutRequest) for r in results) == 1
    with tenant_scope(tenant):
        assert LedgerEntry.objects.filter(kind="payout_paid").count() == 1
        assert balance(alice, "USD").paid == Decimal("50.00")
        assert verify() == []


def test_parallel_approvals_of_one_reward_approve_once(setup):
    tenant, alice, method = setup
    with tenant_scope(tenant):
        program = Reward.objects.get().program
        conversion = sale(program, alice, "500")
        reward = Reward.objects.get(conversion=conversion)

    def approve(i):
        with tenant_scope(tenant):
            return reward_approve(reward=Reward.objects.get(pk=reward.pk))

    results = in_threads(5, approve)
    assert sum(isinstance(r, Reward) for r in results) == 1
    with tenant_scope(tenant):
        assert balance(alice, "USD").available == Decimal("150.00")
        assert verify() == []


def test_a_money_lock_never_holds_back_the_inserts_that_point_at_its_rows(setup):
    """While a partner's (and a program's) money is locked, a lead credited to that
    partner is still written and committed at once: the locks are FOR NO KEY UPDATE,
    which the foreign-key checks of inserts (FOR KEY SHARE) pass. With FOR UPDATE the
    insert waited for the lock, and under load such waits deadlocked (bench/soak.py)."""
    from django.db import transaction

    from programs.models import Lead
    from programs.services.leads import LeadInput, lead_create
    from rewards.services.ledger import lock_partner

    tenant, alice, _ = setup
    from programs.models import Program

    with tenant_scope(tenant):
        program = Program.objects.get()
    locked, done = threading.Event(), threading.Event()

    def hold() -> None:
        with tenant_scope(tenant), transaction.atomic():
            lock_partner(alice)
            locked.set()
            done.wait(10)  # held until the lead is in
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(10)
    try:
        with tenant_scope(tenant), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")  # an error, not a hang
            lead_create(
                tenant=tenant,
                program=program,
                source=Lead.Source.API,
                data=LeadInput(email="locked@example.com", referral_code="ALICE"),
            )
    finally:
        done.set()
        holder.join(10)
    with tenant_scope(tenant):
        assert Lead.objects.get(email="locked@example.com").partner_id == alice.pk
