"""Partners as Bitrix24 contacts: ``NAME``, ``EMAIL``, our partner id in the contact's
external link (``ORIGINATOR_ID`` "prm-partner", ``ORIGIN_ID`` the partner id), the
partner's tags, segments and balances in ``COMMENTS`` (contacts have no tags in the
REST API) and its balances in the contact's user fields labelled like the leads' ("PRM
partner accrued", "… approved", "… paid"), when the portal has them.

Matching before a create: the linked contact; else ``crm.contact.list`` by ``@ORIGIN_ID``
(one batch of look-ups per 50 partners). A create whose answer was lost carries the
partner id, so the retry finds it: no duplicate. The same look-up reads the contacts'
e-mail items: a changed e-mail replaces the item it was written as (a bare value on
update would be added next to the old one)."""

from __future__ import annotations

from typing import Any

from integrations.crm.base import CrmRetryable, CrmValidationError, PushResult
from integrations.crm.bitrix24.client import MAX_BATCH, command_error
from integrations.crm.contacts_base import BALANCES, ContactRecord, fields_by_label, retry_later

ORIGINATOR = "prm-partner"


def _user_fields(connector: Any) -> dict[str, str]:
    """Our contact user fields in this portal, {role: UF_CRM_… key} (read once a job)."""
    if not hasattr(connector, "_contact_fields"):
        described = connector.client.call("crm.contact.fields", {}).get("result") or {}
        connector._contact_fields = fields_by_label(  # type: ignore[attr-defined]
            (key, info.get("listLabel") or info.get("formLabel") or info.get("title") or "")
            for key, info in described.items()
            if key.startswith("UF_") and isinstance(info, dict)
        )
    return connector._contact_fields  # type: ignore[attr-defined]


def _fields(
    record: ContactRecord, emails: list[dict[str, Any]] | None, user_fields: dict[str, str]
) -> dict[str, Any]:
    """The contact's fields; ``emails`` is the linked contact's e-mail items (None when
    creating)."""
    fields: dict[str, Any] = {
        "NAME": record.name or record.email,
        "COMMENTS": record.summary(),
        "ORIGINATOR_ID": ORIGINATOR,
        "ORIGIN_ID": record.key,
    }
    for role in BALANCES:
        if user_fields.get(role):
            fields[user_fields[role]] = record.balances.get(role, "")
    if emails is None:
        if record.email:
            fields["EMAIL"] = [{"VALUE": record.email, "VALUE_TYPE": "WORK"}]
        if record.phone:
            fields["PHONE"] = [{"VALUE": record.phone, "VALUE_TYPE": "WORK"}]
        return fields
    if record.erased:  # every e-mail item deleted
        items = [{"ID": str(e["ID"]), "DELETE": "Y"} for e in emails if e.get("ID")]
        if items:
            fields["EMAIL"] = items
        return fields
    current = [str(e.get("VALUE") or "").strip().lower() for e in emails]
    if record.email and record.email.strip().lower() not in current:
        # The partner's e-mail changed: the first item (ours) takes the new value.
        item: dict[str, Any] = {"VALUE": record.email, "VALUE_TYPE": "WORK"}
        if emails and emails[0].get("ID"):
            item["ID"] = str(emails[0]["ID"])
        fields["EMAIL"] = [item]
    return fields


def _find(
    client: Any, records: list[ContactRecord]
) -> tuple[dict[str, str], dict[str, list[dict[str, Any]]]]:
    """({partner id: contact id} for the unlinked, {contact id: e-mail items} for all
    found): one batch of up to 50 look-ups per request."""
    commands: dict[str, tuple[str, dict[str, Any]]] = {}
    keys = [r.key for r in records if not r.crm_id]
    ids = [r.crm_id for r in records if r.crm_id]
    select = ["ID", "ORIGIN_ID", "EMAIL"]
    for start in range(0, len(keys), MAX_BATCH):
        commands[f"k{start}"] = (
            "crm.contact.list",
            {
                "filter": {
                    "@ORIGIN_ID": keys[start : start + MAX_BATCH],
                    "ORIGINATOR_ID": ORIGINATOR,
                },
                "select": select,
            },
        )
    for start in range(0, len(ids), MAX_BATCH):
        commands[f"i{start}"] = (
            "crm.contact.list",
            {"filter": {"@ID": ids[start : start + MAX_BATCH]}, "select": select},
        )
    found: dict[str, str] = {}
    emails: dict[str, list[dict[str, Any]]] = {}
    got, _more = client.read_batches(commands) if commands else ({}, {})
    for key, rows in got.items():
        for row in rows or []:
            emails[str(row["ID"])] = [e for e in row.get("EMAIL") or [] if isinstance(e, dict)]
            if key.startswith("k"):
                found.setdefault(str(row.get("ORIGIN_ID")), str(row["ID"]))
    return found, emails


def push_contacts(connector: Any, records: list[ContactRecord]) -> list[PushResult]:
    client = connector.client
    results: dict[int, PushResult] = {}

    def fail(indexes: list[int], exc: Exception, *, sent: bool) -> None:
        for i in indexes:
            results.setdefault(i, retry_later(records[i].key, exc, sent=sent))

    try:
        user_fields = _user_fields(connector)
        found, emails = _find(client, records)
    except (CrmRetryable, CrmValidationError) as exc:
        fail(list(range(len(records))), exc, sent=False)
        return [results[i] for i in range(len(records))]
    ids = {i: r.crm_id or found.get(r.key, "") for i, r in enumerate(records)}
    order = list(range(len(records)))
    chunks = [order[n : n + MAX_BATCH] for n in range(0, len(order), MAX_BATCH)]
    for n, chunk in enumerate(chunks):
        commands = {}
        for i in chunk:
            if ids[i]:
                fields = _fields(records[i], emails.get(ids[i], []), user_fields)
                commands[f"c{i}"] = ("crm.contact.update", {"id": ids[i], "fields": fields})
            else:
                fields = _fields(records[i], None, user_fields)
                commands[f"c{i}"] = ("crm.contact.add", {"fields": fields})
        try:
            got, errors, _more = client.batch(commands, idempotent=False)
        except CrmRetryable as exc:
            fail(chunk, exc, sent=True)
            fail([i for later in chunks[n + 1 :] for i in later], exc, sent=False)
            break
        for i in chunk:
            key = f"c{i}"
            if key in errors:
                kind, text = command_error(errors[key])
                results[i] = PushResult(key=records[i].key, ok=False, error_kind=kind, error=text)
            elif ids[i]:
                results[i] = PushResult(key=records[i].key, ok=True, crm_id=ids[i], matched=True)
            elif got.get(key):
                results[i] = PushResult(key=records[i].key, ok=True, crm_id=str(got[key]))
            else:
                results[i] = PushResult(
                    key=records[i].key,
                    ok=False,
                    error_kind="retryable",
                    error="Bitrix24 did not return the contact",
                )
    return [results[i] for i in range(len(records))]
