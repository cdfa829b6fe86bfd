"""What every fake CRM server offers the tests (amoCRM, Bitrix24, Salesforce).

Each fake is a real HTTP server on 127.0.0.1 (port 0 = any free port) speaking its
CRM's API as ``../shared/CRM_APIS.md`` describes it. Besides the wire API, each fake has
the same Python "control panel" below, so the engine's checklist tests
(tests/integrations/test_checklist.py) run unchanged against all three.

Neutral record view (``records()``): one dict per CRM record of the kind the connector
pushes PRM leads into (amoCRM lead, Bitrix24 lead or deal, Salesforce Lead)::

    {"id": "19619", "title": "...", "email": "a@b.test", "phone": "+79001234567",
     "fields": {<CrmField.key>: "value", ...},   # mapped custom fields, by connector key
     "stage": ("pipeline id", "stage id"), "semantic": "open"|"won"|"lost",
     "amount": "150000" or None, "deleted": False}

The fake comes with custom fields labelled exactly "PRM lead id", "PRM partner",
"PRM referral code", "PRM promo code" and "PRM program" (the engine maps them by label).
"""

from __future__ import annotations

from typing import Any, Protocol

FAULTS = ("500", "timeout", "drop", "rate", "401", "404")


class FakeCrm(Protocol):
    provider: str  # "amocrm" | "bitrix24" | "salesforce"
    base_url: str  # API base URL a connection is given
    auth_url: str  # token host URL a connection is given (may equal base_url)
    rate_limit: bool  # enforce the CRM's real rate limit (off by default in tests)
    requests: list[Any]  # every request received: .method .path .status (None = dropped)

    def start(self) -> FakeCrm: ...
    def stop(self) -> None: ...

    # -- connection set-up: what a tenant would type into the console form
    def connection_config(self) -> dict[str, Any]:
        """{"auth_kind": ..., "base_url": ..., "auth_url": ..., "credentials": {...},
        "settings": {...}} accepted by integrations.services.connections.connection_save."""

    # -- trouble
    def inject(self, fault: str, times: int = 1, path: str | None = None) -> None:
        """The next ``times`` requests (whose path contains ``path``, if given) fail with
        ``fault``: "500" (5xx in the CRM's error shape), "timeout" (the request is
        processed, then answered only after the client gave up), "drop" (connection
        closed before any work), "rate" (the CRM's real rate-limit answer), "401", "404" (the
        CRM's not-found answer: a permanent refusal)."""

    def expire_tokens(self) -> None:
        """Every access token issued so far is now expired (refresh must follow)."""

    def revoke(self) -> None:
        """Credentials revoked: refresh fails too (connection must be marked broken)."""

    # -- the CRM-side world, as a person using the CRM would change it
    def records(self) -> list[dict[str, Any]]: ...
    def create_record(
        self, title: str, email: str = "", phone: str = "", fields: dict[str, str] | None = None
    ) -> str: ...
    def update_record(self, crm_id: str, **values: str) -> None:
        """Change title/email/phone or a field key (bumps the record's modified time)."""

    def move(self, crm_id: str, semantic: str, amount: str | None = None) -> None:
        """Move to a won / lost / open stage, optionally setting the deal amount."""

    def delete_record(self, crm_id: str) -> None: ...

    # -- events the CRM sends to us (None for Salesforce, which we poll)
    def event_body(self, crm_id: str, kind: str) -> tuple[str, bytes] | None:
        """(content type, body) of the webhook the CRM would POST for this change;
        ``kind`` is "add", "update", "status" or "delete"."""

    def send_event(self, url: str, crm_id: str, kind: str) -> int | None:
        """POST that body to ``url`` over real HTTP (``*.localhost`` hosts are sent to
        127.0.0.1 with the right Host header); returns the status or None."""
