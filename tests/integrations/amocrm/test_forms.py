"""The console's amoCRM connection form."""

from __future__ import annotations

from integrations.crm.amocrm.forms import ERR_HTTPS, ERR_REQUIRED, ConnectionForm


def test_it_accepts_a_long_lived_token_connection():
    form = ConnectionForm(
        {
            "auth_kind": "token",
            "base_url": "https://acme.amocrm.ru/",
            "token": "jwt",
            "currency": "eur",
            "pipeline_id": "3177730",
        }
    )
    assert form.is_valid(), form.errors
    assert form.config() == {
        "auth_kind": "token",
        "base_url": "https://acme.amocrm.ru",
        "auth_url": "",
        "credentials": {"access_token": "jwt"},
        "settings": {"currency": "EUR", "pipeline_id": 3177730},
    }


def test_it_accepts_oauth_and_defaults_the_consent_host():
    form = ConnectionForm(
        {
            "auth_kind": "oauth",
            "base_url": "http://127.0.0.1:8801",
            "client_id": "uuid",
            "client_secret": "s",
        }
    )
    assert form.is_valid(), form.errors
    config = form.config()
    assert config["auth_url"] == "https://www.amocrm.ru"
    assert config["credentials"] == {"client_id": "uuid", "client_secret": "s"}
    assert config["settings"] == {"currency": "RUB"}


def test_missing_fields_per_auth_kind_and_plain_http_are_refused():
    form = ConnectionForm({"auth_kind": "oauth", "base_url": "http://acme.amocrm.ru"})
    assert not form.is_valid()
    assert form.errors["base_url"] == [str(ERR_HTTPS)]
    assert form.errors["client_id"] == [str(ERR_REQUIRED)]
    assert form.errors["client_secret"] == [str(ERR_REQUIRED)]
    token = ConnectionForm({"auth_kind": "token", "base_url": "https://acme.amocrm.ru"})
    assert not token.is_valid() and token.errors["token"] == [str(ERR_REQUIRED)]
    assert not ConnectionForm({"auth_kind": "token", "base_url": "acme"}).is_valid()


def test_blank_secrets_keep_the_stored_ones_and_oauth_tokens_survive_an_edit():
    existing = {
        "auth_kind": "oauth",
        "base_url": "https://acme.amocrm.ru",
        "auth_url": "",
        "credentials": {
            "client_id": "uuid",
            "client_secret": "old",
            "access_token": "a",
            "refresh_token": "r",
            "expires_at": 99,
        },
        "settings": {
            "account_id": "28805383",
            "subdomain": "acme",
            "currency": "RUB",
            "fields": [],
        },
    }
    form = ConnectionForm(
        {
            "auth_kind": "oauth",
            "base_url": "https://acme.amocrm.ru",
            "client_id": "uuid",
            "client_secret": "",
        },
        existing=existing,
    )
    assert form.is_valid(), form.errors
    config = form.config()
    assert config["credentials"] == {
        "client_id": "uuid",
        "client_secret": "old",
        "access_token": "a",
        "refresh_token": "r",
        "expires_at": "99",
    }
    assert config["settings"] == {"account_id": "28805383", "subdomain": "acme", "currency": "RUB"}
    token = ConnectionForm(
        {"auth_kind": "token", "base_url": "https://acme.amocrm.ru"},
        existing={**existing, "auth_kind": "token", "credentials": {"access_token": "jwt"}},
    )
    assert token.is_valid() and token.config()["credentials"] == {"access_token": "jwt"}
    unbound = ConnectionForm(existing=existing)
    assert unbound.initial["client_id"] == "uuid" and "client_secret" not in unbound.initial
