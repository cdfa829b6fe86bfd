"""The console form for a HubSpot connection: a private app's access token, or an OAuth
app (client id and secret; tokens come from "Authorize", refreshed as they expire); the
app's client secret also checks webhook signatures (v3). Secret fields left blank keep
the stored secret."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from integrations.crm.hubspot.client import (
    DEFAULT_AUTH_URL,
    DEFAULT_BASE_URL,
    DEFAULT_RESERVE,
    WINDOW_LIMIT,
)
from integrations.crm.hubspot.sync import KEY_FIELD
from integrations.crm.salesforce.forms import check_url

SECRETS = ("client_secret", "access_token", "refresh_token")
CREDENTIALS = ("client_id", "client_secret", "access_token", "refresh_token")

ERR_TOKEN = _("Required: the access token shown on the private app's Auth tab.")
ERR_CLIENT = _("Required: copy it from the app's Auth settings in HubSpot.")
ERR_CURRENCY = _("Use a three-letter currency code such as USD or EUR.")
ERR_PROPERTY = _("Use the internal name of a deal property: lower-case letters, digits, _.")
ERR_RESERVE = _("Enter a fraction between 0 and 0.5 of the daily allowance to leave unused.")


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
        choices=[("token", _("Private app access token")), ("oauth", _("OAuth app"))],
        initial="token",
    )
    base_url = forms.CharField(
        label=_("API address"),
        required=False,
        initial=DEFAULT_BASE_URL,
        help_text=_("https://api.hubapi.com for every HubSpot account."),
    )
    access_token = _secret(
        _("Access token"),
        _("A private app's token (pat-…); for an OAuth app filled in by “Authorize”."),
    )
    client_id = forms.CharField(label=_("Client ID"), required=False, help_text=_("OAuth app."))
    client_secret = _secret(
        _("Client secret"), _("Checks the signature of webhooks; required for an OAuth app.")
    )
    refresh_token = _secret(_("Refresh token"))
    currency = forms.CharField(
        label=_("Currency"),
        required=False,
        max_length=3,
        help_text=_("Of deal amounts without a currency; blank takes the account's currency."),
    )
    key_field = forms.CharField(
        label=_("Deal property holding the PRM lead id"),
        required=False,
        initial=KEY_FIELD,
        help_text=_("A single-line text deal property with unique values ('PRM lead id')."),
    )
    window_limit = forms.IntegerField(
        label=_("Requests per 10 seconds"),
        required=False,
        min_value=10,
        max_value=1000,
        initial=WINDOW_LIMIT,
        help_text=_(
            "HubSpot's limit for this app: 100 (Free, Starter), 190 (Professional, "
            "Enterprise), 110 for an OAuth app."
        ),
    )
    api_reserve = forms.DecimalField(
        label=_("API allowance to leave unused"),
        required=False,
        min_value=0,
        max_value=0.5,
        decimal_places=3,
        initial=DEFAULT_RESERVE,
        help_text=_("A fraction of the account's daily API calls the sync never uses."),
        error_messages={"min_value": ERR_RESERVE, "max_value": ERR_RESERVE},
    )

    def __init__(self, data: Any = None, *, existing: dict[str, Any] | None = None) -> None:
        existing = existing or {}
        settings = existing.get("settings") or {}
        credentials = existing.get("credentials") or {}
        initial = {
            "auth_kind": existing.get("auth_kind") or "token",
            "base_url": existing.get("base_url") or DEFAULT_BASE_URL,
            "client_id": credentials.get("client_id", ""),
            "currency": settings.get("currency", ""),
            "key_field": settings.get("key_field", KEY_FIELD),
            "window_limit": settings.get("window_limit", WINDOW_LIMIT),
            "api_reserve": settings.get("api_reserve", DEFAULT_RESERVE),
        }
        super().__init__(data, initial=initial)
        self.existing_credentials: dict[str, Any] = dict(credentials)
        for name in SECRETS:
            if credentials.get(name):
                self.fields[name].help_text = _("Stored. Leave blank to keep it.")

    def clean_base_url(self) -> str:
        value = (self.cleaned_data.get("base_url") or "").strip()
        return check_url(value) if value else DEFAULT_BASE_URL

    def clean_currency(self) -> str:
        value = (self.cleaned_data.get("currency") or "").strip().upper()
        if value and not re.fullmatch(r"[A-Z]{3}", value):
            raise forms.ValidationError(ERR_CURRENCY)
        return value

    def clean_key_field(self) -> str:
        value = (self.cleaned_data.get("key_field") or KEY_FIELD).strip()
        if not re.fullmatch(r"[a-z][a-z0-9_]*", value):
            raise forms.ValidationError(ERR_PROPERTY)
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in SECRETS:  # a blank secret keeps the stored one
            if not cleaned.get(name) and self.existing_credentials.get(name):
                cleaned[name] = self.existing_credentials[name]
        if cleaned.get("auth_kind") == "oauth":
            for name in ("client_id", "client_secret"):
                if not cleaned.get(name):
                    self.add_error(name, ERR_CLIENT)
        elif not cleaned.get("access_token"):
            self.add_error("access_token", ERR_TOKEN)
        return cleaned

    def config(self) -> dict[str, Any]:
        """{"auth_kind", "base_url", "auth_url", "credentials", "settings"} to save."""
        data = self.cleaned_data
        kind = data["auth_kind"]
        names = CREDENTIALS if kind == "oauth" else ("access_token", "client_secret")
        credentials = {name: data.get(name) or "" for name in names}
        reserve = data.get("api_reserve")
        settings: dict[str, Any] = {
            "key_field": data["key_field"],
            "window_limit": int(data.get("window_limit") or WINDOW_LIMIT),
            "api_reserve": float(reserve) if reserve is not None else DEFAULT_RESERVE,
        }
        if data.get("currency"):
            settings["currency"] = data["currency"]
        base = data.get("base_url") or DEFAULT_BASE_URL
        return {
            "auth_kind": kind,
            "base_url": base,
            # The consent page is on app.hubspot.com; against a fake it is the same host.
            "auth_url": DEFAULT_AUTH_URL if base == DEFAULT_BASE_URL else base,
            "credentials": credentials,
            "settings": settings,
        }
