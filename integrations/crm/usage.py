"""Token and rate figures of a connection for the status page and ``crm_health``: when
the access token expires, when it was last refreshed, and how many requests the CRM
took from us in the last hour (and refused for rate) against its bound.

The request counts come from the throttle's per-minute Redis counters
(``Throttle.count``), so reading them costs one MGET, not a table scan."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from integrations.crm.throttle import last_hour
from integrations.models import CrmConnection
from prm.crypto import DecryptionError

# Requests per second each CRM allows one connection (Salesforce: our own politeness
# limit; its real bound is the daily allowance reported in Sforce-Limit-Info).
BOUNDS = {"amocrm": 7.0, "bitrix24": 2.0, "salesforce": 25.0, "hubspot": 10.0}


def throttle_name(crm: CrmConnection) -> str:
    """The key the connector's Throttle counts under (see each client's constructor)."""
    return f"amocrm:{crm.pk}" if crm.provider == "amocrm" else str(crm.pk)


def _when(value: Any) -> str:
    try:
        stamp = float(value)
    except (TypeError, ValueError):
        return ""
    if stamp <= 0:
        return ""
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds")


def token_and_rate(crm: CrmConnection) -> dict[str, Any]:
    try:
        values = crm.credentials
    except DecryptionError:
        values = {}
    counts = last_hour(throttle_name(crm))
    bound = BOUNDS.get(crm.provider, 0.0)
    return {
        "token_expires_at": _when(values.get("expires_at")),
        "token_refreshed_at": _when(values.get("refreshed_at")),
        "token_refreshable": bool(values.get("refresh_token")),
        "requests_last_hour": counts["requests"],
        "rate_refused_last_hour": counts["refused"],
        "rate_bound_per_hour": int(bound * 3600),
        "rate_share_of_bound": (counts["requests"] / (bound * 3600)) if bound else 0.0,
    }
