"""Events from Bitrix24: form-encoded POSTs (``event=ONCRMLEADUPDATE``,
``data[FIELDS][ID]=..``, ``auth[application_token]=..``) from an outgoing webhook or an
``event.bind`` handler.

There is no signature: the application token (shown for the outgoing webhook, or given
to the app in ONAPPINSTALL) is the proof, so it is compared in constant time, and the
portal's ``member_id`` must match when we know it. Bitrix never re-delivers a failed
event; the engine's reconciliation (``changes_since``) covers the gaps.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import parse_qsl

from integrations.crm.base import CrmAuthError, CrmError
from prm.inputs import MAX_DEPTH, InputError, clean_text, json_depth, parse_json

ENTITY_EVENTS = {
    "lead": ("ONCRMLEADADD", "ONCRMLEADUPDATE", "ONCRMLEADDELETE"),
    "deal": ("ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALDELETE"),
}
# A lead connection follows the deals its leads are converted into: their events are
# reported as "deal:<id>", which the connector reads back as the deal's lead.
FOLLOWED_EVENTS = {"lead": ("ONCRMDEALADD", "ONCRMDEALUPDATE")}
DEAL_PREFIX = "deal:"
INSTALL_EVENT = "ONAPPINSTALL"


def parse_body(body: bytes, content_type: str) -> dict[str, str]:
    """Flat ``{"event": .., "data[FIELDS][ID]": .., "auth[member_id]": ..}``."""
    text = body.decode("utf-8", errors="replace")
    if "json" in content_type:
        if json_depth(text) > MAX_DEPTH:
            raise CrmError(f"Bitrix24 event nested deeper than {MAX_DEPTH} levels")
        try:
            data = parse_json(text)  # cleaned; the depth checked above, so _flatten is safe
        except InputError as exc:
            raise CrmAuthError("Bitrix24 event is not valid JSON") from exc
        return _flatten(data) if isinstance(data, dict) else {}
    return {clean_text(k, 1024): clean_text(v) for k, v in parse_qsl(text, keep_blank_values=True)}


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(_flatten(value, name))
        else:
            flat[name] = "" if value is None else str(value)
    return flat


def verify(form: dict[str, str], *, application_token: str, member_id: str) -> None:
    """Raise CrmAuthError unless the event comes from the connected portal."""
    given = form.get("auth[application_token]", "")
    if not application_token:
        raise CrmAuthError("no Bitrix24 application token is configured for events")
    if not hmac.compare_digest(given.encode(), str(application_token).encode()):
        raise CrmAuthError("Bitrix24 event with a wrong application token")
    if member_id and form.get("auth[member_id]", member_id) != member_id:
        raise CrmAuthError("Bitrix24 event from another portal")


def event_ids(form: dict[str, str], entity: str) -> list[str]:
    """Ids of our entity the event is about ("deal:<id>" for a deal a lead connection
    follows; other entities' events: none)."""
    event = form.get("event", "").upper()
    crm_id = form.get("data[FIELDS][ID]", "").strip()
    if not crm_id.isdigit():
        return []
    if event in ENTITY_EVENTS.get(entity, ()):
        return [crm_id]
    if event in FOLLOWED_EVENTS.get(entity, ()):
        return [f"{DEAL_PREFIX}{crm_id}"]
    return []


def event_action(form: dict[str, str]) -> str:
    """ "add", "update" or "delete" for our entities' events ("" for others)."""
    name = form.get("event", "").upper()
    for verb in ("ADD", "UPDATE", "DELETE"):
        if name.startswith("ONCRM") and name.endswith(verb):
            return verb.lower()
    return ""


def bind_commands(entity: str, destination: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """``event.bind`` for our entity's add/update/delete events (and the deal events a
    lead connection follows), one batch."""
    names = (*ENTITY_EVENTS[entity], *FOLLOWED_EVENTS.get(entity, ()))
    return {
        f"bind_{n}": ("event.bind", {"event": name, "handler": destination, "event_type": "online"})
        for n, name in enumerate(names)
    }


def already_bound(error: Any) -> bool:
    text = str(error.get("error_description") if isinstance(error, dict) else error).lower()
    return "already" in text
