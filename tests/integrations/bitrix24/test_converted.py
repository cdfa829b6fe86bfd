"""A Bitrix24 lead converted into a deal: the conversion itself is no sale; the deal
made from it (LEAD_ID) is followed, by its events and by reconciliation, and its win
with an amount is the lead's conversion (once), its loss the lead's rejection."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from integrations.crm import engine
from integrations.crm.schedule import POLL_JOB
from programs.models import Conversion, Lead
from rewards.models import ExchangeRate, Reward
from tests.integrations.helpers import crm_id_of, deliver, new_lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def rub(crm: Any) -> None:
    """The program pays in USD; the portal's deals are in roubles."""
    ExchangeRate.objects.create(
        tenant=crm.tenant,
        base="RUB",
        quote="USD",
        rate=Decimal("0.01"),
        valid_from=date(2020, 1, 1),
    )


def post_deal_event(fake: Any, crm: Any, deal_id: str, client: Any, capture: Any) -> None:
    content_type, body = fake.event_body(deal_id, "update", entity="deal")
    with capture(execute=True):
        response = client.post(
            f"/hooks/crm/{crm.hook_secret}/", data=body, content_type=content_type
        )
    assert response.status_code == 200, response.content
    assert response.json()["records"] == 1


def pushed_lead(capture: Any, program: Any, alice: Any, run: Any, email: str) -> Lead:
    lead = new_lead(capture, program, alice, name="Ivan", email=email)
    run()
    return lead


def test_a_converted_lead_is_no_sale_until_its_deal_is_won_once(
    crm, fake, rub, program, alice, run_crm_jobs, client_for, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    lead = pushed_lead(capture, program, alice, run_crm_jobs, "conv@example.com")
    crm_id = crm_id_of(crm, lead)

    deal_id = fake.convert(crm_id)
    assert fake.tables["deal"].rows[int(deal_id)]["LEAD_ID"] == crm_id
    assert fake.tables["lead"].rows[int(crm_id)]["STATUS_SEMANTIC_ID"] == "S"
    deliver(fake, crm, crm_id, "update", client_for(None), capture)
    post_deal_event(fake, crm, deal_id, client_for(None), capture)  # ONCRMDEALADD's kin
    run_crm_jobs()
    lead.refresh_from_db()
    assert not Conversion.objects.filter(program=program).exists()
    assert lead.status != Lead.Status.CONVERTED

    fake.move_deal(deal_id, "won", "1500", "RUB")
    for _ in range(2):  # Bitrix24 may tell twice; a won deal pays once
        post_deal_event(fake, crm, deal_id, client_for(None), capture)
        run_crm_jobs()

    conversion = Conversion.objects.get(program=program)
    assert (conversion.amount, conversion.currency) == (Decimal("1500.00"), "RUB")
    assert conversion.external_id == f"crm-bitrix24-{crm_id}"
    assert conversion.partner == alice and conversion.lead == lead
    reward = Reward.objects.get(conversion=conversion)
    assert (reward.amount, reward.currency) == (Decimal("1.50"), "USD")  # 10 % × 0.01
    lead.refresh_from_db()
    assert lead.status == Lead.Status.CONVERTED


def test_the_reconciliation_poll_reads_the_deal_won_without_an_event(
    crm, fake, rub, program, alice, run_crm_jobs, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    lead = pushed_lead(capture, program, alice, run_crm_jobs, "poll@example.com")
    lost = pushed_lead(capture, program, alice, run_crm_jobs, "lost@example.com")
    deal_id = fake.convert(crm_id_of(crm, lead))
    lost_deal = fake.convert(crm_id_of(crm, lost))

    def poll() -> None:
        with capture(execute=True):
            engine.start_job(POLL_JOB, crm)
        run_crm_jobs()

    poll()  # sees both leads converted: nothing to record yet
    assert not Conversion.objects.filter(program=program).exists()
    before = fake.tables["lead"].rows[int(crm_id_of(crm, lead))]["DATE_MODIFY"]
    fake.later()  # DATE_MODIFY has whole seconds: the changes come after the poll's
    fake.move_deal(deal_id, "won", "1500", "RUB")  # the lead itself is not touched
    fake.move_deal(lost_deal, "lost")
    assert fake.tables["lead"].rows[int(crm_id_of(crm, lead))]["DATE_MODIFY"] == before
    poll()
    fake.later()
    fake.move_deal(deal_id, "won", "1500", "RUB")  # won again: a repeat change
    poll()

    conversion = Conversion.objects.get(program=program)
    assert (conversion.lead, conversion.amount, conversion.currency) == (
        lead,
        Decimal("1500.00"),
        "RUB",
    )
    assert Reward.objects.filter(conversion=conversion).count() == 1
    lost.refresh_from_db()
    assert lost.status == Lead.Status.REJECTED
    crm.refresh_from_db()
    assert ";deal=" in crm.poll_cursor


def test_a_status_changed_here_moves_a_converted_leads_deal_not_the_lead(
    crm, fake, program, alice, run_crm_jobs, client_for, django_capture_on_commit_callbacks
):
    from programs.services.leads import lead_set_status

    capture = django_capture_on_commit_callbacks
    lead = pushed_lead(capture, program, alice, run_crm_jobs, "move@example.com")
    other = pushed_lead(capture, program, alice, run_crm_jobs, "junk@example.com")
    crm_id = crm_id_of(crm, lead)
    deal_id = fake.convert(crm_id)
    deliver(fake, crm, crm_id, "update", client_for(None), capture)
    run_crm_jobs()

    with capture(execute=True):
        lead_set_status(tenant=crm.tenant, lead=lead, status=Lead.Status.REJECTED, actor=None)
        lead_set_status(tenant=crm.tenant, lead=other, status=Lead.Status.REJECTED, actor=None)
    run_crm_jobs()

    assert fake.tables["deal"].rows[int(deal_id)]["STAGE_SEMANTIC_ID"] == "F"
    assert fake.tables["lead"].rows[int(crm_id)]["STATUS_ID"] == "CONVERTED"
    assert fake.tables["lead"].rows[int(crm_id_of(crm, other))]["STATUS_ID"] == "JUNK"


def test_deal_events_name_the_deal_and_are_read_back_as_its_lead(fake, connect) -> None:
    connector = connect(fake)
    lead_id = fake.create_record("Lead", email="a@example.com")
    deal_id = fake.convert(lead_id)
    fake.entity = "deal"  # a deal made by hand, from no lead
    walk_in = fake.create_record("Walk-in deal", email="w@example.com")
    fake.entity = "lead"
    content_type, body = fake.event_body(deal_id, "add", entity="deal")

    assert connector.parse_event(body, content_type) == [f"deal:{deal_id}"]
    records = connector.fetch([f"deal:{deal_id}", f"deal:{walk_in}"])
    assert [(r.crm_id, r.semantic, r.deleted) for r in records] == [(lead_id, "open", False)]
    assert (records[0].pipeline_id, records[0].stage_id) == ("DEAL:0", "NEW")


def test_an_oauth_lead_connection_binds_the_deal_events_too(oauth_fake, connect) -> None:
    assert connect(oauth_fake).subscribe_events("https://prm.example/hooks/crm/x/") is True

    assert {"ONCRMDEALADD", "ONCRMDEALUPDATE"} <= set(oauth_fake.handlers)
    assert "ONCRMDEALDELETE" not in oauth_fake.handlers


def test_a_cursor_from_before_deals_were_followed_reads_deals_from_its_moment(
    fake, connect
) -> None:
    connector = connect(fake)
    lead_id = fake.create_record("Lead", email="c@example.com")
    deal_id = fake.convert(lead_id)
    records, cursor = connector.changes_since("")
    old_cursor = cursor.partition(";deal=")[0]  # "<DATE_MODIFY>|<ID>" of leads only
    fake.later()
    fake.move_deal(deal_id, "won", "700", "RUB")

    records, cursor = connector.changes_since(old_cursor)

    assert [(r.crm_id, r.semantic, r.amount) for r in records] == [
        (lead_id, "won", Decimal("700.00"))
    ]
    assert connector.changes_since(cursor)[0] == []


def test_old_zero_conversions_of_converted_leads_take_their_deals_amount_once(
    crm, fake, rub, program, alice, run_crm_jobs, django_capture_on_commit_callbacks
):
    """Before deals were followed, a converted lead was recorded as a 0.00 sale and its
    deal's win never read: the scheduler's one-time re-read gives it the deal's amount
    and its reward; a conversion already carrying an amount is left alone."""
    from django.utils import timezone

    from integrations.crm.schedule import tick
    from integrations.crm.zero_wins import FLAG, RECHECK_JOB
    from prm.models import Job
    from programs.services.conversions import ConversionInput, conversion_record

    capture = django_capture_on_commit_callbacks
    lead = pushed_lead(capture, program, alice, run_crm_jobs, "old@example.com")
    crm_id = crm_id_of(crm, lead)
    deal_id = fake.convert(crm_id)
    with capture(execute=True):  # what the old code recorded
        old, _ = conversion_record(
            tenant=crm.tenant,
            program=program,
            data=ConversionInput(
                external_id=f"crm-bitrix24-{crm_id}",
                amount=Decimal("0.00"),
                currency="RUB",
                customer_email="old@example.com",
            ),
        )
    run_crm_jobs()
    fake.move_deal(deal_id, "won", "2000", "RUB")  # its event long lost
    type(crm).objects.filter(pk=crm.pk).update(reconciled_at=timezone.now())
    with capture(execute=True):
        tick()
    run_crm_jobs()
    old.refresh_from_db()
    assert (old.amount, old.currency) == (Decimal("2000.00"), "RUB")
    assert Reward.objects.get(conversion=old).amount == Decimal("2.00")
    assert Conversion.objects.filter(program=program).count() == 1
    crm.refresh_from_db()
    assert crm.settings[FLAG] is True
    with capture(execute=True):
        tick()
    assert not Job.objects.filter(func=RECHECK_JOB, status=Job.Status.QUEUED).exists()
