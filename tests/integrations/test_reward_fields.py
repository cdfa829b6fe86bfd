""""Reward on this lead" fields (issue 16, point 6), against each fake CRM over real
HTTP: a reward accrued on the lead's won deal is written to the deal's custom fields,
and its approval and rejection follow it, through the outbox and a real worker."""

from __future__ import annotations

from decimal import Decimal

import pytest

from integrations.models import CrmFieldMap
from programs.models import Conversion
from rewards.models import Reward
from rewards.services.approvals import reward_approve, reward_reject
from tests.integrations.helpers import crm_id_of, crm_key, deliver, new_lead, record

pytestmark = pytest.mark.django_db


def deal_fields(fake, crm_id):
    """The deal's fields: the record itself, or for Salesforce the Opportunity a
    converted Lead became (a converted Lead is read-only)."""
    fields = record(fake, crm_id)["fields"]
    if fake.provider != "salesforce":
        return fields
    lead = fake.objects["Lead"][crm_id]
    opportunity = fake.objects["Opportunity"].get(lead.get("ConvertedOpportunityId") or "")
    return opportunity if opportunity is not None else fields


def test_reward_fields_follow_the_reward_on_the_leads_deal(
    crm, fake, program, alice, run_crm_jobs, client_for, django_capture_on_commit_callbacks
):
    # Mapped automatically by label, PRM → CRM only.
    maps = CrmFieldMap.objects.filter(connection=crm, prm_field__startswith="reward_")
    assert {m.prm_field: bool(m.crm_field) for m in maps} == {
        "reward_amount": True,
        "reward_currency": True,
        "reward_status": True,
    }
    assert {m.direction for m in maps} == {CrmFieldMap.Direction.TO_CRM}
    lead = new_lead(django_capture_on_commit_callbacks, program, alice, email="rw@example.com")
    run_crm_jobs()
    crm_id = crm_id_of(crm, lead)
    assert not record(fake, crm_id)["fields"].get(crm_key(crm, "reward_amount"))

    fake.move(crm_id, "won", "1500")
    deliver(fake, crm, crm_id, "status", client_for(None), django_capture_on_commit_callbacks)
    run_crm_jobs()
    assert Conversion.objects.filter(lead=lead).exists()
    reward = Reward.objects.get(partner=alice)
    fields = deal_fields(fake, crm_id)
    assert fields[crm_key(crm, "reward_amount")] == "150.00"
    assert fields[crm_key(crm, "reward_currency")] == "USD"
    assert fields[crm_key(crm, "reward_status")] == "pending"

    with django_capture_on_commit_callbacks(execute=True):
        reward_approve(reward=reward)
    run_crm_jobs()
    fields = deal_fields(fake, crm_id)
    assert fields[crm_key(crm, "reward_status")] == "approved"
    assert fields[crm_key(crm, "reward_amount")] == "150.00"
