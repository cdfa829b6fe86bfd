"""HubSpot app webhooks: checking the v3 signature and reading the events.

HubSpot signs each delivery with ``X-HubSpot-Signature-v3``: base64 of
HMAC-SHA256(app secret, method + uri + body + timestamp), where ``timestamp`` is the
``X-HubSpot-Request-Timestamp`` header (milliseconds). A timestamp older than five
minutes is refused so a captured delivery cannot be replayed later. The body is a JSON
list of events; like the other connectors we treat it as a hint only and re-read deals
(a contact's event: the deals it is associated with).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import unquote

from integrations.crm.base import CrmAuthError, CrmError

MAX_AGE_MS = 5 * 60 * 1000
# HubSpot decodes these percent-escapes in the URI before signing (its v3 docs).
_DECODED = ("%3A", "%2F", "%3F", "%40", "%21", "%24", "%27", "%28", "%29", "%2A", "%2C", "%3B")


def _signed_uri(uri: str) -> str:
    for escape in _DECODED:
        uri = uri.replace(escape, unquote(escape)).replace(escape.lower(), unquote(escape))
    return uri


def signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.upper().encode() + _signed_uri(uri).encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    headers: dict[str, str],
    now_ms: int | None = None,
) -> None:
    """Refuse a delivery that is not signed by our app or is too old."""
    if not secret:
        raise CrmAuthError("HubSpot app secret is not configured")
    given = headers.get("X-HubSpot-Signature-v3", "")
    timestamp = headers.get("X-HubSpot-Request-Timestamp", "")
    if not given or not timestamp.isdigit():
        raise CrmAuthError("HubSpot webhook without a v3 signature")
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now_ms - int(timestamp)) > MAX_AGE_MS:
        raise CrmAuthError("HubSpot webhook timestamp is older than five minutes")
    expected = signature(secret, method, uri, body, timestamp)
    if not hmac.compare_digest(expected, given):
        raise CrmAuthError("HubSpot webhook signature does not match")


CONTACT_PREFIX = "contact:"  # a contact's event: re-read the deals it is on


def deal_ids(body: bytes, portal_id: str = "") -> list[str]:
    """Ids of the deals the events are about, and "contact:<id>" for contact events (a
    contact edit does not touch its deals), in order, without repeats; with
    ``portal_id``, events of another portal (an app installed in several) are refused."""
    try:
        events = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CrmError("HubSpot webhook body is not JSON") from exc
    if not isinstance(events, list):
        raise CrmError("HubSpot webhook body is not a list of events")
    seen: dict[str, None] = {}
    for event in events:
        if not isinstance(event, dict):
            continue
        if portal_id and str(event.get("portalId") or "") != portal_id:
            raise CrmAuthError("HubSpot webhook from another portal")
        kind = str(event.get("subscriptionType") or "")
        object_id = str(event.get("objectId") or "")
        if kind.startswith("deal.") and object_id.isdigit():
            seen.setdefault(object_id, None)
        elif kind.startswith("contact.") and object_id.isdigit():
            seen.setdefault(CONTACT_PREFIX + object_id, None)
    return list(seen)
