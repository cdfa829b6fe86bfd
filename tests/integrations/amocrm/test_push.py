"""Pushing PRM leads into amoCRM: batches, matching before creating, updates that
respect the CRM's own data, partial failures and network trouble."""

from __future__ import annotations

from integrations.crm.amocrm.sync import QUERY_MAX
from integrations.crm.base import CrmRecord

KEY = "cf:1278898001"  # "PRM lead id" in the fake
PARTNER = "cf:1278898003"
DEAL_DATE = "cf:1278898011"
BUDGET = "cf:1278898013"


def lead(n: int, **extra) -> CrmRecord:  # type: ignore[no-untyped-def]
    values = {"name": f"Person {n}", "email": f"p{n}@example.ru", PARTNER: "Alice Agency"}
    values.update(extra.pop("values", {}))
    return CrmRecord(
        key=f"lead-{n}", title=f"Person {n} · Pro", email=f"p{n}@example.ru", values=values, **extra
    )


def posts(amo, path="/api/v4/leads/complex"):  # type: ignore[no-untyped-def]
    return [r for r in amo.requests if r.method == "POST" and r.path == path]


def test_it_creates_in_batches_of_fifty_in_input_order(amo, connect):
    connector = connect()
    records = [lead(n) for n in range(120)]
    results = connector.push(records)
    assert [r.key for r in results] == [r.key for r in records]
    assert all(r.ok and r.crm_id and r.crm_contact_id for r in results)
    # Sent side by side (the pipeline): the batches may arrive in any order.
    assert sorted((len(r.body) for r in posts(amo)), reverse=True) == [50, 50, 20]
    by_id = {r["id"]: r for r in amo.records()}
    first = by_id[results[0].crm_id]
    assert first["fields"][KEY] == "lead-0" and first["email"] == "p0@example.ru"
    assert first["fields"][PARTNER] == "Alice Agency"
    # Many unmatched records: one index of the account instead of queries per record.
    assert not [r for r in amo.requests if any(k == "query" for k, _ in r.query)]


def test_a_second_push_matches_by_our_key_and_creates_nothing(amo, connect):
    records = [lead(n) for n in range(QUERY_MAX + 5)]
    first = connect().push(records)
    few = connect().push(records[:3])  # by query=, fresh connectors
    many = connect().push(records)  # by the account index
    assert len(amo.records()) == len(records)
    assert [r.crm_id for r in few + many] == [r.crm_id for r in first[:3] + first]
    assert all(r.matched for r in few + many)


def test_existing_crm_records_are_matched_by_email_or_phone_before_creating(amo, connect):
    maria = amo.create_record("Maria from the CRM", email="maria@example.com")
    phone = amo.create_record("Phone only", phone="+79005550101")
    connector = connect()
    results = connector.push(
        [
            CrmRecord(key="a", title="A", email="Maria@Example.com"),
            CrmRecord(key="b", title="B", phone="+7 900 555-01-01"),
        ]
    )
    assert [(r.crm_id, r.matched) for r in results] == [(maria, True), (phone, True)]
    assert len(amo.records()) == 2
    assert {r["fields"][KEY] for r in amo.records()} == {"a", "b"}  # our id is now on them


def test_a_contact_whose_lead_belongs_to_another_prm_lead_gets_a_new_lead(amo, connect):
    connector = connect()
    [old] = connector.push([CrmRecord(key="first", title="First", email="same@example.ru")])
    [new] = connector.push([CrmRecord(key="second", title="Second", email="same@example.ru")])
    assert new.crm_id != old.crm_id and not new.matched
    assert new.crm_contact_id == old.crm_contact_id  # the same person, a second deal


def test_update_by_crm_id_keeps_crm_mastered_values_and_fills_empty_ones(amo, connect):
    connector = connect()
    [made] = connector.push([lead(1, values={"company": "ACME"})])
    amo.update_record(made.crm_id, title="Renamed in the CRM")
    changed = CrmRecord(
        key="lead-1",
        title="Typo · Pro",
        crm_id=made.crm_id,
        email="p1@example.ru",
        phone="+7 900 111-22-33",
        values={
            "name": "Typo",
            "email": "p1@example.ru",
            "phone": "+7 900 111-22-33",
            "company": "Other",
            PARTNER: "Bob Agency",
            "notes": "Wants a demo",
        },
        create_only={"name", "email", "phone", "company"},
    )
    [result] = connector.push([changed])
    assert result.ok and result.crm_id == made.crm_id and not result.matched
    remote = next(r for r in amo.records() if r["id"] == made.crm_id)
    assert remote["title"] == "Renamed in the CRM"  # the deal name is the CRM's
    assert remote["fields"]["name"] == "Renamed in the CRM"  # create_only: not overwritten
    assert remote["fields"]["company"] == "ACME"
    assert remote["phone"] == "+79001112233"  # was empty: filled in
    assert remote["fields"][PARTNER] == "Bob Agency"  # ours: always written
    assert remote["fields"]["notes"] == "Wants a demo"
    # Nothing differs any more: reads only, no writes.
    before = len(amo.requests)
    connector.push([changed])
    assert {r.method for r in amo.requests[before:]} == {"GET"}


def test_notes_are_appended_never_rewritten(amo, connect):
    connector = connect()
    [made] = connector.push([lead(1, values={"notes": "one"})])
    amo.update_record(made.crm_id, notes="from the CRM")
    record = lead(1, crm_id=made.crm_id, values={"notes": "one\nfrom the CRM\ntwo"})
    connector.push([record])
    remote = next(r for r in amo.records() if r["id"] == made.crm_id)
    assert remote["fields"]["notes"] == "one\nfrom the CRM\ntwo"


def test_a_refused_record_fails_alone_and_the_rest_of_its_batch_is_saved(amo, connect):
    connector = connect()
    records = [lead(n) for n in range(5)]
    records[1].values["cf:999"] = "no such field"
    records[3].values[DEAL_DATE] = "not a date"
    results = connector.push(records)
    assert [r.ok for r in results] == [True, False, True, False, True]
    assert results[1].error_kind == "validation" and "field_id" in results[1].error
    assert results[3].error_kind == "validation" and "values.0.value" in results[3].error
    assert len(amo.records()) == 3
    assert len(posts(amo)) == 2  # refused whole once, the valid ones sent again


def test_an_empty_required_field_is_a_validation_result(amo, connect):
    amo.required_lead_fields = {1278898003}
    connector = connect()
    empty = CrmRecord(key="x", title="X", values={PARTNER: ""})
    results = connector.push([empty, lead(2)])
    assert (results[0].ok, results[0].error_kind) == (False, "validation")
    assert "should not be blank" in results[0].error
    assert results[1].ok


def test_5xx_on_reads_is_retried_with_backoff(amo, connect):
    connector = connect(test=False)
    amo.inject("500", times=2, path="/api/v4/account")
    assert connector.test_connection()
    assert [r.status for r in amo.requests] == [500, 500, 200]


def test_5xx_on_a_create_is_a_retryable_result_then_succeeds(amo, connect):
    connector = connect()
    amo.inject("500", path="complex")
    [failed] = connector.push([lead(1)])
    assert (failed.ok, failed.error_kind) == (False, "retryable")
    [ok] = connector.push([lead(1)])
    assert ok.ok and len(amo.records()) == 1


def test_a_timed_out_create_is_not_duplicated_by_the_next_push(amo, connect):
    connector = connect()
    records = [lead(n) for n in range(QUERY_MAX + 10)]  # the index path
    amo.inject("timeout", path="complex")
    results = connector.push(records)
    assert results[0].error_kind == "retryable"
    assert len(amo.records()) == 35  # the create did happen before the answer was lost
    again = connector.push(records)
    assert all(r.ok for r in again)
    assert len(amo.records()) == len(records)
    assert len({r["fields"][KEY] for r in amo.records()}) == len(records)


def test_a_timed_out_single_create_is_matched_by_key_next_time(amo, connect):
    connector = connect()
    amo.inject("timeout", path="complex")
    [failed] = connector.push([lead(7)])
    assert failed.error_kind == "retryable" and len(amo.records()) == 1  # it did happen
    [again] = connect().push([lead(7)])
    assert again.ok and again.matched and len(amo.records()) == 1


def test_a_dropped_connection_is_retryable_and_nothing_is_lost(amo, connect):
    connector = connect()
    amo.inject("drop", path="complex")
    [failed] = connector.push([lead(1)])
    assert failed.error_kind == "retryable" and amo.records() == []
    [ok] = connector.push([lead(1)])
    assert ok.ok and len(amo.records()) == 1


def test_successes_before_a_failing_chunk_are_kept_and_the_rest_is_retryable(amo, connect):
    connector = connect()
    known = connector.push([lead(n) for n in range(3)])
    updates = [lead(n, crm_id=r.crm_id, values={PARTNER: "Bob"}) for n, r in enumerate(known)]
    amo.inject("500", times=1, path="complex")
    results = connector.push(updates + [lead(10), lead(11)])
    assert [r.ok for r in results] == [True, True, True, False, False]
    assert {r.error_kind for r in results[3:]} == {"retryable"}


def test_a_deleted_crm_record_is_refused_by_id_not_recreated(amo, connect):
    connector = connect()
    [made] = connector.push([lead(1)])
    amo.delete_record(made.crm_id)
    [result] = connector.push([lead(1, crm_id=made.crm_id)])
    assert (result.ok, result.error_kind) == (False, "validation")
    assert len(amo.records()) == 1


def test_stage_company_and_a_missing_contact_are_written_on_update(amo, connect):
    connector = connect()
    bare = amo.create_record("No contact")
    record = CrmRecord(
        key="z",
        title="Z",
        crm_id=bare,
        email="z@example.ru",
        values={"company": "Zeta", "name": "Zed"},
        stage=("3177730", "32392163"),
    )
    [result] = connector.push([record])
    remote = next(r for r in amo.records() if r["id"] == bare)
    assert result.ok and result.crm_contact_id
    assert remote["stage"] == ("3177730", "32392163")
    assert (remote["email"], remote["fields"]["company"], remote["fields"]["name"]) == (
        "z@example.ru",
        "Zeta",
        "Zed",
    )
