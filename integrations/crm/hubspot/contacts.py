"""Partners as HubSpot contacts: ``firstname``/``lastname``, ``email`` and, where an
admin added contact properties labelled so, our partner id ("PRM partner id", best
with unique values), the tags and segments ("PRM partner tags"; HubSpot contacts have
no tags) and the balances ("PRM partner accrued", "… approved", "… paid").

Matching before a create: the linked contact; else a batch read by e-mail (a contact
carrying another partner's id is never taken). Creates are upserts keyed by our
partner id (or the e-mail, when the property is missing or not unique), which find a
contact already carrying it: a create whose answer was lost is found again, not
duplicated; 100 inputs a request, through the connector's client and its 10-second
window."""

from __future__ import annotations

from typing import Any

from integrations.crm.base import CrmRetryable, PushResult
from integrations.crm.contacts_base import (
    BALANCES,
    ContactRecord,
    fields_by_label,
    retry_later,
    stopped,
)
from integrations.crm.hubspot.sync import BATCH, HubSpotConnector


def _contact_fields(connector: HubSpotConnector) -> tuple[dict[str, str], bool]:
    """({role: property name}, whether the partner id property is unique), read once a
    job."""
    if not hasattr(connector, "_contact_fields"):
        _, answer = connector.client.request("GET", "crm/v3/properties/contacts", idempotent=True)
        rows = [r for r in (answer or {}).get("results", []) if isinstance(r, dict)]
        found = fields_by_label(
            (str(r.get("name")), str(r.get("label") or ""))
            for r in rows
            if not (r.get("modificationMetadata") or {}).get("readOnlyValue")
        )
        unique = any(
            r.get("name") == found.get("partner_id") and r.get("hasUniqueValue") for r in rows
        )
        connector._contact_fields = (found, unique)  # type: ignore[attr-defined]
    return connector._contact_fields  # type: ignore[attr-defined]


def _properties(record: ContactRecord, fields: dict[str, str]) -> dict[str, str]:
    props = {
        "firstname": record.first_name,
        "lastname": record.last_name,
        "email": record.email,
    }
    values = {"partner_id": record.key, "tags": record.tag_line()}
    values |= {role: record.balances.get(role, "") for role in BALANCES}
    for role, value in values.items():
        if fields.get(role):
            props[fields[role]] = value
    return props


def _find(connector: HubSpotConnector, records: list[ContactRecord], pid: str) -> dict[int, str]:
    """{record index: contact id} for the unlinked records, read by e-mail. No read by
    our partner id: where that property has unique values the creates are upserts
    keyed by it, which find such a contact themselves (the read cost 2 of 6 requests
    per 200 partners, bench/crm.py)."""
    open_ = [i for i, r in enumerate(records) if not r.crm_id]
    found: dict[int, str] = {}
    emails = {i: records[i].email.strip().lower() for i in open_}
    rows = connector._batch_read(
        "contacts",
        [e for e in emails.values() if e],
        ["email", *([pid] if pid else [])],
        id_property="email",
    )
    for i, email in emails.items():
        row = rows.get(email) if email else None
        theirs = str((row or {}).get("properties", {}).get(pid) or "") if pid else ""
        if row is not None and theirs in ("", records[i].key):
            found[i] = str(row["id"])
    return found


def push_contacts(connector: HubSpotConnector, records: list[ContactRecord]) -> list[PushResult]:
    results: dict[int, PushResult] = {}
    try:
        fields, unique = _contact_fields(connector)
        pid = fields.get("partner_id", "")
        found = _find(connector, records, pid)
    except CrmRetryable as exc:
        return [retry_later(r.key, exc, sent=False) for r in records]
    ids = {i: r.crm_id or found.get(i, "") for i, r in enumerate(records)}
    key_by = pid if pid and unique else "email"
    updates = [i for i in ids if ids[i]]
    creates = [i for i in ids if not ids[i]]
    steps = [("update", updates[n : n + BATCH]) for n in range(0, len(updates), BATCH)]
    steps += [("upsert", creates[n : n + BATCH]) for n in range(0, len(creates), BATCH)]
    for n, (action, chunk) in enumerate(steps):
        inputs: list[dict[str, Any]] = []
        for i in chunk:
            props = _properties(records[i], fields)
            if action == "update":
                inputs.append({"id": ids[i], "properties": props})
            else:
                inputs.append({"idProperty": key_by, "id": props[key_by], "properties": props})
        try:
            made, errors = connector._write("contacts", action, inputs, idempotent=True)
        except CrmRetryable as exc:
            stopped(results, records, steps, n, exc)
            break
        by_key = {
            str((r.get("properties") or {}).get(key_by) or "").lower(): str(r["id"]) for r in made
        }
        for k, i in enumerate(chunk):
            record = records[i]
            if k in errors:
                results[i] = PushResult(
                    key=record.key, ok=False, error_kind="validation", error=errors[k][:2000]
                )
            elif action == "update":
                results[i] = PushResult(key=record.key, ok=True, crm_id=ids[i], matched=True)
            elif crm_id := by_key.get(str(inputs[k]["id"]).lower()):
                results[i] = PushResult(key=record.key, ok=True, crm_id=crm_id)
            else:
                results[i] = PushResult(
                    key=record.key,
                    ok=False,
                    error_kind="retryable",
                    error="HubSpot did not return the contact",
                )
    return [results[i] for i in range(len(records))]
