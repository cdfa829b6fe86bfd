"""Reading back: fetch, deleted records, polling with changes_since, round-trips."""

from __future__ import annotations

from decimal import Decimal

from tests.integrations.bitrix24.conftest import lead


def test_it_fetches_stage_semantic_amount_and_our_key(fake, connect) -> None:
    connector = connect(fake)
    [won, lost, open_] = [r.crm_id for r in connector.push([lead(1), lead(2), lead(3)])]
    fake.move(won, "won", amount="150000.50")
    fake.move(lost, "lost")

    records = {r.crm_id: r for r in connector.fetch([won, lost, open_])}

    assert (records[won].semantic, records[won].amount, records[won].currency) == (
        "won",
        Decimal("150000.50"),
        "RUB",
    )
    # Won as in Bitrix24: the lead converted, the deal made from it won.
    assert fake.tables["lead"].rows[int(won)]["STATUS_ID"] == "CONVERTED"
    assert (records[won].pipeline_id, records[won].stage_id) == ("DEAL:0", "WON")
    assert records[lost].semantic == "lost" and records[open_].semantic == "open"
    assert records[won].external_key == "lead-1"
    assert records[won].values["email"] == "person1@example.test"
    assert records[won].values["UF_CRM_PRM_PARTNER"] == "Partner A"
    assert len(fake.calls("batch")) == 3  # push (lookup, create) + one fetch request


def test_missing_records_come_back_deleted(fake, connect) -> None:
    connector = connect(fake)
    crm_id = fake.create_record("Gone")
    fake.delete_record(crm_id)

    records = connector.fetch([crm_id, "424242", "not-a-number"])

    assert [(r.crm_id, r.deleted) for r in records] == [
        (crm_id, True),
        ("424242", True),
        ("not-a-number", True),
    ]
    assert fake.records()[0]["deleted"] is True


def test_changes_since_pages_to_the_end_and_then_only_new_changes(fake, connect) -> None:
    connector = connect(fake)
    ids = [fake.create_record(f"Lead {n}", email=f"p{n}@example.test") for n in range(2400)]

    records, cursor = connector.changes_since("")

    assert len(records) == 2400 and {r.crm_id for r in records} == set(ids)
    assert len(fake.calls("batch")) >= 2  # more than one request's worth of pages
    assert connector.changes_since(cursor) == ([], cursor)

    fake.later()  # DATE_MODIFY has whole seconds: the changes come in a later one
    fake.update_record(ids[5], title="Changed")
    fake.move(ids[0], "won", amount="10")
    changed, cursor2 = connector.changes_since(cursor)
    assert sorted(r.crm_id for r in changed) == sorted([ids[5], ids[0]])
    assert connector.changes_since(cursor2)[0] == []


def test_values_round_trip_unchanged(fake, connect) -> None:
    connector = connect(fake)
    text = ("Строка «кавычки» & <b>html</b> 100% + $result[x] \\ 'quote' \"dq\" 😀\n" * 80)[:5000]
    record = lead(
        1,
        values={
            "name": "Zoë O'Brien-Łukasz & Co",
            "notes": text,
            "UF_CRM_PRM_PROGRAM": "2026-03-01T10:00:00+03:00",
            "UF_CRM_PRM_PROMO": "SPRING-20%",
        },
    )

    [result] = connector.push([record])
    fake.move(result.crm_id, "won", amount="1234.56", currency="USD")
    [back] = connector.fetch([result.crm_id])

    assert len(text) == 5000 and back.values["notes"] == text
    assert back.values["name"] == "Zoë O'Brien-Łukasz & Co"
    assert back.values["UF_CRM_PRM_PROGRAM"] == "2026-03-01T10:00:00+03:00"
    assert back.values["UF_CRM_PRM_PROMO"] == "SPRING-20%"
    assert (back.amount, back.currency) == (Decimal("1234.56"), "USD")
    assert back.updated_at is not None and back.updated_at.utcoffset() is not None
    # Pushing the same values again changes nothing.
    connector.push([record])
    assert len(fake.calls("crm.lead.add")) == 1  # "$result[" in the text: not batched
    assert len(fake.calls("batch")) == 3  # push: lookup; fetch; push: lookup only


def test_deals_read_the_person_from_the_contact(deal_fake, connect) -> None:
    connector = connect(deal_fake)
    [result] = connector.push([lead(1)])
    deal_fake.move(result.crm_id, "lost")

    [back] = connector.fetch([result.crm_id])

    assert back.values["email"] == "person1@example.test"
    assert back.crm_contact_id == result.crm_contact_id
    assert (back.pipeline_id, back.stage_id, back.semantic) == ("0", "LOSE", "lost")


def test_it_lists_fields_by_label_and_stages(fake, connect) -> None:
    connector = connect(fake)

    labels = {f.label: f.key for f in connector.list_fields()}
    stages = {(s.pipeline_id, s.stage_id): s.semantic for s in connector.list_stages()}

    for label, key in [
        ("PRM lead id", "UF_CRM_PRM_LEAD_ID"),
        ("PRM partner", "UF_CRM_PRM_PARTNER"),
        ("PRM referral code", "UF_CRM_PRM_REFERRAL"),
        ("PRM promo code", "UF_CRM_PRM_PROMO"),
        ("PRM program", "UF_CRM_PRM_PROGRAM"),
    ]:
        assert labels[label] == key
    standard = {f.key for f in connector.list_fields() if f.standard}
    assert standard == {"name", "email", "phone", "company", "notes"}
    assert stages["STATUS", "JUNK"] == "lost" and stages["STATUS", "NEW"] == "open"
    # A converted lead is followed into its deal: the deal's stages map its outcome.
    assert stages["DEAL:0", "WON"] == "won" and stages["DEAL:0", "LOSE"] == "lost"
