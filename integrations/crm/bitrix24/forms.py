"""The console form for a Bitrix24 connection: an inbound webhook URL or an OAuth app,
the application token that proves events are genuine, and what we push (leads, or
contacts with deals in one funnel). Secret fields left blank keep the stored secret."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.utils.translation import gettext_lazy as _

from integrations.crm.bitrix24.client import DEFAULT_AUTH_URL, origin

WEBHOOK_PATH = re.compile(r"^/rest/\d+/[A-Za-z0-9]+/?$")
LOCAL_HOSTS = ("127.0.0.1", "localhost")
SECRETS = ("webhook_url", "client_secret", "access_token", "refresh_token", "application_token")
CREDENTIALS = {
    "webhook": ("webhook_url", "application_token", "member_id"),
    "oauth": (
        "client_id",
        "client_secret",
        "access_token",
        "refresh_token",
        "application_token",
        "member_id",
    ),
}
REQUIRED = {"webhook": ("webhook_url",), "oauth": ("client_id", "client_secret")}

ERR_HTTPS = _("Use an https:// address (plain http only for localhost).")
ERR_URL = _("Enter a full address, e.g. https://acme.bitrix24.com.")
ERR_WEBHOOK = _(
    "This is not an inbound webhook URL: it looks like https://acme.bitrix24.com/rest/1/abc123/."
)
ERR_REQUIRED = _("Required for this kind of authorization.")
ERR_CURRENCY = _("Use a three-letter currency code such as RUB or USD.")


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
        choices=[("webhook", _("Inbound webhook")), ("oauth", _("OAuth application"))],
        initial="webhook",
    )
    webhook_url = _secret(
        _("Inbound webhook URL"),
        _("Bitrix24 → Developer resources → Other → Inbound webhook, with the CRM scope."),
    )
    base_url = forms.CharField(
        label=_("Portal address"),
        required=False,
        help_text=_(
            "Your portal, e.g. https://acme.bitrix24.com. Taken from the webhook URL "
            "when left blank."
        ),
    )
    auth_url = forms.CharField(
        label=_("OAuth server"),
        required=False,
        initial=DEFAULT_AUTH_URL,
        help_text=_("Where tokens are issued; normally https://oauth.bitrix.info."),
    )
    client_id = forms.CharField(label=_("Application ID (client_id)"), required=False)
    client_secret = _secret(_("Application key (client_secret)"))
    access_token = _secret(
        _("Access token"), _("Filled in by “Connect”; paste only to replace it.")
    )
    refresh_token = _secret(_("Refresh token"))
    application_token = _secret(
        _("Application token for events"),
        _(
            "Shown by Bitrix24 for the outgoing webhook (or sent to the app on install); "
            "events without it are refused."
        ),
    )
    member_id = forms.CharField(label=_("Portal member_id"), required=False)
    entity = forms.ChoiceField(
        label=_("Create in Bitrix24"),
        choices=[("lead", _("Leads")), ("deal", _("Contacts and deals"))],
        initial="lead",
    )
    category_id = forms.IntegerField(
        label=_("Deal funnel (CATEGORY_ID)"), required=False, min_value=0, initial=0
    )
    currency = forms.CharField(label=_("Currency"), required=False, initial="RUB", max_length=3)

    def __init__(self, data: Any = None, *, existing: dict[str, Any] | None = None) -> None:
        existing = existing or {}
        settings = existing.get("settings") or {}
        credentials = existing.get("credentials") or {}
        initial = {
            "auth_kind": existing.get("auth_kind") or "webhook",
            "base_url": existing.get("base_url") or "",
            "auth_url": existing.get("auth_url") or DEFAULT_AUTH_URL,
            "client_id": credentials.get("client_id", ""),
            "member_id": credentials.get("member_id", ""),
            "entity": settings.get("entity", "lead"),
            "category_id": settings.get("category_id", 0),
            "currency": settings.get("currency", "RUB"),
        }
        super().__init__(data, initial=initial)
        self.existing_credentials: dict[str, Any] = dict(credentials)
        for name in SECRETS:
            if credentials.get(name):
                self.fields[name].help_text = _("Stored. Leave blank to keep it.")

    def clean_webhook_url(self) -> str:
        value = self.cleaned_data.get("webhook_url", "").strip()
        if not value:
            return ""
        url = check_url(value)
        if not WEBHOOK_PATH.match(urlsplit(url).path + "/"):
            raise forms.ValidationError(ERR_WEBHOOK)
        return url + "/"

    def clean_base_url(self) -> str:
        value = self.cleaned_data.get("base_url", "").strip()
        return check_url(value) if value else ""

    def clean_auth_url(self) -> str:
        value = self.cleaned_data.get("auth_url", "").strip()
        return check_url(value) if value else ""

    def clean_currency(self) -> str:
        value = (self.cleaned_data.get("currency") or "RUB").strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise forms.ValidationError(ERR_CURRENCY)
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = cleaned.get("auth_kind")
        if kind not in CREDENTIALS:
            return cleaned
        for name in SECRETS:  # blank keeps what is stored
            if not cleaned.get(name) and self.existing_credentials.get(name):
                cleaned[name] = self.existing_credentials[name]
        for name in REQUIRED[kind]:
            if not cleaned.get(name) and name not in self.errors:
                self.add_error(name, ERR_REQUIRED)
        if kind == "webhook" and cleaned.get("webhook_url") and not cleaned.get("base_url"):
            cleaned["base_url"] = origin(cleaned["webhook_url"])
        if kind == "oauth" and not cleaned.get("base_url") and "base_url" not in self.errors:
            self.add_error("base_url", ERR_REQUIRED)
        return cleaned

    def config(self) -> dict[str, Any]:
        """What ``connection_save`` stores (call after ``is_valid()``)."""
        data = self.cleaned_data
        kind = data["auth_kind"]
        credentials = {name: data[name] for name in CREDENTIALS[kind] if data.get(name)}
        if kind == "oauth":
            # Tokens learned by the OAuth flow stay unless replaced above.
            for name in ("access_token", "refresh_token", "member_id"):
                credentials.setdefault(name, self.existing_credentials.get(name, ""))
        return {
            "auth_kind": kind,
            "base_url": data["base_url"],
            "auth_url": (data.get("auth_url") or DEFAULT_AUTH_URL) if kind == "oauth" else "",
            "credentials": credentials,
            "settings": {
                "entity": data["entity"],
                "category_id": data.get("category_id") or 0,
                "currency": data["currency"],
            },
        }
