"""The console form of an amoCRM connection.

Two ways in: a private integration's long-lived token (one account, no refresh; the
simplest for a tenant connecting its own amo), or OAuth with the integration's id and
secret (the console then sends the admin through amo's consent page, and the tokens
land in the credentials). Secrets left blank keep the stored ones.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.utils.translation import gettext_lazy as _

from integrations.crm.amocrm.client import DEFAULT_AUTH_URL

AUTH_KINDS = [
    ("token", _("Long-lived token (private integration)")),
    ("oauth", _("OAuth 2.0 (integration id and secret)")),
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# Kept from the saved connection when the form does not touch them (tokens issued by
# the OAuth flow, the account learned when the connection was tested).
KEPT_CREDENTIALS = ("access_token", "refresh_token", "expires_at", "redirect_uri")

ERR_URL = _("Enter a full address such as https://yourcompany.amocrm.ru.")
ERR_HTTPS = _("The address must start with https:// (http:// only for 127.0.0.1 or localhost).")
ERR_REQUIRED = _("Required for this kind of connection.")
ERR_CURRENCY = _("Use a three-letter currency code such as RUB or USD.")


def _check_url(value: str) -> str:
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise forms.ValidationError(ERR_URL)
    if parts.scheme != "https" and parts.hostname not in LOCAL_HOSTS:
        raise forms.ValidationError(ERR_HTTPS)
    return value


class ConnectionForm(forms.Form):
    auth_kind = forms.ChoiceField(label=_("How to connect"), choices=AUTH_KINDS, initial="token")
    base_url = forms.CharField(
        label=_("Account address"),
        help_text=_("Your amoCRM address, e.g. https://yourcompany.amocrm.ru."),
        max_length=200,
    )
    token = forms.CharField(
        label=_("Long-lived token"),
        help_text=_(
            "amoCRM → Settings → Integrations → your private integration → Keys and access."
            " Leave blank to keep the saved one."
        ),
        required=False,
        widget=forms.PasswordInput(render_value=False),
    )
    client_id = forms.CharField(label=_("Integration id"), required=False, max_length=100)
    client_secret = forms.CharField(
        label=_("Secret key"),
        help_text=_("Leave blank to keep the saved one."),
        required=False,
        widget=forms.PasswordInput(render_value=False),
    )
    auth_url = forms.CharField(
        label=_("Consent page host"),
        help_text=_("Where amoCRM asks for consent; https://www.amocrm.ru unless told otherwise."),
        required=False,
        max_length=200,
    )
    pipeline_id = forms.IntegerField(
        label=_("Pipeline id"),
        help_text=_("New deals go to this pipeline; blank for the main pipeline."),
        required=False,
        min_value=1,
    )
    currency = forms.CharField(
        label=_("Currency of deal amounts"),
        help_text=_("amoCRM budgets carry no currency; this one is assumed."),
        required=False,
        max_length=3,
        initial="RUB",
    )

    def __init__(self, data: Any = None, *, existing: dict[str, Any] | None = None) -> None:
        self.existing = existing or {}
        saved = self.existing.get("settings") or {}
        initial = {
            "auth_kind": self.existing.get("auth_kind") or "token",
            "base_url": self.existing.get("base_url", ""),
            "auth_url": self.existing.get("auth_url", ""),
            "client_id": (self.existing.get("credentials") or {}).get("client_id", ""),
            "pipeline_id": saved.get("pipeline_id"),
            "currency": saved.get("currency", "RUB"),
        }
        super().__init__(data, initial=initial)

    def _saved(self, key: str) -> str:
        return str((self.existing.get("credentials") or {}).get(key) or "")

    def clean_base_url(self) -> str:
        return _check_url(self.cleaned_data["base_url"])

    def clean_auth_url(self) -> str:
        value = self.cleaned_data.get("auth_url", "").strip()
        return _check_url(value) if value else ""

    def clean_currency(self) -> str:
        value = (self.cleaned_data.get("currency") or "RUB").strip().upper()
        if len(value) != 3 or not value.isalpha():
            raise forms.ValidationError(ERR_CURRENCY)
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("auth_kind")
        if kind == "token" and not (data.get("token") or self._saved_token()):
            self.add_error("token", ERR_REQUIRED)
        if kind == "oauth":
            if not data.get("client_id", "").strip():
                self.add_error("client_id", ERR_REQUIRED)
            if not (data.get("client_secret") or self._saved("client_secret")):
                self.add_error("client_secret", ERR_REQUIRED)
        return data

    def _saved_token(self) -> str:
        # A long-lived token is stored as the access token; only reuse it if the saved
        # connection was a token one (an OAuth access token expires within a day).
        return self._saved("access_token") if self.existing.get("auth_kind") == "token" else ""

    def config(self) -> dict[str, Any]:
        """{"auth_kind", "base_url", "auth_url", "credentials", "settings"} to save."""
        data = self.cleaned_data
        kind = data["auth_kind"]
        if kind == "token":
            credentials: dict[str, Any] = {"access_token": data.get("token") or self._saved_token()}
        else:
            credentials = {
                "client_id": data["client_id"].strip(),
                "client_secret": data.get("client_secret") or self._saved("client_secret"),
            }
            same_app = credentials["client_id"] == self._saved("client_id")
            if self.existing.get("auth_kind") == "oauth" and same_app:
                credentials.update({k: v for k in KEPT_CREDENTIALS if (v := self._saved(k))})
        settings = {
            k: v
            for k, v in (self.existing.get("settings") or {}).items()
            if k in ("account_id", "subdomain")
        }
        settings["currency"] = data["currency"]
        if data.get("pipeline_id"):
            settings["pipeline_id"] = data["pipeline_id"]
        auth_url = data.get("auth_url") or (DEFAULT_AUTH_URL if kind == "oauth" else "")
        return {
            "auth_kind": kind,
            "base_url": data["base_url"],
            "auth_url": auth_url,
            "credentials": credentials,
            "settings": settings,
        }
