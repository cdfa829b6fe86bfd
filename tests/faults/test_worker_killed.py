"""An RQ worker killed with SIGKILL mid-job: the job runs again, its effects happen once.

Each test starts ``manage.py rqworker`` as a real process on the test database, lets
its job block on a PostgreSQL lock the test holds (no hook in production code), kills
the worker's process group with SIGKILL, then lets the production recovery run: RQ's
abandoned-job cleanup and the Job sweeper (``prm.jobs.sweep_stale_jobs``) for jobs,
the stream's claim of a dead consumer's entries for the click flush. The CRM push is
killed while a slowed-down fake CRM (tests/fakes/, real HTTP) has created part of the
leads, whose CRM ids the dead worker never saved.
"""

from __future__ import annotations

import time
from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone

from integrations.crm import engine
from integrations.models import CrmOutbox, CrmRecordLink
from partners.models import PartnerProfile
from prm.jobs import sweep_stale_jobs
from prm.models import Job
from prm.tenancy import tenant_scope
from programs.models import Click, Lead, Program
from programs.services import clicks as clicks_service
from programs.services.clicks import STREAM, clicks_flush
from rewards.models import LedgerEntry, Reward
from tests.faults.helpers import (
    kill,
    side_connection,
    someone_waits_on_a_lock,
    start_worker,
    wait_for,
)
from tests.integrations.conftest import connect, make_fake
from tests.integrations.helpers import crm_key, live
from tests.prm.conftest import BurstWorker
from tests.rewards.helpers import make_partner, make_program, rule, sale

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _empty_queues():
    for name in ("default", "tracking", "crm"):
        queue = django_rq.get_queue(name)
        queue.empty()
        for registry in (queue.started_job_registry, queue.scheduled_job_registry):
            for job_id in registry.get_job_ids():
                registry.remove(job_id)
    django_rq.get_connection("tracking").delete(STREAM)
    yield
    django_rq.get_connection("tracking").delete(STREAM)


def _let_rq_see_the_worker_dead(queue_name: str) -> None:
    """Time passing, compressed: the dead worker's heartbeat has run out."""
    queue = django_rq.get_queue(queue_name)
    key = queue.started_job_registry.key
    for member in queue.connection.zrange(key, 0, -1):
        queue.connection.zadd(key, {member: 1})


def _run_what_rq_scheduled(queue_name: str) -> None:
    """Time passing, compressed: the scheduler moves due retries to the queue."""
    queue = django_rq.get_queue(queue_name)
    for job_id in queue.scheduled_job_registry.get_job_ids():
        queue.scheduled_job_registry.requeue(job_id)
    BurstWorker([queue], connection=queue.connection).work(burst=True)


def test_a_worker_killed_during_the_accrual_leaves_one_reward(in_acme):
    program = make_program(in_acme)
    alice = make_partner(in_acme, program, "ALICE")
    rule(program)
    conversion = sale(program, alice, accrue=False)  # enqueues the accrual on commit
    job = Job.objects.get(func="rewards.services.accrual.accrue_conversion")
    holder = side_connection()
    worker = None
    try:
        # Inside its transaction the accrual locks the partner's row; the test holds it.
        holder.execute(
            f"SELECT 1 FROM {PartnerProfile._meta.db_table} WHERE id = %s FOR UPDATE",
            [alice.pk],
        )
        worker = start_worker("default")
        wait_for(someone_waits_on_a_lock, "the accrual to block on the partner row")
        kill(worker)
    finally:
        if worker is not None and worker.poll() is None:
            kill(worker)
        holder.rollback()
        holder.close()
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING  # what a dead worker leaves behind
    assert not Reward.all_tenants_unscoped.filter(conversion=conversion).exists()

    # Later: RQ's heartbeat has run out and the sweeper's period has passed.
    _let_rq_see_the_worker_dead("default")
    Job.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(hours=1))
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(hours=1))
    sweep_stale_jobs()
    _run_what_rq_scheduled("default")

    job.refresh_from_db()
    assert job.status == Job.Status.DONE, job.error
    assert job.attempts == 2
    rewards = list(Reward.all_tenants_unscoped.filter(conversion=conversion))
    assert len(rewards) == 1
    assert LedgerEntry.all_tenants_unscoped.filter(reward=rewards[0]).count() == 1
    # A second sweep and worker change nothing.
    sweep_stale_jobs()
    _run_what_rq_scheduled("default")
    assert Reward.all_tenants_unscoped.filter(conversion=conversion).count() == 1


def _accept_clicks(program: Program, n: int) -> None:
    with tenant_scope(program.tenant):
        for i in range(n):
            clicks_service.click_accept(
                clicks_service.ClickInput(
                    key=program.publishable_key, code="ALICE", visitor=f"visitor-{i:04d}"
                ),
                tenant_id=str(program.tenant_id),
                ip="203.0.113.9",
                user_agent="Mozilla/5.0",
            )


def test_a_worker_killed_during_the_click_flush_stores_each_click_once(in_acme):
    program = make_program(in_acme)
    make_partner(in_acme, program, "ALICE")
    _accept_clicks(program, 7)
    r = django_rq.get_connection("tracking")
    assert r.xlen(STREAM) == 7
    django_rq.get_queue("tracking").enqueue(clicks_flush)
    holder = side_connection()
    worker = None
    try:
        holder.execute(f"LOCK TABLE {Click._meta.db_table} IN SHARE MODE")  # inserts wait
        worker = start_worker("tracking")
        wait_for(someone_waits_on_a_lock, "the flush to block on the clicks table")
        kill(worker)
    finally:
        if worker is not None and worker.poll() is None:
            kill(worker)
        holder.rollback()
        holder.close()
    assert Click.all_tenants_unscoped.count() == 0
    # The dead flusher's entries are pending in the group, not lost.
    assert r.xpending(STREAM, "flush")["pending"] == 7

    # Later: the next periodic flush (rqcron, every 5 s) once the entries are idle long
    # enough (CLAIM_IDLE_MS, compressed to 0 here), on a new real worker.
    django_rq.get_queue("tracking").enqueue(clicks_flush, claim_idle_ms=0)
    _run_what_rq_scheduled("tracking")
    visitors = list(Click.all_tenants_unscoped.values_list("visitor_id", flat=True))
    assert len(visitors) == 7 and len(set(visitors)) == 7
    assert r.xpending(STREAM, "flush")["pending"] == 0
    # Another flush writes nothing twice.
    clicks_flush(claim_idle_ms=0)
    assert Click.all_tenants_unscoped.count() == 7


def _other_session_holds_an_advisory_lock() -> bool:
    with side_connection() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND a.datname = current_database()"
            " AND a.pid <> pg_backend_pid()"
        ).fetchone()
    return bool(row and row[0])


# Records per create request (amoCRM's complex add, Bitrix24's batch, sObject
# Collections), and leads enough for several of them.
CREATES_PER_REQUEST = {"amocrm": 50, "bitrix24": 50, "salesforce": 200}


@pytest.mark.parametrize("provider", list(CREATES_PER_REQUEST))
def test_a_worker_killed_mid_crm_push_leaves_each_lead_in_the_crm_once(in_acme, provider):
    batch = CREATES_PER_REQUEST[provider]
    # Longer than what can be in flight when the worker dies: amoCRM's push keeps up to
    # three requests going at once, in a first chunk of 400 rows.
    leads = {"amocrm": 10, "bitrix24": 4, "salesforce": 3}[provider] * batch
    program = make_program(in_acme)
    alice = make_partner(in_acme, program, "ALICE")
    fake = make_fake(provider).start()
    worker = None
    try:
        crm = connect(in_acme, fake, program)
        Lead.objects.bulk_create(
            Lead(
                tenant=in_acme,
                program=program,
                partner=alice,
                source="api",
                name=f"Bulk {i}",
                company=f"Company {i}",  # no e-mail or phone: only our id can match them
            )
            for i in range(leads)
        )
        assert engine.sync_all(crm) == leads  # the push job is enqueued on commit
        job = Job.objects.get(func=engine.PUSH_JOB)
        fake.latency = 0.25  # per request: the push takes a few seconds
        worker = start_worker("crm")
        wait_for(lambda: len(fake.records()) >= batch, "the first leads in the CRM", timeout=60)
        kill(worker)
        time.sleep(2 * fake.latency)  # a request in flight still completes in the CRM
        created = len(fake.records())
        assert batch <= created < leads
        # The CRM has them, PRM has no id for any: the worker died before filing results.
        assert not CrmRecordLink.objects.filter(connection=crm).exists()
        assert CrmOutbox.objects.filter(state=CrmOutbox.State.PENDING).count() == leads
        job.refresh_from_db()
        assert job.status == Job.Status.RUNNING

        # Later: PostgreSQL has ended the dead session (and its advisory lock), RQ's
        # heartbeat has run out and the sweeper's period has passed; a new worker.
        wait_for(lambda: not _other_session_holds_an_advisory_lock(), "the lock's release")
        fake.latency = 0.0
        _let_rq_see_the_worker_dead("crm")
        Job.objects.filter(pk=job.pk).update(
            started_at=timezone.now() - timedelta(hours=1),
            created_at=timezone.now() - timedelta(hours=1),
        )
        sweep_stale_jobs()
        _run_what_rq_scheduled("crm")

        job.refresh_from_db()
        assert job.status == Job.Status.DONE, job.error
        assert job.attempts == 2
        pushed = live(fake)
        ours = sorted(r["fields"][crm_key(crm, "lead_id")] for r in pushed)
        assert ours == sorted(str(pk) for pk in Lead.objects.values_list("pk", flat=True))
        links = CrmRecordLink.objects.filter(connection=crm)
        assert links.count() == leads
        assert set(links.values_list("crm_id", flat=True)) == {str(r["id"]) for r in pushed}
        assert not CrmOutbox.objects.exclude(state=CrmOutbox.State.DONE).exists()
    finally:
        if worker is not None and worker.poll() is None:
            kill(worker)
        fake.stop()
