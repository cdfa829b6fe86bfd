"""Sessions: an expired one is refreshed once and the call retried; revoked credentials
end in CrmAuthError after exactly one refresh attempt, with no loop."""

from __future__ import annotations

import pytest

from integrations.crm.base import CrmAuthError
from tests.integrations.salesforce.conftest import lead


def test_it_refreshes_an_expired_session_once_and_retries(sf, connector, saved):
    old = connector.credentials.get("access_token")
    sf.expire_tokens()
    before = len(sf.requests)
    assert "Acme Fake Org" in connector.test_connection()
    calls = sf.requests[before:]
    assert [(r.method, r.path.rsplit("/", 1)[-1], r.status) for r in calls] == [
        ("GET", "query", 401),
        ("POST", "token", 200),
        ("GET", "query", 200),
    ]
    assert calls[1].body["grant_type"] == "refresh_token"
    # The new token is persisted before it is used, the refresh token kept.
    assert saved and saved[-1]["access_token"] != old
    assert saved[-1]["refresh_token"] == connector.credentials.get("refresh_token")


def test_it_refreshes_when_salesforce_answers_invalid_session_mid_push(sf, connector):
    sf.inject("401", path="/composite/sobjects")
    [result] = connector.push([lead(1)])
    assert result.ok
    assert len(sf.calls("POST", "/services/oauth2/token")) == 1
    assert len(sf.records()) == 1


def test_revoked_credentials_raise_auth_error_without_a_retry_loop(sf, connector, saved):
    sf.revoke()
    before = len(sf.requests)
    with pytest.raises(CrmAuthError, match="invalid_grant"):
        connector.push([lead(1)])
    assert [r.status for r in sf.requests[before:]] == [401, 400]  # one call, one refresh
    assert saved == []


def test_a_session_refused_again_after_the_refresh_is_an_auth_error(sf, connector):
    sf.inject("401", times=2)
    with pytest.raises(CrmAuthError, match="INVALID_SESSION_ID"):
        connector.test_connection()
    assert [r.status for r in sf.requests[-3:]] == [401, 200, 401]


def test_it_learns_the_org_its_currency_fields_and_stages(sf, connector):
    assert connector.test_connection() == f"Acme Fake Org ({sf.org_id})"
    assert connector.settings["org_id"] == sf.org_id
    assert connector.settings["currency"] == "USD"
    fields = {f.key: f for f in connector.list_fields()}
    assert {k for k, f in fields.items() if f.standard} == {
        "name",
        "email",
        "phone",
        "company",
        "notes",
    }
    assert fields["PRM_Lead_Id__c"].label == "PRM lead id"
    assert fields["PRM_Program__c"].label == "PRM program"
    stages = {(s.pipeline_id, s.stage_id): s.semantic for s in connector.list_stages()}
    assert stages[("Lead", "Open - Not Contacted")] == "open"
    assert stages[("Lead", "Closed - Not Converted")] == "lost"
    assert ("Lead", "Closed - Converted") not in stages  # shown by its Opportunity
    assert stages[("Opportunity", "Closed Won")] == "won"
    assert stages[("Opportunity", "Closed Lost")] == "lost"
