"""The console form for a Salesforce connection: the connected app's consumer key and
secret (tokens come from "Connect", the OAuth web-server flow), the login host, the
instance URL, and sync settings. Secret fields left blank keep the stored secret."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.utils.translation import gettext_lazy as _

from integrations.crm.salesforce.client import DEFAULT_AUTH_URL, DEFAULT_RESERVE, DEFAULT_VERSION
from integrations.crm.salesforce.sync import KEY_FIELD

LOCAL_HOSTS = ("127.0.0.1", "localhost")
SECRETS = ("client_secret", "access_token", "refresh_token")
CREDENTIALS = ("client_id", "client_secret", "access_token", "refresh_token")

ERR_HTTPS = _("Use an https:// address (plain http only for localhost).")
ERR_URL = _("Enter a full address, e.g. https://acme.my.salesforce.com.")
ERR_REQUIRED = _("Required: copy it from the connected app in Salesforce Setup.")
ERR_VERSION = _("Use an API version such as v62.0.")
ERR_CURRENCY = _("Use a three-letter currency code such as USD or EUR.")
ERR_FIELD = _("Use the API name of a custom text field, ending in __c.")
ERR_RESERVE = _("Enter a fraction between 0 and 0.5 of the daily allowance to leave unused.")


def check_url(value: str) -> str:
    """A URL we may call: https, or http on a local host (tests, staging fakes)."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise forms.ValidationError(ERR_URL)
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        raise forms.ValidationError(ERR_HTTPS)
    return value.strip().rstrip("/")


def _secret(label: Any, help_text: Any = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        help_text=help_text,
        required=False,
        widget=forms.PasswordInput(render_value=False),
    )


class ConnectionForm(forms.Form):
    auth_kind = forms.ChoiceField(
        label=_("Authorization"),
        choices=[("oauth", _("OAuth 2.0 connected app"))],
        initial="oauth",
    )
    auth_url = forms.CharField(
        label=_("Login host"),
        required=False,
        initial=DEFAULT_AUTH_URL,
        help_text=_(
            "https://login.salesforce.com, https://test.salesforce.com for a sandbox, or "
            "your My Domain address."
        ),
    )
    base_url = forms.CharField(
        label=_("Instance URL"),
        required=False,
        help_text=_("Filled in by “Connect” (the instance_url Salesforce gives)."),
    )
    client_id = forms.CharField(
        label=_("Consumer key"), required=False, help_text=_("From the connected app.")
    )
    client_secret = _secret(_("Consumer secret"))
    access_token = _secret(
        _("Access token"), _("Filled in by “Connect”; paste only to replace it.")
    )
    refresh_token = _secret(_("Refresh token"))
    api_version = forms.CharField(label=_("API version"), required=False, initial=DEFAULT_VERSION)
    currency = forms.CharField(
        label=_("Currency"),
        required=False,
        max_length=3,
        help_text=_("Of won deals; blank takes the org's default currency."),
    )
    key_field = forms.CharField(
        label=_("Field holding the PRM lead id"),
        required=False,
        initial=KEY_FIELD,
        help_text=_(
            "A custom text field on Lead, marked External ID, so leads can be found by it."
        ),
    )
    api_reserve = forms.DecimalField(
        label=_("API allowance to leave unused"),
        required=False,
        min_value=0,
        max_value=0.5,
        decimal_places=3,
        initial=DEFAULT_RESERVE,
        help_text=_("A fraction of the org's daily API calls the sync never uses (0.05 = 5 %)."),
        error_messages={"min_value": ERR_RESERVE, "max_value": ERR_RESERVE},
    )

    def __init__(self, data: Any = None, *, existing: dict[str, Any] | None = None) -> None:
        existing = existing or {}
        settings = existing.get("settings") or {}
        credentials = existing.get("credentials") or {}
        initial = {
            "auth_kind": existing.get("auth_kind") or "oauth",
            "base_url": existing.get("base_url") or "",
            "auth_url": existing.get("auth_url") or DEFAULT_AUTH_URL,
            "client_id": credentials.get("client_id", ""),
            "api_version": settings.get("api_version", DEFAULT_VERSION),
            "currency": settings.get("currency", ""),
            "key_field": settings.get("key_field", KEY_FIELD),
            "api_reserve": settings.get("api_reserve", DEFAULT_RESERVE),
        }
        super().__init__(data, initial=initial)
        self.existing_credentials: dict[str, Any] = dict(credentials)
        self.existing_settings: dict[str, Any] = dict(settings)
        for name in SECRETS:
            if credentials.get(name):
                self.fields[name].help_text = _("Stored. Leave blank to keep it.")

    def clean_base_url(self) -> str:
        value = self.cleaned_data.get("base_url", "").strip()
        return check_url(value) if value else ""

    def clean_auth_url(self) -> str:
        value = self.cleaned_data.get("auth_url", "").strip()
        return check_url(value) if value else DEFAULT_AUTH_URL

    def clean_api_version(self) -> str:
        value = (self.cleaned_data.get("api_version") or DEFAULT_VERSION).strip()
        value = value if value.startswith("v") else f"v{value}"
        value = value if "." in value else f"{value}.0"
        if not re.fullmatch(r"v\d{2}\.0", value):
            raise forms.ValidationError(ERR_VERSION)
        return value

    def clean_currency(self) -> str:
        value = (self.cleaned_data.get("currency") or "").strip().upper()
        if value and not re.fullmatch(r"[A-Z]{3}", value):
            raise forms.ValidationError(ERR_CURRENCY)
        return value

    def clean_key_field(self) -> str:
        value = (self.cleaned_data.get("key_field") or KEY_FIELD).strip()
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*__c", value):
            raise forms.ValidationError(ERR_FIELD)
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in SECRETS:  # a blank secret keeps the stored one
            if not cleaned.get(name) and self.existing_credentials.get(name):
                cleaned[name] = self.existing_credentials[name]
        for name in ("client_id", "client_secret"):
            if not cleaned.get(name):
                self.add_error(name, ERR_REQUIRED)
        return cleaned

    def config(self) -> dict[str, Any]:
        """{"auth_kind", "base_url", "auth_url", "credentials", "settings"} to save."""
        data = self.cleaned_data
        credentials = {name: data.get(name) or "" for name in CREDENTIALS}
        reserve = data.get("api_reserve")
        settings = {
            "api_version": data["api_version"],
            "key_field": data["key_field"],
            "api_reserve": float(reserve) if reserve is not None else DEFAULT_RESERVE,
        }
        if data.get("currency"):
            settings["currency"] = data["currency"]
        return {
            "auth_kind": data["auth_kind"],
            "base_url": data.get("base_url") or self.initial.get("base_url", ""),
            "auth_url": data.get("auth_url") or DEFAULT_AUTH_URL,
            "credentials": credentials,
            "settings": settings,
        }
