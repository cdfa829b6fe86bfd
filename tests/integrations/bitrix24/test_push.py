"""Pushing PRM leads: batches, matching before create, partial failures, trouble."""

from __future__ import annotations

from integrations.crm.base import CrmRecord
from tests.integrations.bitrix24.conftest import lead


def _writes(fake) -> list:
    return [
        r
        for r in fake.calls("batch")
        if any(".add?" in c or ".update?" in c for c in r.params["cmd"].values())
    ]


def test_it_creates_in_batches_of_fifty_after_one_lookup(fake, connect) -> None:
    results = connect(fake).push([lead(n) for n in range(120)])

    assert all(r.ok and not r.matched for r in results)
    assert [r.key for r in results] == [f"lead-{n}" for n in range(120)]
    assert len(fake.calls("batch")) == 1 + 3  # one matching request, 50 + 50 + 20 creates
    assert [len(r.params["cmd"]) for r in _writes(fake)] == [50, 50, 20]
    row = fake.tables["lead"].rows[int(results[7].crm_id)]
    assert (row["ORIGINATOR_ID"], row["ORIGIN_ID"]) == ("prm", "lead-7")
    assert row["TITLE"] == "Person 7 · Program" and row["COMPANY_TITLE"] == "Company 7"


def test_it_matches_by_key_email_and_phone_before_creating(fake, connect) -> None:
    by_key = fake.create_record("Old", fields={"ORIGINATOR_ID": "prm", "ORIGIN_ID": "lead-1"})
    by_email = fake.create_record("Old", email="PERSON2@example.test")
    by_phone = fake.create_record("Old", phone="+7 (900) 000-00-03")
    other_lead = fake.create_record(
        "Other", email="person4@example.test", fields={"ORIGINATOR_ID": "prm", "ORIGIN_ID": "x"}
    )

    results = connect(fake).push([lead(n) for n in (1, 2, 3, 4)])

    assert [(r.crm_id, r.matched) for r in results[:3]] == [
        (by_key, True),
        (by_email, True),
        (by_phone, True),
    ]
    # A lead carrying another PRM lead's id is not taken over.
    assert not results[3].matched and results[3].crm_id != other_lead
    assert len(fake.tables["lead"].rows) == 5
    assert fake.tables["lead"].rows[int(by_email)]["ORIGIN_ID"] == "lead-2"
    assert len(fake.calls("batch")) == 3  # lookup, read the e-mail/phone hits, write


def test_it_updates_by_crm_id_and_honours_create_only(fake, connect) -> None:
    crm_id = fake.create_record("CRM title", fields={"name": "CRM Name", "company": ""})
    record = lead(
        1,
        crm_id=crm_id,
        values={"name": "PRM Name", "company": "PRM Co", "UF_CRM_PRM_PARTNER": "Partner B"},
    )
    record.create_only = {"name", "company"}

    [result] = connect(fake).push([record])

    assert result.ok and result.crm_id == crm_id and not result.matched
    row = fake.tables["lead"].rows[int(crm_id)]
    assert row["NAME"] == "CRM Name"  # the CRM is master and has a value
    assert row["COMPANY_TITLE"] == "PRM Co"  # ... but was empty here
    assert row["UF_CRM_PRM_PARTNER"] == "Partner B"
    assert row["TITLE"] == "CRM title"
    assert len(fake.tables["lead"].rows) == 1


def test_it_does_not_append_a_second_email_when_updating(fake, connect) -> None:
    crm_id = fake.create_record("T", email="old@example.test")

    connect(fake).push([lead(1, crm_id=crm_id, values={"email": "new@example.test"})])

    emails = [i["VALUE"] for i in fake.tables["lead"].rows[int(crm_id)]["EMAIL"]]
    assert emails == ["new@example.test"]


def test_it_keeps_the_successes_of_a_partly_refused_batch(fake, connect) -> None:
    fake.required["lead"].add("UF_CRM_PRM_PARTNER")
    records = [
        lead(1),
        lead(2, email="not-an-email"),
        lead(3),
        lead(4, values={"UF_CRM_PRM_PARTNER": ""}),
    ]

    results = connect(fake).push(records)

    assert [r.ok for r in results] == [True, False, True, False]
    assert results[1].error_kind == "validation" and "e-mail" in results[1].error
    assert results[3].error_kind == "validation" and "PRM partner" in results[3].error
    assert len(fake.tables["lead"].rows) == 2


def test_it_reports_a_deleted_crm_record_instead_of_recreating_it(fake, connect) -> None:
    crm_id = fake.create_record("T")
    fake.delete_record(crm_id)

    [result] = connect(fake).push([lead(1, crm_id=crm_id)])

    assert not result.ok and result.error_kind == "validation" and "not found" in result.error
    assert not fake.tables["lead"].rows


def test_it_retries_a_lookup_after_a_5xx(fake, connect) -> None:
    fake.inject("500", times=2)

    results = connect(fake).push([lead(1)])

    assert results[0].ok
    assert [r.status for r in fake.calls("batch")] == [500, 500, 200, 200]


def test_it_reports_a_5xx_on_create_as_retryable_and_keeps_earlier_chunks(fake, connect) -> None:
    connector = connect(fake)
    first = connector.push([lead(n) for n in range(50)])  # now known: updates next time
    fake.inject("500", path="crm.lead.add")

    results = connector.push([lead(n) for n in range(50)] + [lead(n) for n in range(50, 120)])

    assert all(r.ok for r in first) and all(r.ok for r in results[:50])
    assert {r.error_kind for r in results[50:]} == {"retryable"}
    assert len(fake.tables["lead"].rows) == 50


def test_a_timed_out_create_is_matched_not_duplicated_next_time(fake, connect, settings) -> None:
    settings.PRM_CRM_HTTP_TIMEOUT = 0.3
    connector = connect(fake)
    fake.inject("timeout", path="crm.lead.add")

    first = connector.push([lead(1), lead(2)])
    second = connector.push([lead(1), lead(2)])

    assert {r.error_kind for r in first} == {"retryable"}
    assert all(r.ok and r.matched for r in second)
    assert len(fake.tables["lead"].rows) == 2  # the fake did the timed-out work once


def test_a_dropped_connection_is_retryable_and_reads_are_retried(fake, connect) -> None:
    connector = connect(fake)
    fake.inject("drop", path="findbycomm")  # a read: retried by the transport
    fake.inject("drop", path="crm.lead.add")  # a create: never re-sent blindly

    first = connector.push([lead(1)])
    second = connector.push([lead(1)])

    assert first[0].error_kind == "retryable"
    assert second[0].ok and not second[0].matched
    assert len(fake.tables["lead"].rows) == 1
    assert [r.status for r in fake.calls("batch")][:3] == [None, 200, None]


def test_it_waits_out_the_rate_limit_answer(fake, connect) -> None:
    connector = connect(fake)
    fake.inject("rate")

    assert connector.push([lead(1)])[0].ok
    # The 1-s wait, as the throttle measured it (a sleep's reading can fall a hair short).
    assert connector.stats.throttled_seconds >= 0.95
    assert [r.status for r in fake.calls("batch")] == [503, 200, 200]


def test_a_burst_stays_within_the_portal_bucket(fake, connect, settings) -> None:
    settings.PRM_CRM_RATE_SCALE = 1.0  # our throttle at the real 2/s, burst 50
    fake.rate_limit = True
    connector = connect(fake)

    # 56 requests: the bucket's 50 at once, then 2/s (3 s) — past the burst, not far.
    results = [connector.push([lead(n)])[0] for n in range(28)]

    assert all(r.ok for r in results)
    assert fake.rate_rejections == 0
    assert fake.max_level <= fake.burst + 1


def test_it_pushes_contacts_and_linked_deals(deal_fake, connect) -> None:
    existing_contact = deal_fake.tables["contact"]
    connector = connect(deal_fake)
    assert connector.batch_size == 25
    first = connector.push([lead(n) for n in range(30)])

    assert all(r.ok and r.crm_contact_id for r in first)
    deal = deal_fake.tables["deal"].rows[int(first[0].crm_id)]
    assert deal["CONTACT_ID"] == first[0].crm_contact_id
    assert [len(r.params["cmd"]) for r in _writes(deal_fake)] == [50, 10]

    # Again: deals matched by key; a new lead with a known e-mail reuses the contact.
    again = connector.push([lead(0), CrmRecord(key="new", title="N", email="person1@example.test")])
    assert again[0].matched and again[0].crm_id == first[0].crm_id
    assert again[1].crm_contact_id == first[1].crm_contact_id
    assert len(existing_contact.rows) == 30 and len(deal_fake.tables["deal"].rows) == 31
