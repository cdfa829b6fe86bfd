"""What the console uses: the connection form, the OAuth web-server flow against the
fake login host, and inbound outbound-messages (Salesforce is otherwise polled)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from integrations.crm.base import CrmAuthError
from integrations.crm.salesforce import webhooks
from integrations.crm.salesforce.client import authorize_url, exchange_code
from integrations.crm.salesforce.forms import ConnectionForm

VALID = {
    "auth_kind": "oauth",
    "auth_url": "https://login.salesforce.com",
    "base_url": "",
    "client_id": "3MVG9key",
    "client_secret": "s3cret",
    "api_version": "v62.0",
    "key_field": "PRM_Lead_Id__c",
    "api_reserve": "0.05",
}


def test_the_form_accepts_a_connected_app_and_builds_the_config():
    form = ConnectionForm(VALID)
    assert form.is_valid(), form.errors
    config = form.config()
    assert config == {
        "auth_kind": "oauth",
        "base_url": "",
        "auth_url": "https://login.salesforce.com",
        "credentials": {
            "client_id": "3MVG9key",
            "client_secret": "s3cret",
            "access_token": "",
            "refresh_token": "",
        },
        "settings": {"api_version": "v62.0", "key_field": "PRM_Lead_Id__c", "api_reserve": 0.05},
    }


def test_the_form_requires_the_consumer_key_and_secret():
    form = ConnectionForm({**VALID, "client_id": "", "client_secret": ""})
    assert not form.is_valid()
    assert set(form.errors) == {"client_id", "client_secret"}
    assert "connected app" in str(form.errors["client_id"])


def test_a_blank_secret_keeps_the_stored_one():
    existing = {
        "auth_kind": "oauth",
        "base_url": "https://acme.my.salesforce.com",
        "auth_url": "https://login.salesforce.com",
        "credentials": {
            "client_id": "3MVG9key",
            "client_secret": "old-secret",
            "access_token": "00D!old",
            "refresh_token": "5Aep-old",
        },
        "settings": {"currency": "EUR"},
    }
    form = ConnectionForm({**VALID, "client_secret": "", "currency": "eur"}, existing=existing)
    assert form.is_valid(), form.errors
    config = form.config()
    assert config["credentials"]["client_secret"] == "old-secret"
    assert config["credentials"]["refresh_token"] == "5Aep-old"
    assert config["base_url"] == "https://acme.my.salesforce.com"
    assert config["settings"]["currency"] == "EUR"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("auth_url", "http://login.example.com", "https://"),
        ("base_url", "acme.my.salesforce.com", "full address"),
        ("key_field", "PRM Lead Id", "__c"),
        ("api_version", "62", None),
        ("api_reserve", "0.9", "daily allowance"),
        ("currency", "EURO", None),
    ],
)
def test_the_form_explains_bad_values(field, value, message):
    form = ConnectionForm({**VALID, field: value})
    if field == "api_version":  # "62" is read as v62.0
        assert form.is_valid() and form.config()["settings"]["api_version"] == "v62.0"
        return
    assert not form.is_valid()
    assert field in form.errors
    if message:
        assert message in str(form.errors[field])


def test_local_fakes_may_use_plain_http():
    form = ConnectionForm({**VALID, "auth_url": "http://127.0.0.1:8999"})
    assert form.is_valid(), form.errors


def test_the_oauth_web_server_flow_against_the_fake_login_host(sf):
    redirect = "http://127.0.0.1:8000/console/integrations/salesforce/callback/"
    url = authorize_url(
        auth_url=sf.url, base_url="", client_id=sf.client_id, redirect_uri=redirect, state="st8"
    )
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(f"{sf.url}/services/oauth2/authorize?")
    assert query["response_type"] == ["code"] and query["scope"] == ["api refresh_token"]
    consent = httpx.get(url)  # the fake approves at once
    assert consent.status_code == 302
    back = parse_qs(urlsplit(consent.headers["location"]).query)
    assert back["state"] == ["st8"]
    base_url, credentials = exchange_code(
        auth_url=sf.url,
        base_url="",
        client_id=sf.client_id,
        client_secret=sf.client_secret,
        code=back["code"][0],
        redirect_uri=redirect,
        query={"code": back["code"][0], "state": "st8"},
    )
    assert base_url == sf.url
    assert set(credentials) == {"client_id", "client_secret", "access_token", "refresh_token"}
    token_call = sf.calls("POST", "/services/oauth2/token")[-1]
    assert token_call.body["grant_type"] == "authorization_code"
    with pytest.raises(CrmAuthError, match="invalid_grant"):  # a code works once
        exchange_code(
            auth_url=sf.url,
            base_url="",
            client_id=sf.client_id,
            client_secret=sf.client_secret,
            code=back["code"][0],
            redirect_uri=redirect,
            query={},
        )


def test_a_wrong_client_secret_is_refused(sf):
    code = sf.issue_code("https://prm.example/cb")
    with pytest.raises(CrmAuthError, match="invalid_client"):
        exchange_code(
            auth_url=sf.url,
            base_url="",
            client_id=sf.client_id,
            client_secret="wrong",
            code=code,
            redirect_uri="https://prm.example/cb",
            query={},
        )


def test_an_outbound_message_from_the_org_is_accepted(sf, connector):
    connector.test_connection()
    body = webhooks.outbound_message(sf.org_id, ["00Q5g0000000001EAA", "00Q5g0000000002EAA"])
    assert connector.parse_event(body, "text/xml") == ["00Q5g0000000001EAA", "00Q5g0000000002EAA"]
    assert connector.subscribe_events("https://prm.example/hooks/") is False


@pytest.mark.parametrize(
    "body",
    [
        webhooks.outbound_message("00D000000000OTHER", ["00Q5g0000000001EAA"]),
        b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
        b"{}",
        b"",
    ],
)
def test_anything_else_is_refused(sf, connector, body):
    connector.test_connection()
    with pytest.raises(CrmAuthError):
        connector.parse_event(body, "text/xml")
