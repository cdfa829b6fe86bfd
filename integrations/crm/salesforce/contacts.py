"""Partners as Salesforce Contacts: ``FirstName``/``LastName`` (required), ``Email``,
the partner's tags, segments and balances in ``Description``, and, where an admin added
Contact fields labelled so, our partner id ("PRM partner id", best made an External
ID), the tags ("PRM partner tags") and the balances ("PRM partner accrued", "… approved",
"… paid").

Matching before a create: the linked Contact; else one SOQL query per chunk by our
partner id and e-mail (a Contact carrying another partner's id is never taken). A
create whose answer was lost is so found again by its partner id (or, without that
field, its e-mail): no duplicate. Writes go through sObject Collections, 200 a request,
``allOrNone: false``: one refused Contact never holds back the others."""

from __future__ import annotations

from typing import Any

from integrations.crm.base import CrmRetryable, CrmValidationError, PushResult
from integrations.crm.contacts_base import (
    BALANCES,
    ContactRecord,
    fields_by_label,
    retry_later,
    stopped,
)
from integrations.crm.salesforce.sync import RETRYABLE_CODES, SalesforceConnector

CHUNK = 200  # sObject Collections' maximum


def _contact_fields(connector: SalesforceConnector) -> dict[str, str]:
    """Our Contact fields in this org, {role: API name} (described once a job)."""
    if not hasattr(connector, "_contact_fields"):
        described = connector.client.request("GET", "sobjects/Contact/describe") or {}
        connector._contact_fields = fields_by_label(  # type: ignore[attr-defined]
            (str(f.get("name")), str(f.get("label") or ""))
            for f in described.get("fields", [])
            if isinstance(f, dict) and f.get("custom") and f.get("updateable", True)
        )
    return connector._contact_fields  # type: ignore[attr-defined]


def _body(record: ContactRecord, fields: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "attributes": {"type": "Contact"},
        "FirstName": record.first_name[:40],
        "LastName": record.last_name[:80],
        "Email": record.email or None,
        "Description": record.summary()[:32000],
    }
    values = {"partner_id": record.key, "tags": record.tag_line()}
    values |= {role: record.balances.get(role, "") for role in BALANCES}
    for role, value in values.items():
        if fields.get(role):
            body[fields[role]] = value or None
    return body


def _find(
    connector: SalesforceConnector, records: list[ContactRecord], fields: dict[str, str]
) -> dict[str, str]:
    """{partner id: Contact id} for the unlinked records (one query per chunk)."""
    pid = fields.get("partner_id", "")
    terms: list[tuple[str, str]] = []
    for record in records:
        if not record.crm_id:
            if pid:
                terms.append((pid, record.key))
            if record.email:
                terms.append(("Email", record.email))
    if not terms:
        return {}
    columns = ", ".join(["Id", "Email", *([pid] if pid else [])])
    head = f"SELECT {columns} FROM Contact WHERE "  # noqa: S608 (SOQL, values quoted)
    by_key: dict[str, str] = {}
    by_email: dict[str, str] = {}
    for where in connector._packed(head, list(dict.fromkeys(terms))):
        for row in connector.client.query(head + where + " ORDER BY CreatedDate"):
            theirs = str(row.get(pid) or "") if pid else ""
            if theirs:
                by_key.setdefault(theirs, str(row["Id"]))
            elif row.get("Email"):
                by_email.setdefault(str(row["Email"]).strip().lower(), str(row["Id"]))
    return {
        r.key: by_key.get(r.key) or by_email.get(r.email.strip().lower(), "")
        for r in records
        if not r.crm_id and (by_key.get(r.key) or by_email.get(r.email.strip().lower()))
    }


def _saved(record: ContactRecord, save: dict[str, Any], crm_id: str) -> PushResult:
    if save.get("success"):
        return PushResult(
            key=record.key,
            ok=True,
            crm_id=crm_id or str(save.get("id") or ""),
            matched=bool(crm_id),
        )
    errors = [e for e in save.get("errors") or [] if isinstance(e, dict)]
    codes = {str(e.get("statusCode") or "") for e in errors}
    kind = "retryable" if not errors or codes & RETRYABLE_CODES else "validation"
    text = "; ".join(f"{e.get('statusCode')}: {e.get('message')}" for e in errors)
    return PushResult(
        key=record.key,
        ok=False,
        error_kind=kind,
        error=(text or "no result from Salesforce")[:2000],
    )


def push_contacts(connector: SalesforceConnector, records: list[ContactRecord]) -> list[PushResult]:
    results: dict[int, PushResult] = {}
    try:
        fields = _contact_fields(connector)
        found = _find(connector, records, fields)
    except (CrmRetryable, CrmValidationError) as exc:
        return [retry_later(r.key, exc, sent=False) for r in records]
    ids = {i: r.crm_id or found.get(r.key, "") for i, r in enumerate(records)}
    updates = [i for i in ids if ids[i]]
    creates = [i for i in ids if not ids[i]]
    steps = [("PATCH", updates[n : n + CHUNK]) for n in range(0, len(updates), CHUNK)]
    steps += [("POST", creates[n : n + CHUNK]) for n in range(0, len(creates), CHUNK)]
    for n, (method, chunk) in enumerate(steps):
        bodies = []
        for i in chunk:
            body = _body(records[i], fields)
            if method == "PATCH":
                body["id"] = ids[i]
            bodies.append(body)
        try:
            answer = connector.client.request(
                method,
                "composite/sobjects",
                json={"allOrNone": False, "records": bodies},
                idempotent=method == "PATCH",  # a create is found by its key instead
            )
        except CrmValidationError as exc:
            for i in chunk:
                results[i] = PushResult(
                    key=records[i].key, ok=False, error_kind="validation", error=str(exc)[:2000]
                )
            continue
        except CrmRetryable as exc:
            stopped(results, records, steps, n, exc)
            break
        saves = answer if isinstance(answer, list) else []
        for k, i in enumerate(chunk):
            save = saves[k] if k < len(saves) and isinstance(saves[k], dict) else {}
            results[i] = _saved(records[i], save, ids[i])
    return [results[i] for i in range(len(records))]
