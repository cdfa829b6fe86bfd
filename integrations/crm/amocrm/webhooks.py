"""amoCRM account webhooks: subscribing, and reading what amo POSTs to us.

amo signs nothing on account webhooks (CRM_APIS.md §1.11). What protects us: the
secret in our destination URL (checked by the engine's view), the ``account[id]`` /
``account[subdomain]`` of the body matching the connected account (checked here), and
treating the body as a hint only: the engine re-reads each lead with ``fetch``.
The body is form-encoded with PHP brackets and the old v2 names:
``leads[status][0][id]=19619``, ``account[id]=28805383``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from integrations.crm.amocrm.client import AmoClient
from integrations.crm.base import CrmAuthError, CrmError

# A contact's name, e-mail and phone are the lead's too, but editing them changes the
# contact only (not the lead's updated_at, no lead event): update_contact is needed.
EVENTS = ["add_lead", "update_lead", "status_lead", "delete_lead", "update_contact"]
_LEAD_ID = re.compile(r"leads\[(add|update|status|delete|restore|responsible|note)\]\[\d+\]\[id\]")
_NOTE_LEAD = re.compile(r"leads\[note\]\[\d+\]\[note\]\[element_id\]")
_CONTACT_ID = re.compile(r"contacts\[(add|update|restore|responsible)\]\[(\d+)\]\[id\]")
CONTACT = "contact:"  # prefix of a contact id among the lead ids an event names


def parse(body: bytes, content_type: str) -> dict[str, str]:
    if "json" in (content_type or ""):
        raise CrmError("amoCRM webhooks are form-encoded, this body is JSON")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CrmError("amoCRM webhook body is not UTF-8") from exc
    return dict(parse_qsl(text, keep_blank_values=True))


def verify(form: dict[str, str], settings: dict[str, Any]) -> None:
    """Refuse a body that is not from the connected account."""
    account_id = str(settings.get("account_id") or "")
    subdomain = str(settings.get("subdomain") or "")
    if not account_id and not subdomain:
        raise CrmAuthError("amoCRM connection not tested yet: its account id is unknown")
    if account_id and form.get("account[id]", "") != account_id:
        raise CrmAuthError("amoCRM webhook from another account")
    if subdomain and form.get("account[subdomain]", "").lower() != subdomain.lower():
        raise CrmAuthError("amoCRM webhook from another subdomain")


def lead_ids(form: dict[str, str]) -> list[str]:
    """Ids of the leads the event is about, in order, without repeats; a contact the
    event is about as ``contact:<id>`` (its leads are read with it). Companies arrive
    under ``contacts`` too, with ``type=company``: not a contact, skipped."""
    seen: dict[str, None] = {}
    for key, value in form.items():
        value = value.strip()
        if not value.isdigit():
            continue
        if _LEAD_ID.fullmatch(key) or _NOTE_LEAD.fullmatch(key):
            seen.setdefault(value, None)
        elif match := _CONTACT_ID.fullmatch(key):
            kind = form.get(f"contacts[{match.group(1)}][{match.group(2)}][type]", "contact")
            if kind.strip().lower() != "company":
                seen.setdefault(CONTACT + value, None)
    return list(seen)


def lead_versions(form: dict[str, str]) -> dict[str, str]:
    """What each lead event reports, by lead id: "<action>:<updated_at>", e.g.
    "add:1733390000". A lead named by two actions of one body reports nothing."""
    versions: dict[str, str] = {}
    seen: set[str] = set()
    for key, value in form.items():
        match = _LEAD_ID.fullmatch(key)
        lead_id = value.strip()
        if not match or not lead_id.isdigit():
            continue
        updated = form.get(f"{key[: -len('[id]')]}[updated_at]", "").strip()
        if lead_id in seen:
            versions.pop(lead_id, None)
        elif updated.isdigit():
            versions[lead_id] = f"{match.group(1)}:{updated}"
        seen.add(lead_id)
    return versions


def subscribe(client: AmoClient, destination: str) -> bool:
    """Register ``destination`` for lead and contact events unless it is already
    registered with them (a second POST would make amo send every event twice; the
    same destination again updates its events in place)."""
    existing = client.get("/api/v4/webhooks", [("filter[destination]", destination)]) or {}
    for hook in (existing.get("_embedded") or {}).get("webhooks") or []:
        same = hook.get("destination") == destination and not hook.get("disabled")
        if same and set(EVENTS) <= set(hook.get("settings") or []):
            return True
    client.request(
        "POST",
        "/api/v4/webhooks",
        json={"destination": destination, "settings": EVENTS, "sort": 10},
        idempotent=True,  # same destination: amo updates the subscription in place
    )
    return True
