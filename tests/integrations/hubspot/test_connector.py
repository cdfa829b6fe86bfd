"""The HubSpot connector against the fake portal: the classes of fault are a token that
expires mid-push, a private token that is refused, HubSpot's 429s (10-second window and
daily), one bad input in a batch, a person who already has a deal of another lead, and
a phone-only match."""

from __future__ import annotations

import pytest

from integrations.crm.base import CrmAuthError, CrmRecord
from integrations.crm.hubspot.sync import HubSpotConnector
from tests.fakes.hubspot import FakeHubSpot


def _records(n: int, prefix: str = "lead") -> list[CrmRecord]:
    return [
        CrmRecord(
            key=f"{prefix}-{i}",
            title=f"Deal {i}",
            email=f"{prefix}{i}@example.com",
            values={"name": f"Person {i}", "email": f"{prefix}{i}@example.com"},
        )
        for i in range(n)
    ]


def test_oauth_token_expiring_mid_push_is_refreshed_once_and_nothing_doubles(hs, connector, saved):
    hs.inject("401", times=1, path="/deals/batch/upsert")  # expires between read and write
    results = connector.push(_records(150))
    assert all(r.ok for r in results)
    assert hs.token_refreshes == 1 and len(saved) == 1
    assert len(hs.records()) == 150
    assert len(hs.objects["contacts"]) == 150
    assert all(r.crm_contact_id for r in results)
    # Pushing the same leads again finds every deal by our id: nothing new.
    again = connector.push(_records(150))
    assert all(r.ok and r.matched for r in again)
    assert len(hs.records()) == 150


def test_private_app_token_refused_is_an_auth_error_without_a_refresh():
    fake = FakeHubSpot(auth_kind="token").start()
    try:
        config = fake.connection_config()
        from integrations.crm.base import Credentials

        connector = HubSpotConnector(
            base_url=config["base_url"],
            auth_url=config["auth_url"],
            auth_kind="token",
            credentials=Credentials(dict(config["credentials"])),
            settings={},
            throttle_key="test-private",
        )
        assert connector.test_connection().startswith("HubSpot portal")
        assert connector.push(_records(2))[0].ok
        fake.revoke()
        with pytest.raises(CrmAuthError):
            connector.push(_records(1, "later"))
        assert not fake.calls(path="/oauth/")
        connector.close()
    finally:
        fake.stop()


def test_ten_second_429_is_waited_out_and_the_daily_one_defers_the_records(hs, connector):
    hs.inject("rate", times=1, path="/batch/read")
    results = connector.push(_records(3))
    assert all(r.ok for r in results)
    assert connector.stats.rate_refusals == 1
    hs.rate_limit, hs.daily = True, hs._day_used  # the portal's day is spent
    sent = len(hs.calls())
    later = connector.push(_records(3, "late"))
    assert not any(r.ok for r in later)
    assert {r.retry_after for r in later} == {3600.0}
    assert len(hs.calls()) == sent + 1  # refused once, not waited for nor retried


def test_one_bad_email_fails_alone_not_its_whole_batch(hs, connector):
    records = _records(8)
    records[5].values["email"] = records[5].email = "not-an-address"
    records[5].values["lead_note"] = ""
    results = connector.push(records)
    assert [r.ok for r in results] == [True] * 8  # the deal is written; the contact waits
    assert not results[5].crm_contact_id
    assert sum(1 for r in results if r.crm_contact_id) == 7


def test_a_persons_deal_claimed_by_another_lead_gets_a_new_deal_for_the_same_contact(hs, connector):
    [first] = connector.push(_records(1))
    second = CrmRecord(key="other-lead", title="Again", email="lead0@example.com")
    [result] = connector.push([second])
    assert result.ok and result.crm_id != first.crm_id
    assert result.crm_contact_id == first.crm_contact_id
    assert len(hs.objects["contacts"]) == 1


def test_phone_only_lead_matches_the_contact_typed_another_way(hs, connector):
    existing = hs.create_record("Phone only", phone="+79005550101")
    record = CrmRecord(key="p1", title="P", phone="+7 900 555-01-01")
    [result] = connector.push([record])
    assert result.ok and result.matched and result.crm_id == existing


def test_a_poll_over_more_deals_than_one_search_may_page_through_reads_them_all(
    hs, connector, monkeypatch
):
    from integrations.crm.hubspot import sync

    hs.search_max = 300  # HubSpot: 10,000 results per query; here a smaller portal
    monkeypatch.setattr(sync, "SEARCH_MAX", 300)
    made = {hs.create_record(f"Deal {i}", email=f"d{i}@example.com") for i in range(650)}
    records, cursor = connector.changes_since("")
    assert {r.crm_id for r in records} >= made
    assert all(r.values["email"] for r in records)
    # The next poll starts where this one ended: only what changed since.
    some = sorted(made)[7]
    hs.move(some, "won", "10")
    again, _ = connector.changes_since(cursor)
    assert some in {r.crm_id for r in again} and len(again) < 5


def test_polls_list_archived_deals_once_per_reconciliation_not_every_minute(
    hs, connector, settings
):
    """The archived list cannot be filtered by time: read whole on the first poll, then
    once per reconciliation interval; a deal archived meanwhile is found by that one."""
    results = connector.push(_records(3, "arch"))

    def archived_reads() -> int:
        return len([r for r in hs.calls("GET", "/crm/v3/objects/deals") if "archived" in r.query])

    _, cursor = connector.changes_since("")
    assert archived_reads() == 1
    hs.delete_record(results[0].crm_id)
    for _ in range(3):  # polls a minute apart
        records, cursor = connector.changes_since(cursor)
        assert not any(r.deleted for r in records)
    assert archived_reads() == 1
    settings.PRM_CRM_RECONCILE_SECONDS = 0  # the interval is over
    records, cursor = connector.changes_since(cursor)
    assert archived_reads() == 2
    assert [r.crm_id for r in records if r.deleted] == [results[0].crm_id]
