"""SPEC's CRM test checklist (seed 003), run against each fake CRM over real HTTP:
happy path, update, delete, duplicates, simultaneous change on both sides, recovery
after a network failure, volume, data types, empty required fields. Jobs run through a
real RQ worker; nothing of ours is mocked."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail

from integrations.crm import engine
from integrations.models import (
    CrmConflict,
    CrmConnection,
    CrmFieldMap,
    CrmOutbox,
    CrmRecordLink,
    CrmSyncLog,
)
from programs.models import Conversion, Lead, LeadEvent
from programs.services.leads import lead_add_note, lead_update_contact
from rewards.models import ExchangeRate, Reward
from tests.integrations.conftest import FAKES, MORE_FAKES, make_fake
from tests.integrations.helpers import (
    bulk_leads,
    crm_id_of,
    crm_key,
    deliver,
    live,
    new_lead,
    record,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[*FAKES, *MORE_FAKES])
def fake(request: pytest.FixtureRequest) -> Iterator[Any]:
    server = make_fake(request.param).start()
    try:
        yield server
    finally:
        server.stop()


def test_happy_path_lead_out_won_deal_back_as_conversion_and_reward(
    crm, fake, program, alice, run_crm_jobs, client_for, django_capture_on_commit_callbacks
):
    lead = new_lead(
        django_capture_on_commit_callbacks,
        program,
        alice,
        name="Ivan Petrov",
        email="ivan@example.ru",
        phone="+79001234567",
        company="ACME",
    )
    run_crm_jobs()

    [pushed] = live(fake)
    assert pushed["email"] == "ivan@example.ru"
    assert pushed["phone"].lstrip("+") == "79001234567"
    fields = pushed["fields"]
    assert fields[crm_key(crm, "partner")] == "Alice Agency"
    assert fields[crm_key(crm, "referral_code")] == "ALICE"
    assert fields[crm_key(crm, "promo_code")] == "ALICE10"
    assert fields[crm_key(crm, "program")] == "Pro plan"
    assert fields[crm_key(crm, "lead_id")] == str(lead.pk)
    assert crm_id_of(crm, lead) == str(pushed["id"])
    assert CrmOutbox.objects.get(lead=lead).state == CrmOutbox.State.DONE

    fake.move(str(pushed["id"]), "won", "1500")
    deliver(
        fake, crm, str(pushed["id"]), "status", client_for(None), django_capture_on_commit_callbacks
    )
    run_crm_jobs()

    conversion = Conversion.objects.get(external_id=f"crm-{crm.provider}-{pushed['id']}")
    assert conversion.partner == alice
    assert conversion.amount == Decimal("1500.00")
    lead.refresh_from_db()
    assert lead.status == Lead.Status.CONVERTED
    reward = Reward.objects.get(partner=alice)
    assert reward.amount == Decimal("150.00")  # the 10 % rule

    # The same event again (CRMs deliver at least once) pays nothing more.
    deliver(
        fake, crm, str(pushed["id"]), "status", client_for(None), django_capture_on_commit_callbacks
    )
    run_crm_jobs()
    assert Conversion.objects.filter(lead=lead).count() == 1
    assert Reward.objects.filter(partner=alice).count() == 1


def test_lost_deal_rejects_the_lead(
    crm, fake, program, alice, run_crm_jobs, client_for, django_capture_on_commit_callbacks
):
    lead = new_lead(django_capture_on_commit_callbacks, program, alice, email="lost@example.com")
    run_crm_jobs()
    crm_id = crm_id_of(crm, lead)
    fake.move(crm_id, "lost")
    deliver(fake, crm, crm_id, "status", client_for(None), django_capture_on_commit_callbacks)
    run_crm_jobs()
    lead.refresh_from_db()
    assert lead.status == Lead.Status.REJECTED
    assert not Conversion.objects.filter(lead=lead).exists()


def test_update_in_prm_reaches_the_crm_without_overwriting_crm_mastered_data(
    crm, fake, program, alice, run_crm_jobs, django_capture_on_commit_callbacks
):
    lead = new_lead(
        django_capture_on_commit_callbacks, program, alice, name="Olga", email="olga@example.com"
    )
    run_crm_jobs()
    crm_id = crm_id_of(crm, lead)
    # The CRM is master of contact data: a PRM edit of the name does not overwrite it,
    # but a phone the CRM does not have yet is filled in; notes merge.
    with django_capture_on_commit_callbacks(execute=True):
        lead_update_contact(
            tenant=crm.tenant,
            lead=lead,
            changes={"name": "Olga (typo)", "phone": "+7 900 111-22-33"},
            source="console",
        )
        lead_add_note(tenant=crm.tenant, lead=lead, text="Wants a demo on Friday", actor=None)
    run_crm_jobs()
    remote = record(fake, crm_id)
    assert "Olga (typo)" not in remote["title"]
    assert remote["phone"].lstrip("+") == "79001112233"
    assert "Wants a demo on Friday" in remote["fields"][crm_key(crm, "notes")]
    assert len(live(fake)) == 1


def test_update_in_crm_comes_back_to_the_lead(
    crm, fake, program, alice, run_crm_jobs, client_for, django_capture_on_commit_callbacks
):
    lead = new_lead(
        django_capture_on_commit_callbacks, program, alice, name="Petr", email="petr@example.com"
    )
    run_crm_jobs()
    crm_id = crm_id_of(crm, lead)
    fake.update_record(crm_id, email="petr.new@example.com")
    deliver(fake, crm, crm_id, "update", client_for(None), django_capture_on_commit_callbacks)
    run_crm_jobs()
    lead.refresh_from_db()
    assert lead.email == "petr.new@example.com"
    assert LeadEvent.objects.filter(lead=lead, text__contains="petr.new@example.com").exists()
    # Applying it did not echo a push back to the CRM.
    assert not CrmOutbox.objects.filter(lead=lead, state=CrmOutbox.State.PENDING).exists()


def test_delete_in_crm_keeps_the_lead_and_stops_pushing_it(
    crm, fake, program, alice, run_crm_jobs, client_for, django_capture_on_commit_callbacks
):
    lead = new_lead(django_capture_on_commit_callbacks, program, alice, email="gone@example.com")
    run_crm_jobs()
    crm_id = crm_id_of(crm, lead)
    fake.delete_record(crm_id)
    deliver(fake, crm, crm_id, "delete", client_for(None), django_capture_on_commit_callbacks)
    run_crm_jobs()
    link = CrmRecordLink.objects.get(connection=crm, lead=lead)
    assert link.deleted_in_crm
    assert LeadEvent.objects.filter(lead=lead, text__contains="deleted in the CRM").exists()
    with django_capture_on_commit_callbacks(execute=True):
        lead_add_note(tenant=crm.tenant, lead=lead, text="still here", actor=None)
    run_crm_jobs()
    assert live(fake) == []  # not re-created behind the tenant's back
    assert Lead.objects.filter(pk=lead.pk).exists()


def test_existing_crm_record_is_matched_not_duplicated(
    crm, fake, program, alice, run_crm_jobs, django_capture_on_commit_callbacks
):
    existing = fake.create_record("Maria from the CRM", email="maria@example.com")
    by_phone = fake.create_record("Phone only", phone="+79005550101")
    a = new_lead(django_capture_on_commit_callbacks, program, alice, email="Maria@Example.com")
    b = new_lead(django_capture_on_commit_callbacks, program, alice, phone="+7 900 555-01-01")
    run_crm_jobs()
    assert crm_id_of(crm, a) == str(existing)
    assert crm_id_of(crm, b) == str(by_phone)
    assert len(live(fake)) == 2
    # Pushing everything again (a retry, a full resync) creates nothing new.
    with django_capture_on_commit_callbacks(execute=True):
        engine.sync_all(crm)
    run_crm_jobs()
    assert len(live(fake)) == 2


def test_simultaneous_change_follows_each_fields_strategy(
    crm, fake, program, alice, run_crm_jobs, client_for, django_capture_on_commit_callbacks
):
    CrmFieldMap.objects.filter(connection=crm, prm_field="email").update(
        strategy=CrmFieldMap.Strategy.MANUAL
    )
    lead = new_lead(
        django_capture_on_commit_callbacks,
        program,
        alice,
        name="Both Sides",
        email="both@example.com",
        company="Old Co",
    )
    run_crm_jobs()
    crm_id = crm_id_of(crm, lead)
    # Both sides change e-mail (manual) and name (source of truth: the CRM).
    fake.update_record(
        crm_id, **{crm_key(crm, "email"): "crm-side@example.com", crm_key(crm, "name"): "CRM Name"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        lead_update_contact(
            tenant=crm.tenant,
            lead=lead,
            changes={"email": "prm-side@example.com", "name": "PRM Name"},
            source="console",
        )
    deliver(fake, crm, crm_id, "update", client_for(None), django_capture_on_commit_callbacks)
    run_crm_jobs()
    lead.refresh_from_db()
    conflict = CrmConflict.objects.get(lead=lead, prm_field="email")
    assert (conflict.prm_value, conflict.crm_value) == (
        "prm-side@example.com",
        "crm-side@example.com",
    )
    assert lead.email == "prm-side@example.com"  # untouched until a person decides
    assert lead.name == "CRM Name"  # the CRM is the name's master: its value wins
    assert CrmSyncLog.objects.filter(connection=crm, conflicts__gt=0).exists()


def test_network_failure_is_retried_with_backoff_and_nothing_duplicates(
    crm, fake, program, alice, run_crm_jobs, django_capture_on_commit_callbacks
):
    fake.inject("drop", times=1)
    fake.inject("timeout", times=1)
    fake.inject("500", times=2)
    leads = [
        new_lead(django_capture_on_commit_callbacks, program, alice, email=f"n{i}@example.com")
        for i in range(3)
    ]
    run_crm_jobs()
    # The job waits out short backoffs itself; run again for anything scheduled later.
    for _ in range(5):
        if not CrmOutbox.objects.filter(state=CrmOutbox.State.PENDING).exists():
            break
        with django_capture_on_commit_callbacks(execute=True):
            engine.start_push(crm)
        run_crm_jobs()
    assert {o.state for o in CrmOutbox.objects.filter(lead__in=leads)} == {CrmOutbox.State.DONE}
    assert len(live(fake)) == 3
    assert CrmRecordLink.objects.filter(connection=crm).count() == 3


def test_records_that_keep_failing_go_to_the_dead_letter_list_and_can_be_retried(
    crm, fake, program, alice, run_crm_jobs, django_capture_on_commit_callbacks, settings
):
    settings.PRM_CRM_MAX_ATTEMPTS = 2
    fake.inject("500", times=1000)
    lead = new_lead(django_capture_on_commit_callbacks, program, alice, email="dead@example.com")
    run_crm_jobs()
    row = CrmOutbox.objects.get(lead=lead)
    assert row.state == CrmOutbox.State.DEAD
    assert row.attempts == 2
    fake.inject("500", times=0)
    with django_capture_on_commit_callbacks(execute=True):
        engine.retry_dead(crm)
    run_crm_jobs()
    assert CrmOutbox.objects.get(lead=lead).state == CrmOutbox.State.DONE
    assert len(live(fake)) == 1


def test_revoked_credentials_break_the_connection_once_and_alert(
    crm, fake, program, alice, admin, run_crm_jobs, django_capture_on_commit_callbacks
):
    fake.revoke()
    new_lead(django_capture_on_commit_callbacks, program, alice, email="auth@example.com")
    requests_before = len(fake.requests)
    run_crm_jobs()
    crm.refresh_from_db()
    assert crm.status == CrmConnection.Status.BROKEN
    assert len(fake.requests) - requests_before <= 4  # one refresh at most, no loop
    assert CrmOutbox.objects.get().state == CrmOutbox.State.PENDING  # kept for later
    assert any("attention" in m.subject for m in mail.outbox)
    assert admin.email in mail.outbox[-1].to


def test_special_characters_long_text_and_money(
    crm, fake, program, alice, run_crm_jobs, client_for, django_capture_on_commit_callbacks
):
    name = "Анна-Мария «O'Brien» & <Söhne> 🚀"
    long_note = ('Строка с "кавычками", \\slashes/ и переносом.\n' * 120)[:5000]
    lead = new_lead(
        django_capture_on_commit_callbacks,
        program,
        alice,
        name=name,
        email="anna@example.com",
        company="ООО «Ромашка»",
    )
    with django_capture_on_commit_callbacks(execute=True):
        lead_add_note(tenant=crm.tenant, lead=lead, text=long_note, actor=None)
    run_crm_jobs()
    remote = record(fake, crm_id_of(crm, lead))
    assert name in remote["title"] or remote["fields"].get(crm_key(crm, "name")) == name
    assert remote["fields"][crm_key(crm, "notes")].strip() == long_note.strip()
    # The CRM keeps its deals in euros; the program pays in dollars at the day's rate.
    crm.settings = {**crm.settings, "currency": "EUR"}
    crm.save()
    ExchangeRate.objects.create(
        tenant=crm.tenant,
        base="EUR",
        quote="USD",
        rate=Decimal("1.25"),
        valid_from=date(2020, 1, 1),
    )
    crm_id = crm_id_of(crm, lead)
    fake.move(crm_id, "won", "98765")
    deliver(fake, crm, crm_id, "status", client_for(None), django_capture_on_commit_callbacks)
    run_crm_jobs()
    conversion = Conversion.objects.get(lead=lead)
    # A CRM that keeps a currency per deal (Bitrix24) is believed over the setting.
    assert conversion.amount == Decimal("98765.00")
    reward = Reward.objects.get(conversion=conversion)
    expected = {"EUR": Decimal("12345.62"), "USD": Decimal("9876.50")}  # 10 %, × 1.25
    assert (reward.amount, reward.currency) == (expected[conversion.currency], "USD")


# bench/crm.py pushes 10,000 leads per CRM; the suite runs the same path with enough
# leads for dozens of full chunks (PRM_TEST_CRM_VOLUME=10000 for the full figure).
VOLUME = int(os.environ.get("PRM_TEST_CRM_VOLUME", "2000"))


def test_volume_no_duplicates_no_losses(
    crm, fake, program, alice, run_crm_jobs, django_capture_on_commit_callbacks
):
    bulk_leads(program, alice, VOLUME, "bulk")
    with django_capture_on_commit_callbacks(execute=True):
        queued = engine.sync_all(crm)
    assert queued == VOLUME
    run_crm_jobs()
    pushed = live(fake)
    assert len(pushed) == VOLUME
    assert len({r["email"] for r in pushed}) == VOLUME
    assert CrmRecordLink.objects.filter(connection=crm).count() == VOLUME
    assert not CrmOutbox.objects.exclude(state=CrmOutbox.State.DONE).exists()


def test_empty_required_fields_do_not_break_the_sync(
    crm, fake, program, alice, run_crm_jobs, django_capture_on_commit_callbacks
):
    # No name, no company: only an external id. The connector fills the CRM's required
    # fields with a marked placeholder or, if the CRM still refuses, the record lands in
    # the dead-letter list with the CRM's message; either way nothing else stops.
    lonely = new_lead(django_capture_on_commit_callbacks, program, alice, external_id="X-1")
    fine = new_lead(django_capture_on_commit_callbacks, program, alice, email="fine@example.com")
    run_crm_jobs()
    assert CrmOutbox.objects.get(lead=fine).state == CrmOutbox.State.DONE
    row = CrmOutbox.objects.get(lead=lonely)
    assert row.state in (CrmOutbox.State.DONE, CrmOutbox.State.SKIPPED)
    if row.state == CrmOutbox.State.SKIPPED:
        assert row.last_error
    assert CrmOutbox.objects.filter(state=CrmOutbox.State.PENDING).count() == 0


def test_a_missed_event_is_caught_by_the_scheduled_reconciliation(
    crm, fake, program, alice, run_crm_jobs, django_capture_on_commit_callbacks
):
    from integrations.crm import schedule

    lead = new_lead(django_capture_on_commit_callbacks, program, alice, email="miss@example.com")
    run_crm_jobs()
    crm_id = crm_id_of(crm, lead)
    fake.move(crm_id, "won", "700")  # and no event reaches us (Bitrix24 never retries)
    with django_capture_on_commit_callbacks(execute=True):
        assert schedule.tick() >= 1
    run_crm_jobs()
    conversion = Conversion.objects.get(lead=lead)
    assert conversion.amount == Decimal("700.00")
    crm.refresh_from_db()
    assert crm.reconciled_at is not None and crm.poll_cursor
    # Within the interval the next tick leaves the CRM alone.
    with django_capture_on_commit_callbacks(execute=True):
        assert schedule.tick() == 0


def test_a_deal_created_in_the_crm_with_a_referral_code_becomes_the_partners_lead(
    crm, fake, program, alice, run_crm_jobs, client_for, django_capture_on_commit_callbacks
):
    crm_id = fake.create_record(
        "Walk-in from the CRM",
        email="walkin@example.com",
        fields={crm_key(crm, "referral_code"): "ALICE"},
    )
    unrelated = fake.create_record("Not a partner deal", email="other@example.com")
    # Another system's (or workspace's) code in a shared CRM: not a lead of ours.
    foreign = fake.create_record(
        "Someone else's",
        email="foreign@example.com",
        fields={crm_key(crm, "referral_code"): "THEIRS7"},
    )
    for made in (crm_id, unrelated, foreign):
        deliver(
            fake, crm, str(made), "update", client_for(None), django_capture_on_commit_callbacks
        )
    run_crm_jobs()
    lead = Lead.objects.get(email="walkin@example.com")
    assert (lead.partner, lead.source, lead.program) == (alice, Lead.Source.CRM, program)
    assert crm_id_of(crm, lead) == str(crm_id)
    assert not Lead.objects.filter(email__in=["other@example.com", "foreign@example.com"]).exists()
    # Unless the workspace asks for them (the connection form's setting): then credited to nobody.
    crm.settings = {**crm.settings, "import_unknown_codes": True}
    crm.save(update_fields=["settings"])
    fake.update_record(str(foreign), title="Someone else's, edited")  # seen again by a poll too
    deliver(fake, crm, str(foreign), "update", client_for(None), django_capture_on_commit_callbacks)
    run_crm_jobs()
    assert Lead.objects.get(email="foreign@example.com").partner is None


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"\xff\xfe\x00garbage", "application/x-www-form-urlencoded"),
        (b'{"not": "an event"}', "application/json"),
        (b"<soapenv:Envelope><broken", "text/xml"),
        (b"", "application/x-www-form-urlencoded"),
    ],
)
def test_garbage_at_the_event_url_gets_a_json_4xx_and_changes_nothing(
    crm, fake, client_for, body, content_type
):
    before = Lead.objects.count(), CrmRecordLink.objects.count()
    response = client_for(None).post(
        f"/hooks/crm/{crm.hook_secret}/", data=body, content_type=content_type
    )
    assert response.status_code in (200, 400, 403), response.content
    assert "error" in response.json() or response.json().get("records") == 0
    assert (Lead.objects.count(), CrmRecordLink.objects.count()) == before


def test_a_permanent_read_error_is_logged_and_not_raised_for_a_retry(crm, fake):
    """A 404 (or any refusal of the CRM's own) on a read: a retry gets the same answer,
    so the job logs it for the status page and ends, instead of raising into RQ's
    retries with no trace in the sync log."""
    from integrations.crm import inbound

    fake.inject("404")
    assert inbound.poll(str(crm.pk)) == 0
    failed = CrmSyncLog.objects.filter(connection=crm, failed=1).get()
    assert failed.message
    # The next poll reads again normally.
    inbound.poll(str(crm.pk))
    assert CrmSyncLog.objects.filter(connection=crm, failed=0).exists()


def test_a_status_changed_here_moves_the_deal_and_a_crm_move_comes_back(
    crm, fake, program, alice, run_crm_jobs, client_for, django_capture_on_commit_callbacks
):
    """Stages both ways (integrations/crm/stages.py): a status changed in PRM moves the
    deal to the stage that means it; the CRM's echo of that move changes nothing; a move
    in the CRM sets the lead's status; with the status map "CRM → PRM" only, a status
    changed here leaves the deal where it is."""
    from integrations.models import CrmStageMap
    from programs.services.leads import lead_set_status

    lead = new_lead(django_capture_on_commit_callbacks, program, alice, email="stage@example.com")
    run_crm_jobs()
    crm_id = crm_id_of(crm, lead)
    pipeline, first = record(fake, crm_id)["stage"]
    target = (
        CrmStageMap.objects.filter(connection=crm, pipeline_id=pipeline, semantic="open")
        .exclude(stage_id=first)
        .first()
    )
    target.lead_status = Lead.Status.QUALIFIED
    target.save()

    def set_status(status: str) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            lead_set_status(tenant=crm.tenant, lead=lead, status=status, actor=None)
        run_crm_jobs()

    set_status(Lead.Status.QUALIFIED)
    assert record(fake, crm_id)["stage"] == (pipeline, target.stage_id)
    deliver(fake, crm, crm_id, "status", client_for(None), django_capture_on_commit_callbacks)
    run_crm_jobs()
    lead.refresh_from_db()
    assert lead.status == Lead.Status.QUALIFIED
    assert not CrmConflict.objects.filter(lead=lead).exists()

    fake.move(crm_id, "lost")
    deliver(fake, crm, crm_id, "status", client_for(None), django_capture_on_commit_callbacks)
    run_crm_jobs()
    lead.refresh_from_db()
    assert lead.status == Lead.Status.REJECTED
    lost = record(fake, crm_id)["stage"]

    CrmFieldMap.objects.filter(connection=crm, prm_field="status").update(
        direction=CrmFieldMap.Direction.FROM_CRM
    )
    set_status(Lead.Status.QUALIFIED)
    assert record(fake, crm_id)["stage"] == lost
    assert len(live(fake)) == 1


def test_last_write_wins_lets_a_newer_prm_value_reach_a_crm_mastered_field(
    crm, fake, program, alice, run_crm_jobs, client_for, django_capture_on_commit_callbacks
):
    """Company: the CRM is its master, the last write wins (the defaults). A company
    changed here is the newer value: it is written to the CRM, and the CRM's echo of
    that write (it also carries our note) brings nothing back; a later change in the CRM
    is the newer one and comes here."""
    lead = new_lead(
        django_capture_on_commit_callbacks,
        program,
        alice,
        name="Lena",
        email="lena@example.com",
        company="Old Co",
    )
    run_crm_jobs()
    crm_id = crm_id_of(crm, lead)
    company = crm_key(crm, "company")
    with django_capture_on_commit_callbacks(execute=True):
        lead_update_contact(
            tenant=crm.tenant, lead=lead, changes={"company": "New Co"}, source="console"
        )
        lead_add_note(tenant=crm.tenant, lead=lead, text="Moved offices", actor=None)
    run_crm_jobs()
    remote = record(fake, crm_id)
    assert (remote["fields"].get(company) or remote.get(company)) == "New Co"
    deliver(fake, crm, crm_id, "update", client_for(None), django_capture_on_commit_callbacks)
    run_crm_jobs()
    lead.refresh_from_db()
    assert lead.company == "New Co"
    assert not CrmConflict.objects.filter(lead=lead).exists()

    fake.update_record(crm_id, **{company: "CRM Co"})
    deliver(fake, crm, crm_id, "update", client_for(None), django_capture_on_commit_callbacks)
    run_crm_jobs()
    lead.refresh_from_db()
    assert lead.company == "CRM Co"
