"""The console form for a Bitrix24 connection."""

from __future__ import annotations

from integrations.crm.bitrix24.forms import ConnectionForm

WEBHOOK = "https://acme.bitrix24.com/rest/1/abc123def/"


def test_it_accepts_an_inbound_webhook() -> None:
    form = ConnectionForm(
        {
            "auth_kind": "webhook",
            "webhook_url": WEBHOOK[:-1],
            "application_token": "tok",
            "entity": "lead",
            "currency": "usd",
        }
    )

    assert form.is_valid(), form.errors
    assert form.config() == {
        "auth_kind": "webhook",
        "base_url": "https://acme.bitrix24.com",
        "auth_url": "",
        "credentials": {"webhook_url": WEBHOOK, "application_token": "tok"},
        "settings": {"entity": "lead", "category_id": 0, "currency": "USD"},
    }


def test_it_requires_the_fields_of_the_auth_kind() -> None:
    webhook = ConnectionForm({"auth_kind": "webhook", "entity": "lead"})
    oauth = ConnectionForm({"auth_kind": "oauth", "entity": "deal"})

    assert not webhook.is_valid() and "webhook_url" in webhook.errors
    assert not oauth.is_valid()
    assert {"client_id", "client_secret", "base_url"} <= set(oauth.errors)


def test_it_rejects_plain_http_and_non_webhook_urls() -> None:
    http = ConnectionForm(
        {
            "auth_kind": "webhook",
            "entity": "lead",
            "webhook_url": "http://acme.bitrix24.com/rest/1/abc/",
        }
    )
    wrong = ConnectionForm(
        {
            "auth_kind": "webhook",
            "entity": "lead",
            "webhook_url": "https://acme.bitrix24.com/crm/lead/",
        }
    )
    local = ConnectionForm(
        {
            "auth_kind": "webhook",
            "entity": "lead",
            "webhook_url": "http://127.0.0.1:8001/rest/1/abc/",
        }
    )

    assert "https://" in str(http.errors["webhook_url"])
    assert "inbound webhook URL" in str(wrong.errors["webhook_url"])
    assert local.is_valid(), local.errors


def test_blank_secrets_keep_the_stored_ones() -> None:
    existing = {
        "auth_kind": "oauth",
        "base_url": "https://acme.bitrix24.com/rest",
        "auth_url": "https://oauth.bitrix.info",
        "credentials": {
            "client_id": "app.1",
            "client_secret": "s3cret",
            "access_token": "at",
            "refresh_token": "rt",
            "application_token": "apptok",
            "member_id": "m1",
        },
        "settings": {"entity": "deal", "category_id": 3, "currency": "EUR"},
    }
    form = ConnectionForm(
        {
            "auth_kind": "oauth",
            "base_url": "https://acme.bitrix24.com/rest",
            "auth_url": "https://oauth.bitrix.info",
            "client_id": "app.1",
            "entity": "deal",
            "category_id": "3",
            "currency": "EUR",
        },
        existing=existing,
    )

    assert form.is_valid(), form.errors
    config = form.config()
    assert config["credentials"] == existing["credentials"]
    assert config["settings"] == existing["settings"]
    assert config["auth_url"] == "https://oauth.bitrix.info"
    assert 'value="s3cret"' not in str(form["client_secret"])
