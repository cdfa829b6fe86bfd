"""CRM jobs are fair between connections: every connection's jobs share the crm queue,
so a push or a reconciliation works for one slice, saves where it is and queues itself
again at the back of the queue. A real burst worker runs the queue here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.crm import engine, event_queue, inbound
from integrations.models import CrmConnection, CrmOutbox, CrmRecordLink, CrmSyncLog
from prm.models import Job
from programs.models import Lead
from tests.fakes.amocrm import FakeAmo
from tests.fakes.bitrix24 import FakeBitrix
from tests.integrations.conftest import connect, make_fake
from tests.integrations.helpers import bulk_leads, crm_key, deliver, live

pytestmark = pytest.mark.django_db


@pytest.fixture
def bitrix() -> Iterator[FakeBitrix]:
    server = FakeBitrix().start()
    yield server
    server.stop()


@pytest.fixture
def amo() -> Iterator[FakeAmo]:
    server = FakeAmo().start()
    yield server
    server.stop()


def test_one_connections_backlog_does_not_hold_back_anothers_event(
    in_acme,
    program,
    alice,
    enrollment,
    bitrix,
    amo,
    settings,
    run_crm_jobs,
    client_for,
    django_capture_on_commit_callbacks,
):
    settings.PRM_CRM_SLICE_SECONDS = 0  # one chunk per job
    settings.PRM_CRM_PUSH_CHUNK = 100
    a = connect(in_acme, bitrix, program)
    b = connect(in_acme, amo, program)
    bulk_leads(program, alice, 300, "backlog")
    with django_capture_on_commit_callbacks(execute=True):
        engine.queue_leads(a, [str(i) for i in Lead.objects.values_list("pk", flat=True)])
    # Then an event of the other connection: a deal made in amoCRM with Alice's code.
    made = amo.create_record(
        "Walk-in", email="walkin@example.com", fields={crm_key(b, "referral_code"): "ALICE"}
    )
    deliver(amo, b, made, "update", client_for(None), django_capture_on_commit_callbacks)

    run_crm_jobs()

    event = Job.objects.get(func=event_queue.DRAIN_JOB)
    assert event.status == Job.Status.DONE
    assert Lead.objects.filter(email="walkin@example.com").exists()
    rows = CrmOutbox.objects.filter(connection=a)
    # A's backlog (and the walk-in lead, pushed on to A) drained, each lead once...
    assert rows.count() == 301
    assert not rows.exclude(state=CrmOutbox.State.DONE).exists()
    pushed = live(bitrix)
    assert len(pushed) == len({r["email"] for r in pushed}) == 301
    assert CrmRecordLink.objects.filter(connection=a).count() == 301
    # ... in slices, and B's event was handled between them, not after the backlog.
    pushes = Job.objects.filter(func=engine.PUSH_JOB, kwargs__connection_id=str(a.pk))
    assert pushes.count() >= 3
    last_row = max(rows.values_list("done_at", flat=True))
    assert event.finished_at < last_row
    first_slice = min(pushes.values_list("finished_at", flat=True))
    assert rows.filter(done_at__gt=event.finished_at).count() >= 100
    assert first_slice <= event.finished_at


# Per CRM: records in the CRM, the slice (the CRM's page: amoCRM serves 250, Bitrix24 50;
# the Salesforce fake is told to page by 50) and the most records one slice may read.
SLICED = {"amocrm": (600, 250, 500), "bitrix24": (120, 50, 100), "salesforce": (120, 50, 100)}


@pytest.mark.parametrize("provider", list(SLICED))
def test_a_reconciliation_reads_in_slices_and_goes_on_from_its_cursor(
    in_acme,
    program,
    alice,
    enrollment,
    provider,
    settings,
    run_crm_jobs,
    django_capture_on_commit_callbacks,
):
    total, settings.PRM_CRM_POLL_SLICE, most = SLICED[provider]
    fake = make_fake(provider).start()
    try:
        fake.batch_size = settings.PRM_CRM_POLL_SLICE  # the Salesforce fake's page
        crm = connect(in_acme, fake, program)
        code = crm_key(crm, "referral_code")
        ours = {0, total // 2, total - 1}  # Alice's code: her leads; the rest not ours
        made = [
            fake.create_record(
                f"Deal {i}",
                email=f"deal{i}@example.com",
                fields={code: "ALICE"} if i in ours else {},
            )
            for i in range(total)
        ]
        if provider == "amocrm":
            # amo's times have whole seconds and amo filters by them: these changes
            # were made over three seconds (within one, a slice cannot end inside it).
            base = fake.world.leads[int(made[0])]["updated_at"]
            for i, crm_id in enumerate(made):
                fake.world.leads[int(crm_id)]["updated_at"] = base + i * 3 // total
        with django_capture_on_commit_callbacks(execute=True):
            engine.start_job(inbound.POLL_JOB, crm)
        run_crm_jobs()
    finally:
        fake.stop()

    polls = Job.objects.filter(func=inbound.POLL_JOB)
    assert polls.count() >= 3
    assert set(polls.values_list("status", flat=True)) == {Job.Status.DONE}
    logs = CrmSyncLog.objects.filter(connection=crm, kind=CrmSyncLog.Kind.POLL)
    assert max(logs.values_list("records", flat=True)) <= most
    assert sum(logs.values_list("records", flat=True)) >= total
    assert Lead.objects.filter(email__startswith="deal").count() == len(ours)
    crm.refresh_from_db()
    assert crm.poll_cursor and crm.status == CrmConnection.Status.ACTIVE
