"""Salesforce -> PRM: fetching records, polling everything changed since a cursor
(paging to the end, deletions, conversions) and values that must survive the trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.fakes.salesforce import FakeSalesforce
from tests.integrations.salesforce.conftest import lead


def test_fetch_reads_won_lost_open_and_deleted_leads(sf, connector):
    pushed = connector.push([lead(n) for n in range(4)])
    won, lost, gone, open_ = (r.crm_id for r in pushed)
    sf.move(won, "won", "1500")
    sf.move(lost, "lost")
    sf.delete_record(gone)
    before = len(sf.requests)
    records = connector.fetch([won, lost, gone, open_, "00Q000000000000AAA"])
    assert len(sf.requests) - before == 2  # the Leads, then their Opportunities
    by_id = {r.crm_id: r for r in records}
    assert (by_id[won].semantic, by_id[won].amount) == ("won", Decimal("1500"))
    assert (by_id[won].pipeline_id, by_id[won].stage_id) == ("Opportunity", "Closed Won")
    assert by_id[won].crm_contact_id.startswith("003")
    assert by_id[lost].semantic == "lost" and by_id[lost].stage_id == "Closed - Not Converted"
    assert by_id[gone].deleted
    assert by_id["00Q000000000000AAA"].deleted
    assert by_id[open_].semantic == "open" and by_id[open_].amount is None
    assert by_id[open_].external_key == pushed[3].key
    assert by_id[open_].values["email"] == "lead3@example.com"
    assert by_id[open_].values["name"] == "Lead Number3"
    assert by_id[open_].values["PRM_Lead_Id__c"] == pushed[3].key
    assert by_id[open_].updated_at > datetime.now(UTC) - timedelta(minutes=1)


def test_changes_since_pages_to_the_end_then_only_reports_new_changes(sf, connector):
    sf.batch_size = 200
    pushed = connector.push([lead(n) for n in range(450)])
    before = len(sf.requests)
    records, cursor = connector.changes_since("")
    assert len(records) == 450
    pages = [r for r in sf.requests[before:] if "/query" in r.path]
    assert len(pages) == 3 and pages[1].path.startswith("/services/data/v62.0/query/01g")
    assert connector.changes_since(cursor)[0] == []

    sf.update_record(pushed[5].crm_id, email="new@example.com")
    sf.delete_record(pushed[6].crm_id)
    records, cursor = connector.changes_since(cursor)
    by_id = {r.crm_id: r for r in records}
    assert set(by_id) == {pushed[5].crm_id, pushed[6].crm_id}
    assert by_id[pushed[5].crm_id].values["email"] == "new@example.com"
    assert by_id[pushed[6].crm_id].deleted
    assert connector.changes_since(cursor)[0] == []


def test_changes_since_sees_an_opportunity_change_that_does_not_touch_the_lead(sf, connector):
    [pushed] = connector.push([lead(1)])
    sf.move(pushed.crm_id, "won", "100")
    [record], cursor = connector.changes_since("")
    assert record.semantic == "won"
    stamp = sf.lead(pushed.crm_id)["SystemModstamp"]
    sf.move(pushed.crm_id, "lost")  # only the Opportunity changes in Salesforce
    assert sf.lead(pushed.crm_id)["SystemModstamp"] == stamp
    [record], cursor = connector.changes_since(cursor)
    assert record.semantic == "lost"
    assert connector.changes_since(cursor)[0] == []


def test_text_money_and_dates_survive_the_round_trip(make_connector):
    fake = FakeSalesforce(currency="EUR", multi_currency=True).start()
    try:
        connector = make_connector(fake)
        connector.test_connection()
        connector.list_fields()
        name = "Анна-Мария «O'Brien» & <Söhne> 🚀"
        note = ('Строка с "кавычками", \\slashes/ и переносом.\n' * 120)[:5000]
        record = lead(
            1,
            email="o'brien+tag@example.com",
            values={"name": name, "company": "ООО «Ромашка»", "notes": note},
        )
        [pushed] = connector.push([record])
        fake.move(pushed.crm_id, "won", "98765.43")
        [remote] = connector.fetch([pushed.crm_id])
        assert remote.values["name"] == name
        assert remote.values["company"] == "ООО «Ромашка»"
        assert remote.values["notes"] == note
        assert (remote.amount, remote.currency) == (Decimal("98765.43"), "EUR")
        assert remote.updated_at is not None and remote.updated_at.tzinfo is not None
        # The quote in the e-mail is escaped in SOQL: the Lead is found, not duplicated.
        [again] = connector.push([record])
        assert again.ok and again.matched and len(fake.records()) == 1
    finally:
        fake.stop()


def test_single_currency_orgs_report_the_org_currency(sf, connector):
    connector.test_connection()
    [pushed] = connector.push([lead(1)])
    sf.move(pushed.crm_id, "won", "10")
    [remote] = connector.fetch([pushed.crm_id])
    assert remote.currency == "USD"
