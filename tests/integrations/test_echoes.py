"""The CRM's events about our own writes are not read back: every pushed lead used to
cost a read-back when its event came (4 requests on amoCRM, 1 on Bitrix24). amoCRM's
webhook reports the lead's update time, compared with the one our write was answered
with (or, for a lead we created, that it was not updated since); Bitrix24's event
carries only an id, so the first event after our write is taken as its echo. A change
made in the CRM after our write is still read. Against the fake CRMs over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from integrations.crm import engine
from programs.models import Lead
from tests.integrations.conftest import connect, make_fake
from tests.integrations.helpers import bulk_leads, crm_id_of, crm_key, deliver, new_lead, record
from tests.rewards.helpers import make_partner

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["amocrm", "bitrix24"])
def evented(request: pytest.FixtureRequest) -> Iterator[Any]:
    server = make_fake(request.param).start()
    yield server
    server.stop()


def test_events_about_our_own_writes_cost_no_read_while_a_crm_edit_is_read(
    in_acme,
    program,
    alice,
    enrollment,
    evented,
    run_crm_jobs,
    client_for,
    django_capture_on_commit_callbacks,
):
    fake = evented
    crm = connect(in_acme, fake, program)
    leads = [
        new_lead(
            django_capture_on_commit_callbacks,
            program,
            alice,
            name=f"Echo {i}",
            email=f"echo{i}@example.com",
        )
        for i in range(4)
    ]
    run_crm_jobs()
    ids = [crm_id_of(crm, lead) for lead in leads]

    def events(crm_ids: list[str], kind: str = "update") -> int:
        """Deliver each record's event and run the jobs: requests it cost the CRM."""
        before = len(fake.requests)
        for crm_id in crm_ids:
            deliver(fake, crm, crm_id, kind, client_for(None), django_capture_on_commit_callbacks)
        run_crm_jobs()
        return len(fake.requests) - before

    # The events of our creates.
    assert events(ids, "add") == 0
    # Our update (the lead is credited to another partner) and its event.
    bob = make_partner(in_acme, program, "BOB", display_name="Bob Brokers")
    Lead.objects.filter(pk=leads[0].pk).update(partner=bob)
    with django_capture_on_commit_callbacks(execute=True):
        engine.queue_leads(crm, [str(leads[0].pk)])
    run_crm_jobs()
    assert record(fake, ids[0])["fields"][crm_key(crm, "partner")] == "Bob Brokers"
    # amoCRM's event reports the update time our PATCH was answered with; Bitrix24's
    # update event reports nothing that tells ours from a person's: it is read.
    assert events(ids[:1]) == (0 if fake.provider == "amocrm" else 1)

    # People edit records in the CRM afterwards: those events are read and applied.
    fake.update_record(ids[1], email="echo1.new@example.com")
    assert events(ids[1:2]) >= 1
    fake.update_record(ids[0], email="echo0.new@example.com")
    if fake.provider == "amocrm":
        # amo's times have whole seconds and this test runs within one: the person's
        # edit lands in a later second than our PATCH, as after any human pause.
        fake.world.leads[int(ids[0])]["updated_at"] += 1
    assert events(ids[:1]) >= 1
    emails = set(
        Lead.objects.filter(pk__in=[leads[0].pk, leads[1].pk]).values_list("email", flat=True)
    )
    assert emails == {"echo0.new@example.com", "echo1.new@example.com"}


def test_many_events_are_read_together_and_one_arriving_meanwhile_is_not_lost(
    in_acme,
    program,
    alice,
    enrollment,
    run_crm_jobs,
    client_for,
    django_capture_on_commit_callbacks,
):
    """Events gather per connection and one job reads them through the CRM's batch
    reads: 60 Bitrix24 update events (which cannot tell our echo from a person's
    edit) used to cost 60 read requests."""
    from integrations.crm import event_queue

    fake = make_fake("bitrix24").start()
    try:
        crm = connect(in_acme, fake, program)
        bulk_leads(program, alice, 60, "many")
        with django_capture_on_commit_callbacks(execute=True):
            engine.queue_leads(crm, [str(i) for i in Lead.objects.values_list("pk", flat=True)])
        run_crm_jobs()
        ids = [crm_id_of(crm, lead) for lead in Lead.objects.order_by("email")]
        fake.update_record(ids[7], email="many7.new@example.com")  # one is a person's edit
        for crm_id in ids:
            deliver(
                fake, crm, crm_id, "update", client_for(None), django_capture_on_commit_callbacks
            )
        before = len(fake.requests)
        run_crm_jobs()
        assert len(fake.requests) - before <= 2  # 50 reads a request (was 60 requests)
        assert Lead.objects.filter(email="many7.new@example.com").exists()
        assert not event_queue.waiting(crm)

        # An event that comes while its record is being read is read again, not dropped.
        event_queue.add(crm, ["1", "2"], {})
        taken = event_queue.take(crm.pk, 10)
        event_queue.add(crm, ["2"], {"2": "later"})  # meanwhile
        assert event_queue.done(crm.pk, taken) == 1
        (left,) = event_queue.take(crm.pk, 10).items()
        assert left[0] == "2" and event_queue.report_of(left[1]) == ""  # two reports: unknown
    finally:
        fake.stop()
