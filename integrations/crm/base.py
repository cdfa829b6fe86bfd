"""What every CRM connector is: the neutral records the sync engine hands over and
gets back, the errors it understands, and the interface each provider package
(``integrations/crm/<provider>/``) implements in its ``sync.py``.

The engine (``integrations/crm/engine.py``) owns everything that is the same for all
CRMs: the outbox and its retries, the mapping table, conflict rules, monitoring.
A connector owns only the CRM's wire format: how a record is matched, created and
updated in batches, how changes are read back, and how inbound events are verified.
Connectors never touch the database except through ``Credentials.save``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

# ---------------------------------------------------------------- errors


class CrmError(Exception):
    """Base of everything a connector raises on purpose."""


class CrmRetryable(CrmError):
    """Timeout, dropped connection, 5xx: the same request may succeed later."""


class CrmRateLimited(CrmRetryable):
    """The CRM refused for rate (429/503/QUERY_LIMIT_EXCEEDED/REQUEST_LIMIT_EXCEEDED)."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CrmAuthError(CrmError):
    """Credentials refused even after one token refresh: the connection is broken."""


class CrmBlockedAddress(CrmAuthError):
    """The CRM's address resolves to a private or otherwise refused address (prm.http's
    guard). Like refused credentials, nothing works until someone fixes the connection,
    so the engine marks it broken instead of retrying."""


class CrmCredentialsUnreadable(CrmAuthError):
    """The stored credentials cannot be decrypted (the encryption key changed): the
    connection needs the old key back or to be connected again."""


class CrmValidationError(CrmError):
    """The CRM refused the data itself (4xx validation): retrying will not help."""


# ---------------------------------------------------------------- records


@dataclass
class Credentials:
    """Decrypted secrets of a connection. ``save`` persists rotated tokens (the engine
    gives a callback that encrypts and stores them); connectors call it right after
    every successful refresh, before using the new token."""

    values: dict[str, Any]
    save: Callable[[dict[str, Any]], None] = lambda values: None
    # What storage holds now (another worker may have rotated the tokens), or None when
    # the connection is not stored; and a lock shared by every worker of the connection.
    reload: Callable[[], dict[str, Any] | None] = lambda: None
    lock: Callable[[], AbstractContextManager[Any]] = nullcontext

    def get(self, key: str, default: Any = "") -> Any:
        return self.values.get(key, default)

    def update(self, **changes: Any) -> None:
        self.values.update(changes)
        self.save(dict(self.values))

    def rotate(self, used_token: str, exchange: Callable[[dict[str, Any]], dict[str, Any]]) -> bool:
        """Refresh once per expiry, whoever asks: under the connection's lock, re-read the
        stored tokens; when another worker already replaced ``used_token`` take its pair,
        else ``exchange`` (the token request: values -> changes) and save the new pair
        (committed) before anything uses it. A refusal counts only when the refresh token
        we spent is still the stored one: another worker may have rotated it meanwhile.
        Returns True when this call did the refresh."""
        with self.lock():
            fresh = self.reload()
            if fresh is not None:
                if fresh.get("access_token") and fresh.get("access_token") != used_token:
                    self.values.update(fresh)
                    return False
                self.values.update(fresh)
            spent = self.values.get("refresh_token")
            try:
                changes = exchange(dict(self.values))
            except CrmAuthError:
                again = self.reload()
                if not again or not again.get("refresh_token") or again["refresh_token"] == spent:
                    raise
                self.values.update(again)
                if again.get("access_token") != used_token:
                    return False
                changes = exchange(dict(self.values))
            self.update(**changes, refreshed_at=time.time())
            return True


@dataclass
class CrmField:
    """A field a tenant can map: ``key`` is what the connector understands in
    ``CrmRecord.values`` / ``RemoteRecord.values`` (e.g. ``name``, ``email``,
    ``cf:1278898021``, ``UF_CRM_PRM_PARTNER``, ``Partner__c``)."""

    key: str
    label: str
    standard: bool = False  # a native field (name, e-mail, phone, company, notes)


@dataclass
class CrmStage:
    pipeline_id: str
    pipeline_name: str
    stage_id: str
    stage_name: str
    semantic: str = "open"  # "open", "won" or "lost"


@dataclass
class CrmRecord:
    """One PRM lead on its way to the CRM.

    ``key`` is our lead id (use it as request_id / ORIGIN_ID / external id so a result
    can be matched to its input). ``crm_id`` is set when the mapping table already knows
    the CRM record: then update it, never create. Otherwise match by ``email``,
    ``phone`` and ``key`` first, and create only when nothing matches.
    ``values`` hold the mapped fields by CRM field key; ``create_only`` lists keys the
    CRM is master of: write them only when creating (or when the CRM value is empty).
    ``stage`` is (pipeline_id, stage_id) to move to, or None to leave the stage alone.
    """

    key: str
    title: str
    email: str = ""
    phone: str = ""
    crm_id: str = ""
    crm_contact_id: str = ""
    values: dict[str, str] = field(default_factory=dict)
    create_only: set[str] = field(default_factory=set)
    stage: tuple[str, str] | None = None
    # Keys that belong to the deal rather than the lead ("Reward on this lead"): where
    # the CRM turns a lead into a separate deal (a converted Salesforce Lead becomes an
    # Opportunity and is read-only), they are written on that deal.
    deal_keys: set[str] = field(default_factory=set)


@dataclass
class PushResult:
    key: str
    ok: bool
    crm_id: str = ""
    crm_contact_id: str = ""
    matched: bool = False  # an existing CRM record was found and updated
    error_kind: str = ""  # "validation" or "retryable" when not ok
    error: str = ""
    # Set when the CRM refused for rate (CrmRateLimited.retry_after): the engine waits
    # this long and does not count the attempt against the record.
    retry_after: float = 0.0
    # False when a failure stopped the push before any request carrying this record
    # was sent: the record waits with the others but the attempt does not count.
    sent: bool = True
    # What this push wrote, as the CRM's event about it will report it (``is_echo``):
    # e.g. amoCRM the lead's updated_at from the answer, "new" for a create. "" when
    # nothing recognisable was written (its event, if any, is read back).
    echo: str = ""
    # Written, but part of it refused (e.g. HubSpot took the deal and refused its
    # contact): shown on the record and in the sync log; ``unwritten`` are the values
    # (keys of CrmRecord.values) the CRM does not hold, so they are not taken as agreed.
    warning: str = ""
    unwritten: frozenset[str] = frozenset()


@dataclass
class RemoteRecord:
    """A CRM record as read back (by id, from an event, or by polling)."""

    crm_id: str
    crm_contact_id: str = ""
    pipeline_id: str = ""
    stage_id: str = ""
    semantic: str = "open"  # "open", "won" or "lost"
    amount: Decimal | None = None
    currency: str = ""
    deleted: bool = False
    updated_at: datetime | None = None
    values: dict[str, str] = field(default_factory=dict)  # by CRM field key
    external_key: str = ""  # our lead id if the CRM record carries it


@dataclass
class ApiStats:
    """Counted by the transport for monitoring."""

    calls: int = 0
    errors: int = 0
    throttled_seconds: float = 0.0
    rate_refusals: int = 0  # answers refusing for rate (429/503), each waited out
    last_error: str = ""


class Connector:
    """Interface of a provider's connector (``integrations/crm/<provider>/sync.py``)."""

    provider: ClassVar[str]
    batch_size: ClassVar[int]  # records per write request

    def __init__(
        self,
        *,
        base_url: str,
        auth_url: str,
        auth_kind: str,
        credentials: Credentials,
        settings: dict[str, Any],
        throttle_key: str,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth_url = auth_url.rstrip("/")
        self.auth_kind = auth_kind
        self.credentials = credentials
        self.settings = settings  # the connection's provider settings (JSON)
        self.throttle_key = throttle_key  # shared by every worker using this connection
        self.stats = ApiStats()

    # -- connection
    def test_connection(self) -> str:
        """A short description of the account (name / portal / org). Raises CrmError."""
        raise NotImplementedError

    def list_fields(self) -> list[CrmField]:
        raise NotImplementedError

    def list_stages(self) -> list[CrmStage]:
        raise NotImplementedError

    # -- PRM -> CRM
    def push(self, records: list[CrmRecord]) -> list[PushResult]:
        """Match-or-create / update in batches; one result per input, same order.
        Per-record failures are results; a failure of the whole request raises."""
        raise NotImplementedError

    # -- CRM -> PRM
    def fetch(self, crm_ids: list[str]) -> list[RemoteRecord]:
        """Current state of these records (missing ones come back ``deleted=True``)."""
        raise NotImplementedError

    def changes_since(self, cursor: str) -> tuple[list[RemoteRecord], str]:
        """Records changed after ``cursor`` ("" = from the start) and the next cursor.
        Used for reconciliation (and for Salesforce, for polling)."""
        raise NotImplementedError

    def changes_page(self, cursor: str, limit: int) -> tuple[list[RemoteRecord], str, bool]:
        """``changes_since`` one slice at a time: about ``limit`` records (whole pages),
        the cursor to go on from, and whether more remain (the poll job queues itself
        again). A connector that cannot stop early reads everything at once."""
        records, cursor = self.changes_since(cursor)
        return records, cursor, False

    def parse_event(self, body: bytes, content_type: str) -> list[str]:
        """Verify an inbound webhook/event (raise CrmAuthError if it is not from the
        connected account) and return the CRM ids it is about."""
        raise NotImplementedError

    def event_versions(self, body: bytes, content_type: str) -> dict[str, str]:
        """What a verified event reports of each record it names (amoCRM: the action
        and the update time; Bitrix24: the action), by CRM id; {} when nothing."""
        return {}

    @staticmethod
    def is_echo(written: str, reported: str | None) -> bool:
        """Whether an event reporting ``reported`` (None: nothing) about a record is the
        echo of our own write ``written`` (``PushResult.echo``): then it is not read."""
        return bool(written) and written == reported

    def parse_request(
        self,
        body: bytes,
        content_type: str,
        *,
        method: str,
        uris: list[str],
        headers: Mapping[str, str],
    ) -> list[str]:
        """``parse_event`` for CRMs that sign the whole request (HubSpot's v3 signature
        covers the method and the address): ``uris`` are the addresses the request may
        have been sent to."""
        return self.parse_event(body, content_type)

    def subscribe_events(self, destination: str) -> bool:
        """Register our webhook URL with the CRM where its API allows it (amoCRM
        webhooks, Bitrix24 ``event.bind`` for OAuth apps). False when the tenant has to
        do it by hand (Bitrix24 outgoing webhook) or the CRM is polled (Salesforce)."""
        return False

    def close(self) -> None:
        """Release the HTTP client."""
