"""A person edits the customer's phone on the amoCRM contact, not on the lead: amo bumps
the contact's updated_at and sends ``contacts[update]``, the lead stays as it was. The
change must still reach the PRM lead, by the webhook and by the reconciliation poll."""

from __future__ import annotations

import time

import pytest

from integrations.crm import inbound
from integrations.models import CrmConnection
from tests.integrations.conftest import connect
from tests.integrations.helpers import crm_id_of, new_lead

pytestmark = pytest.mark.django_db


def digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


@pytest.fixture
def pushed(in_acme, amo, program, alice, run_crm_jobs, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """acme's connection, and a lead pushed into amo whose lead record is then left an
    old updated_at (as if the deal was last touched 100 s ago)."""
    crm = connect(in_acme, amo, program)
    lead = new_lead(
        django_capture_on_commit_callbacks, program, alice, name="Petr", phone="+79001112233"
    )
    run_crm_jobs()
    crm_id = crm_id_of(crm, lead)
    with amo._lock:
        amo.world.leads[int(crm_id)]["updated_at"] -= 100
    return crm, lead, crm_id


def edit_phone(amo, crm_id: str, phone: str) -> None:  # type: ignore[no-untyped-def]
    before = amo.world.leads[int(crm_id)]["updated_at"]
    amo.update_record(crm_id, phone=phone)
    assert amo.world.leads[int(crm_id)]["updated_at"] == before  # the lead is untouched


def test_a_contact_event_brings_the_new_phone(
    pushed, amo, client_for, run_crm_jobs, django_capture_on_commit_callbacks
):
    crm, lead, crm_id = pushed
    edit_phone(amo, crm_id, "+79005550199")
    content_type, body = amo.contact_event_body(amo.contact_of(crm_id))
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(None).post(
            f"/hooks/crm/{crm.hook_secret}/", data=body, content_type=content_type
        )
    assert response.status_code == 200 and response.json()["records"] == 1
    run_crm_jobs()
    lead.refresh_from_db()
    assert digits(lead.phone) == "79005550199"


def test_reconciliation_polls_contacts_changed_since_the_cursor(pushed, amo):
    crm, lead, crm_id = pushed
    # Reconciled a few seconds ago: the lead's last change (100 s ago) is before it.
    CrmConnection.objects.filter(pk=crm.pk).update(poll_cursor=str(int(time.time()) - 5))
    edit_phone(amo, crm_id, "+79005550177")
    inbound.poll(str(crm.pk))
    lead.refresh_from_db()
    assert digits(lead.phone) == "79005550177"
    crm.refresh_from_db()
    assert int(crm.poll_cursor) >= amo.world.contacts[int(amo.contact_of(crm_id))]["updated_at"]


def test_a_lead_left_without_its_contact_keeps_the_persons_data(
    pushed, amo, client_for, run_crm_jobs, django_capture_on_commit_callbacks
):
    """A lead whose contact is removed in amoCRM (or was refused) says nothing of the
    person: its blank name and phone are not taken as edits emptying the PRM lead."""
    crm, lead, crm_id = pushed
    amo.unlink_contact(crm_id)
    content_type, body = amo.event_body(crm_id, "update")
    with django_capture_on_commit_callbacks(execute=True):
        client_for(None).post(
            f"/hooks/crm/{crm.hook_secret}/", data=body, content_type=content_type
        )
    run_crm_jobs()
    lead.refresh_from_db()
    assert lead.name == "Petr" and digits(lead.phone) == "79001112233"
