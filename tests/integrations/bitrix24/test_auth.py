"""Webhook and OAuth auth against the fake portal: one refresh on expiry, no loops."""

from __future__ import annotations

import httpx
import pytest

from integrations.crm.base import CrmAuthError
from integrations.crm.bitrix24.client import authorize_url, exchange_code
from tests.integrations.bitrix24.conftest import lead


def test_it_describes_the_portal(fake, connect) -> None:
    assert connect(fake).test_connection().endswith("(Anna Admin)")


def test_it_refreshes_an_expired_token_once_and_retries(oauth_fake, connect) -> None:
    saved: list[dict] = []
    connector = connect(oauth_fake, saved)
    old_refresh = connector.credentials.get("refresh_token")
    oauth_fake.expire_tokens()

    results = connector.push([lead(1)])

    assert results[0].ok
    assert len(oauth_fake.calls("oauth/token")) == 1
    assert [r.status for r in oauth_fake.calls("batch")][:2] == [401, 200]
    # The rotated refresh token was saved before it was used.
    assert saved and saved[-1]["refresh_token"] != old_refresh
    assert saved[-1]["refresh_token"] == connector.credentials.get("refresh_token")


def test_it_gives_up_after_one_failed_refresh_when_revoked(oauth_fake, connect) -> None:
    connector = connect(oauth_fake)
    oauth_fake.revoke()

    with pytest.raises(CrmAuthError):
        connector.push([lead(1)])

    assert [r.api_method for r in oauth_fake.requests] == ["batch", "oauth/token"]


def test_it_never_refreshes_a_webhook(fake, connect) -> None:
    connector = connect(fake)
    fake.revoke()

    with pytest.raises(CrmAuthError, match="NO_AUTH_FOUND"):
        connector.test_connection()

    assert len(fake.requests) == 1


def test_it_runs_the_oauth_console_flow(oauth_fake) -> None:
    url = authorize_url(
        auth_url=oauth_fake.url,
        base_url=f"{oauth_fake.url}/rest",
        client_id=oauth_fake.client_id,
        redirect_uri="https://prm.example/crm/callback",
        state="s1",
    )
    assert url.startswith(f"{oauth_fake.url}/oauth/authorize/?client_id=")
    back = httpx.get(url).headers["location"]
    query = dict(httpx.URL(back).params)
    assert query["state"] == "s1"

    endpoint, credentials = exchange_code(
        auth_url=oauth_fake.url,
        base_url="",
        client_id=oauth_fake.client_id,
        client_secret=oauth_fake.client_secret,
        code=query["code"],
        redirect_uri="https://prm.example/crm/callback",
        query=query,
    )

    assert endpoint == f"{oauth_fake.url}/rest"
    assert credentials["member_id"] == oauth_fake.member_id
    assert credentials["access_token"] and credentials["refresh_token"]
    # The code is single-use.
    with pytest.raises(CrmAuthError, match="invalid_grant"):
        exchange_code(
            auth_url=oauth_fake.url,
            base_url="",
            client_id=oauth_fake.client_id,
            client_secret=oauth_fake.client_secret,
            code=query["code"],
            redirect_uri="https://prm.example/crm/callback",
            query=query,
        )
