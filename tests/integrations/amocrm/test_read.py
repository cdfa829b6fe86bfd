"""Reading amoCRM back: fetch by id, changes since a cursor (paged to the end),
deleted leads, and values that must survive the round trip."""

from __future__ import annotations

from decimal import Decimal

from integrations.crm.base import CrmRecord

KEY = "cf:1278898001"
DEAL_DATE = "cf:1278898011"
BUDGET = "cf:1278898013"


def test_fetch_gives_stage_semantics_amounts_our_key_and_deleted_ones(amo, connect):
    connector = connect()
    won, lost, gone = (
        connector.push([CrmRecord(key=k, title=k, email=f"{k}@x.ru")])[0].crm_id
        for k in ("won", "lost", "gone")
    )
    amo.move(won, "won", "1500")
    amo.move(lost, "lost")
    amo.delete_record(gone)
    records = connector.fetch([won, lost, gone, "424242"])
    assert [r.crm_id for r in records] == [won, lost, gone, "424242"]
    assert (records[0].semantic, records[0].amount, records[0].currency) == (
        "won",
        Decimal("1500"),
        "RUB",
    )
    assert records[0].stage_id == "142" and records[0].external_key == "won"
    assert records[0].values["email"] == "won@x.ru"
    assert records[1].semantic == "lost"
    assert records[2].deleted and records[3].deleted


def test_changes_since_pages_to_the_end_then_only_later_changes(amo, connect):
    for n in range(620):  # three pages of 250
        amo.create_record(f"Deal {n}", email=f"d{n}@x.ru")
    connector = connect()
    records, cursor = connector.changes_since("")
    assert len({r.crm_id for r in records}) == 620
    lead_pages = [
        r for r in amo.requests if r.path == "/api/v4/leads" and ("with", "contacts") in r.query
    ]
    assert [dict(r.query)["page"] for r in lead_pages] == ["1", "2", "3"]
    assert int(cursor) > 0

    target = records[5].crm_id
    amo.update_record(target, email="new@x.ru")
    amo.delete_record(records[6].crm_id)
    later, next_cursor = connector.changes_since(cursor)
    assert int(next_cursor) >= int(cursor)
    changed = {r.crm_id: r for r in later}
    assert changed[target].values["email"] == "new@x.ru"
    assert changed[records[6].crm_id].deleted


def test_special_characters_long_text_dates_and_money_round_trip(amo, connect):
    connector = connect()
    name = "Анна-Мария «O'Brien» & <Söhne> 🚀"
    note = ('Строка с "кавычками", \\slashes/ и переносом.\n' * 120)[:5000]
    record = CrmRecord(
        key="special",
        title=f"{name} · Pro",
        email="anna@example.ru",
        phone="+49 (30) 123-45",
        values={
            "name": name,
            "company": "ООО «Ромашка»",
            "notes": note,
            DEAL_DATE: "2026-02-28",
            BUDGET: "98765.50",
        },
    )
    [result] = connector.push([record])
    amo.move(result.crm_id, "won", "98765")
    [back] = connector.fetch([result.crm_id])
    assert back.values["name"] == name
    assert back.values["company"] == "ООО «Ромашка»"
    assert back.values["notes"] == note and len(note) == 5000
    assert back.values[DEAL_DATE] == "2026-02-28"
    assert back.values[BUDGET] == "98765.5"
    assert back.values["phone"] == "+4930123-45".replace("-", "")
    assert (back.amount, back.currency, back.semantic) == (Decimal("98765"), "RUB", "won")
    # Pushing the same again changes nothing (no note appended twice).
    connector.push([CrmRecord(**{**record.__dict__, "crm_id": result.crm_id})])
    [again] = connector.fetch([result.crm_id])
    assert again.values["notes"] == note


def test_fields_and_stages_are_listed_with_native_and_custom_keys(amo, connect):
    connector = connect()
    fields = {f.key: f for f in connector.list_fields()}
    assert {"name", "email", "phone", "company", "notes"} <= {
        k for k, f in fields.items() if f.standard
    }
    assert fields[KEY].label == "PRM lead id"
    stages = connector.list_stages()
    semantics = {(s.pipeline_id, s.stage_id): s.semantic for s in stages}
    assert semantics[("3177727", "142")] == "won" and semantics[("3177730", "143")] == "lost"
    assert semantics[("3177727", "32392156")] == "open"
