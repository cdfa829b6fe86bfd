"""Provider key -> its package (integrations/crm/<provider>/), and a connector built
for a saved connection."""

from __future__ import annotations

import contextlib
import importlib
import threading
import zlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from django.db import DatabaseError, transaction
from django.db import connection as db_connection
from django.db import connections as db_connections

from integrations.crm.base import Connector, Credentials, CrmCredentialsUnreadable
from integrations.models import CrmConnection
from prm.crypto import DecryptionError
from prm.tenancy import tenant_scope

PROVIDERS = ("amocrm", "bitrix24", "salesforce", "hubspot")


def module(provider: str, name: str) -> ModuleType:
    if provider not in PROVIDERS:
        raise LookupError(f"unknown CRM {provider!r}")
    return importlib.import_module(f"integrations.crm.{provider}.{name}")


@contextlib.contextmanager
def refresh_lock(connection: CrmConnection) -> Iterator[None]:
    """One token refresh at a time per connection, across threads and processes: a
    PostgreSQL session advisory lock on this thread's own database connection (the push
    thread has its own), held while the token is traded and saved; the whole block runs
    in the connection's tenant scope whatever thread or job asked."""
    with tenant_scope(connection.tenant):
        if db_connection.vendor != "postgresql":
            yield
            return
        key = zlib.crc32(f"crm-token:{connection.pk}".encode())
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [key])
        try:
            yield
        finally:
            with db_connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def _store(connection: CrmConnection) -> None:
    """Write the encrypted credentials so that other workers see them now. Outside a
    transaction (the push thread, a job) the UPDATE commits by itself; inside the
    caller's transaction it is also written by a short-lived thread on its own database
    connection, committed at once (a rotated Bitrix24 refresh token must never wait for
    the caller's commit: the old one is already spent)."""
    secrets = connection.secrets_encrypted
    CrmConnection.all_tenants_unscoped.filter(pk=connection.pk).update(secrets_encrypted=secrets)
    if not db_connection.in_atomic_block or db_connection.vendor != "postgresql":
        return

    def side() -> None:
        try:
            with transaction.atomic():
                with db_connection.cursor() as cursor:
                    # Never wait on a row lock the blocked caller itself holds.
                    cursor.execute("SET LOCAL lock_timeout = '2s'")
                CrmConnection.all_tenants_unscoped.filter(pk=connection.pk).update(
                    secrets_encrypted=secrets
                )
        except DatabaseError:
            pass  # the caller's own UPDATE still lands with its commit
        finally:
            db_connections.close_all()

    worker = threading.Thread(target=side, name="crm-token-save")
    worker.start()
    worker.join()


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
        _store(connection)

    def reload() -> dict[str, Any] | None:
        stored = (
            CrmConnection.all_tenants_unscoped.filter(pk=connection.pk)
            .values_list("secrets_encrypted", flat=True)
            .first()
        )
        if stored is None:
            return None
        connection.secrets_encrypted = stored
        try:
            return connection.credentials
        except DecryptionError as exc:
            raise CrmCredentialsUnreadable(str(exc)) from exc

    cls = module(connection.provider, "sync").CONNECTOR
    return cls(
        base_url=connection.base_url,
        auth_url=connection.auth_url or connection.base_url,
        auth_kind=connection.auth_kind,
        credentials=Credentials(values, save, reload=reload, lock=lambda: refresh_lock(connection)),
        settings=dict(connection.settings),
        throttle_key=str(connection.pk),
    )
