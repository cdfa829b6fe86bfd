"""A contact HubSpot refuses while it takes the deal: the lead is synced (the deal
exists), the refusal is shown (the sync log, the lead's outbox row) and the contact's
values are not taken as agreed, so fixing the lead writes the contact."""

from __future__ import annotations

import pytest

from integrations.crm import engine, inbound
from integrations.models import CrmOutbox, CrmRecordLink, CrmSyncLog
from programs.models import Lead
from tests.integrations.conftest import connect
from tests.integrations.helpers import new_lead

pytestmark = pytest.mark.django_db


def test_a_refused_contact_is_reported_and_written_once_fixed(
    in_acme, hs, program, alice, enrollment, run_crm_jobs, django_capture_on_commit_callbacks
):
    fake = hs
    crm = connect(in_acme, fake, program)
    good = new_lead(django_capture_on_commit_callbacks, program, alice, email="ok@example.com")
    bad = new_lead(django_capture_on_commit_callbacks, program, alice, email="bad@example.com")
    # An address HubSpot refuses (it came in by an import that checked less).
    Lead.objects.filter(pk=bad.pk).update(email="bad.example.com")
    run_crm_jobs()

    rows = {r.lead_id: r for r in CrmOutbox.objects.filter(connection=crm)}
    assert rows[good.pk].state == rows[bad.pk].state == CrmOutbox.State.DONE
    assert rows[good.pk].last_error == ""
    assert "refused the contact" in rows[bad.pk].last_error
    log = CrmSyncLog.objects.filter(connection=crm, kind=CrmSyncLog.Kind.PUSH).latest("id")
    assert "refused the contact" in log.message
    assert len(fake.records()) == 2  # both deals
    assert [c["properties"]["email"] for c in fake.objects["contacts"].values()] == [
        "ok@example.com"
    ]
    link = CrmRecordLink.objects.get(connection=crm, lead=bad)
    assert "email" not in link.synced_values  # not agreed: HubSpot does not hold it
    # The next poll reads the new deal without a contact: that says nothing of the
    # person, so the lead keeps its e-mail (it is not taken as emptied in HubSpot).
    with django_capture_on_commit_callbacks(execute=True):
        inbound.poll(str(crm.pk))
    run_crm_jobs()
    assert Lead.objects.get(pk=bad.pk).email == "bad.example.com"

    Lead.objects.filter(pk=bad.pk).update(email="fixed@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        engine.queue_leads(crm, [str(bad.pk)])
    run_crm_jobs()
    row = CrmOutbox.objects.filter(connection=crm, lead=bad).latest("id")
    assert row.state == CrmOutbox.State.DONE and row.last_error == ""
    emails = sorted(c["properties"]["email"] for c in fake.objects["contacts"].values())
    assert emails == ["fixed@example.com", "ok@example.com"]
    assert (
        fake.contact_of(str(CrmRecordLink.objects.get(lead=bad).crm_id))["properties"]["email"]
        == "fixed@example.com"
    )
