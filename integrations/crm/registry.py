"""Provider key -> its package (integrations/crm/<provider>/), and a connector built
for a saved connection."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from integrations.crm.base import Connector, Credentials, CrmCredentialsUnreadable
from integrations.models import CrmConnection
from prm.crypto import DecryptionError

PROVIDERS = ("amocrm", "bitrix24", "salesforce")


def module(provider: str, name: str) -> ModuleType:
    if provider not in PROVIDERS:
        raise LookupError(f"unknown CRM {provider!r}")
    return importlib.import_module(f"integrations.crm.{provider}.{name}")


def connector_for(connection: CrmConnection) -> Connector:
    """A connector whose rotated tokens are written back (encrypted) at once, outside
    any transaction of the caller, so a later failure cannot lose them.

    Raises CrmCredentialsUnreadable (a CrmAuthError: the connection needs fixing, like
    refused credentials) when the stored credentials no longer decrypt."""
    try:
        values = connection.credentials
    except DecryptionError as exc:
        raise CrmCredentialsUnreadable(str(exc)) from exc

    def save(values: dict[str, Any]) -> None:
        connection.set_credentials(values)
        CrmConnection.objects.filter(pk=connection.pk).update(
            secrets_encrypted=connection.secrets_encrypted
        )

    cls = module(connection.provider, "sync").CONNECTOR
    return cls(
        base_url=connection.base_url,
        auth_url=connection.auth_url or connection.base_url,
        auth_kind=connection.auth_kind,
        credentials=Credentials(values, save),
        settings=dict(connection.settings),
        throttle_key=str(connection.pk),
    )
