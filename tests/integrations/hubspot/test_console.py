"""The console's HubSpot form and OAuth flow: a private app needs only its token; an OAuth
app needs its client id and secret and gets its tokens from the consent page (the fake
answers the authorize URL with a code, exchanged at /oauth/v1/token)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from integrations.crm.hubspot.client import authorize_url, exchange_code
from integrations.crm.hubspot.forms import ConnectionForm


def test_a_private_app_needs_its_token_and_an_oauth_app_its_client():
    form = ConnectionForm({"auth_kind": "token", "access_token": "pat-na1-x"})
    assert form.is_valid(), form.errors
    config = form.config()
    assert config["base_url"] == "https://api.hubapi.com"
    assert config["credentials"] == {"access_token": "pat-na1-x", "client_secret": ""}
    assert config["settings"]["key_field"] == "prm_lead_id"
    assert set(ConnectionForm({"auth_kind": "token"}).errors) == {"access_token"}
    oauth = ConnectionForm({"auth_kind": "oauth", "key_field": "PRM Lead"})
    assert set(oauth.errors) == {"client_id", "client_secret", "key_field"}
    kept = ConnectionForm(
        {"auth_kind": "token"},
        existing={"auth_kind": "token", "credentials": {"access_token": "pat-old"}},
    )
    assert kept.is_valid() and kept.config()["credentials"]["access_token"] == "pat-old"


def test_oauth_consent_code_is_traded_for_tokens(hs):
    redirect = "https://acme.prm.test/manage/integrations/hubspot/oauth/callback/"
    url = authorize_url(
        auth_url=hs.url, base_url=hs.url, client_id=hs.client_id, redirect_uri=redirect, state="s1"
    )
    answer = httpx.get(url, follow_redirects=False)
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["state"] == ["s1"]
    base, credentials = exchange_code(
        auth_url=hs.url,
        base_url=hs.url,
        client_id=hs.client_id,
        client_secret=hs.client_secret,
        code=query["code"][0],
        redirect_uri=redirect,
        query={},
    )
    assert base == hs.url
    assert credentials["access_token"] and credentials["refresh_token"]
