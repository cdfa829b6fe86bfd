""" "Reward on this lead" fields (issue 16, point 6), against each fake CRM over real
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


def test_the_partners_balances_reach_every_one_of_their_deals(
    crm, fake, program, alice, run_crm_jobs, client_for, django_capture_on_commit_callbacks
):
    """Optional fields, mapped here by label: the lead's partner's rewards on hold,
    approved and paid, per currency, written on each of the partner's CRM records when
    any movement of the partner's ledger changes them."""
    names = ("partner_accrued", "partner_approved", "partner_paid")
    assert all(crm_key(crm, name) for name in names)
    won = new_lead(django_capture_on_commit_callbacks, program, alice, email="bal1@example.com")
    other = new_lead(django_capture_on_commit_callbacks, program, alice, email="bal2@example.com")
    run_crm_jobs()
    won_id, other_id = crm_id_of(crm, won), crm_id_of(crm, other)
    assert not record(fake, other_id)["fields"].get(crm_key(crm, "partner_accrued"))

    fake.move(won_id, "won", "1500")
    deliver(fake, crm, won_id, "status", client_for(None), django_capture_on_commit_callbacks)
    run_crm_jobs()
    for fields in (deal_fields(fake, won_id), record(fake, other_id)["fields"]):
        assert fields[crm_key(crm, "partner_accrued")] == "150.00 USD"
        assert fields[crm_key(crm, "partner_approved")] == "0.00 USD"

    with django_capture_on_commit_callbacks(execute=True):
        reward_approve(reward=Reward.objects.get(partner=alice))
    run_crm_jobs()
    fields = record(fake, other_id)["fields"]
    assert fields[crm_key(crm, "partner_accrued")] == "0.00 USD"
    assert fields[crm_key(crm, "partner_approved")] == "150.00 USD"
    assert fields[crm_key(crm, "partner_paid")] == "0.00 USD"


@pytest.mark.parametrize("fake", ["amocrm"], indirect=True)
def test_console_maps_reward_fields_and_refuses_a_pull(crm, fake, admin, client_for):
    row = CrmFieldMap.objects.get(connection=crm, prm_field="reward_status")
    maps = list(CrmFieldMap.objects.filter(connection=crm))
    data = {}
    for m in maps:
        data |= {
            f"f{m.pk}-crm_field": m.crm_field,
            f"f{m.pk}-direction": m.direction,
            f"f{m.pk}-master": m.master,
            f"f{m.pk}-strategy": m.strategy,
        }
    other = crm_key(crm, "reward_amount")
    url = f"/manage/integrations/{crm.provider}/fields/"
    client = client_for(admin)
    page = client.get(url)
    assert page.status_code == 200 and "Reward on this lead: status" in page.content.decode()

    bad = client.post(url, data | {f"f{row.pk}-direction": CrmFieldMap.Direction.BOTH})
    assert bad.status_code == 200
    assert "Reward fields are written to the CRM only." in bad.content.decode()
    unknown = client.post(url, data | {f"f{row.pk}-crm_field": "cf:nope"})
    assert unknown.status_code == 200
    row.refresh_from_db()
    assert row.direction == CrmFieldMap.Direction.TO_CRM and row.crm_field != other

    saved = client.post(url, data | {f"f{row.pk}-crm_field": other})
    assert saved.status_code == 302
    row.refresh_from_db()
    assert row.crm_field == other


@pytest.mark.parametrize("fake", ["amocrm"], indirect=True)
def test_a_bulk_approval_pushes_every_leads_reward_in_lowered_batches(
    crm, fake, program, alice, run_crm_jobs, django_capture_on_commit_callbacks, monkeypatch
):
    from integrations.crm.amocrm import sync as amo_sync
    from rewards.models import RewardRule
    from rewards.services.approvals import approve_batch
    from tests.rewards.helpers import rule

    monkeypatch.setattr(amo_sync, "WRITE_BATCH", 5)  # 12 leads: writes of 5, 5 and 2
    rule(program, event=RewardRule.Event.LEAD, kind=RewardRule.Kind.FIXED, value=Decimal("7"))
    leads = [
        new_lead(django_capture_on_commit_callbacks, program, alice, email=f"b{n}@example.com")
        for n in range(12)
    ]
    run_crm_jobs()  # pushes the leads, accrues their rewards, pushes those
    status = crm_key(crm, "reward_status")
    rewards = list(Reward.objects.filter(lead__in=leads))
    assert len(rewards) == 12
    assert {record(fake, crm_id_of(crm, lead))["fields"][status] for lead in leads} == {"pending"}
    sent = len(fake.requests)

    with django_capture_on_commit_callbacks(execute=True):
        ids = [r.pk for r in rewards]
        assert approve_batch(tenant=crm.tenant, reward_ids=ids, scored_only=False) == 12
    run_crm_jobs()
    for lead in leads:
        fields = record(fake, crm_id_of(crm, lead))["fields"]
        assert (fields[status], fields[crm_key(crm, "reward_amount")]) == ("approved", "7.00")
    writes = [r for r in fake.requests[sent:] if r.method == "PATCH" and r.path.endswith("/leads")]
    # Sent side by side (amoCRM's pipeline): the batches may arrive in any order.
    assert sorted((len(r.body) for r in writes), reverse=True) == [5, 5, 2]


def test_a_rejected_reward_reads_rejected_with_no_amount(
    in_acme, program, alice, django_capture_on_commit_callbacks
):
    from integrations.crm.reward_values import reward_values_for
    from rewards.models import RewardRule
    from rewards.services.accrual import accrue_lead
    from tests.rewards.helpers import rule

    rule(program, event=RewardRule.Event.LEAD, kind=RewardRule.Kind.FIXED, value=Decimal("7"))
    lead = new_lead(django_capture_on_commit_callbacks, program, alice, email="rj@example.com")
    [reward] = accrue_lead(lead_id=str(lead.pk)) or Reward.objects.filter(lead=lead)
    every = {"reward_amount", "reward_currency", "reward_status"}
    assert reward_values_for([lead.pk], every)[str(lead.pk)] == {
        "reward_amount": "7.00",
        "reward_currency": "USD",
        "reward_status": "pending",
    }
    reward_reject(reward=reward, actor=None, reason="duplicate")
    assert reward_values_for([lead.pk], every)[str(lead.pk)] == {
        "reward_amount": "",
        "reward_currency": "",
        "reward_status": "rejected",
    }
