"""amoCRM auth: OAuth refresh (once, rotated tokens saved), revoked and long-lived
tokens, and the console's OAuth flow against the fake's token endpoint."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from integrations.crm.amocrm.client import authorize_url, exchange_code
from integrations.crm.base import CrmAuthError


def test_it_refreshes_an_expired_token_once_retries_and_saves_the_new_pair(amo, connect, saved):
    connector = connect()
    old = dict(connector.credentials.values)
    amo.expire_tokens()
    before = len(amo.requests)

    assert connector.test_connection().startswith("Acme Ltd")

    paths = [r.path for r in amo.requests[before:]]
    assert paths == ["/api/v4/account", "/oauth2/access_token", "/api/v4/account"]
    assert saved[-1]["access_token"] != old["access_token"]
    assert saved[-1]["refresh_token"] != old["refresh_token"]
    assert saved[-1]["expires_at"] > old["expires_at"] - 10


def test_a_token_known_to_be_expired_is_refreshed_before_the_call(amo, connect, saved):
    connector = connect(test=False)
    connector.credentials.values["expires_at"] = 1
    connector.test_connection()
    assert [r.path for r in amo.requests] == ["/oauth2/access_token", "/api/v4/account"]
    assert saved


def test_the_old_refresh_token_stays_valid_until_the_new_one_is_used(amo, connect):
    connector = connect()
    first = connector.credentials.get("refresh_token")
    connector.client.refresh()
    second = connector.credentials.get("refresh_token")
    connector.credentials.values["refresh_token"] = first  # our save was lost
    connector.client.refresh()  # still fine: the second was never used
    connector.credentials.values["refresh_token"] = second
    connector.client.refresh()  # using the second kills the first
    connector.credentials.values["refresh_token"] = first
    with pytest.raises(CrmAuthError, match="Invalid refresh token"):
        connector.client.refresh()


def test_revoked_credentials_raise_after_one_refresh_without_a_loop(amo, connect):
    connector = connect()
    amo.revoke()
    before = len(amo.requests)
    with pytest.raises(CrmAuthError, match="revoked"):
        connector.test_connection()
    statuses = [(r.path, r.status) for r in amo.requests[before:]]
    assert statuses == [("/api/v4/account", 401), ("/oauth2/access_token", 400)]


def test_push_with_revoked_credentials_raises_auth_error(amo, connect):
    from integrations.crm.base import CrmRecord

    connector = connect()
    amo.revoke()
    with pytest.raises(CrmAuthError):
        connector.push([CrmRecord(key="k", title="t", email="a@b.ru")])
    assert len([r for r in amo.requests if r.path == "/oauth2/access_token"]) == 1


def test_a_long_lived_token_is_never_refreshed(amo, connect):
    amo.auth_kind = "token"
    connector = connect()
    assert connector.settings["account_id"] == "28805383"
    amo.revoke()
    before = len(amo.requests)
    with pytest.raises(CrmAuthError):
        connector.list_stages()
    assert [r.path for r in amo.requests[before:]] == ["/api/v4/leads/pipelines"]


def test_a_401_fault_is_refreshed_and_retried(amo, connect):
    connector = connect()
    amo.inject("401", path="/api/v4/leads/pipelines")
    assert connector.list_stages()
    assert [r.path for r in amo.requests[-3:]] == [
        "/api/v4/leads/pipelines",
        "/oauth2/access_token",
        "/api/v4/leads/pipelines",
    ]


def test_the_consent_url_goes_to_the_www_host_with_client_id_and_state(amo):
    url = authorize_url(
        auth_url="",
        base_url="https://acme.amocrm.ru",
        client_id="abc",
        redirect_uri="https://prm.example/cb",
        state="s1",
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "www.amocrm.ru", "/oauth")
    assert parse_qs(parts.query) == {
        "client_id": ["abc"],
        "state": ["s1"],
        "mode": ["post_message"],
    }


def test_the_code_is_exchanged_at_the_referer_account(amo):
    code = amo.issue_code()
    referer = urlsplit(amo.base_url).netloc
    api, credentials = exchange_code(
        auth_url=amo.auth_url,
        base_url="",
        client_id=amo.client_id,
        client_secret=amo.client_secret,
        code=code,
        redirect_uri="https://prm.example/cb",
        query={"code": code, "referer": referer, "state": "s1"},
    )
    assert api == amo.base_url
    assert credentials["access_token"] and credentials["refresh_token"]
    assert credentials["client_id"] == amo.client_id
    assert credentials["redirect_uri"] == "https://prm.example/cb"
    body = amo.requests[-1].body
    assert body["grant_type"] == "authorization_code" and body["code"] == code
    with pytest.raises(CrmAuthError, match="Cannot decrypt"):  # a code works once
        exchange_code(
            auth_url=amo.auth_url,
            base_url=amo.base_url,
            client_id=amo.client_id,
            client_secret=amo.client_secret,
            code=code,
            redirect_uri="https://prm.example/cb",
            query={},
        )
