"""Partners as amoCRM contacts: name, e-mail, phone, our partner id (in a contact field
labelled "PRM partner id", when the account has one), the partner's tags and
segments as the contact's ``_embedded.tags``, and its balances in contact fields
labelled like the leads' ("PRM partner accrued", "… approved", "… paid"), when the
account has them.

Matching before a create: the linked contact's id; else ``query=`` by our partner id
(when the field exists), then by e-mail (a contact carrying another partner's id is
never taken). A create whose answer was lost is so found again: no duplicate."""

from __future__ import annotations

from typing import Any

from integrations.crm.amocrm import mapping as M
from integrations.crm.amocrm.sync import AmoConnector
from integrations.crm.base import CrmRetryable, PushResult
from integrations.crm.contacts_base import (
    BALANCES,
    CONTACT_BATCH,
    ContactRecord,
    fields_by_label,
    retry_later,
)

PATH = "/api/v4/contacts"


def _contact_fields(connector: AmoConnector) -> dict[str, str]:
    """Our contact fields in this account, {role: field id} (read once per job)."""
    if not hasattr(connector, "_contact_fields"):
        found = fields_by_label(
            (str(f["id"]), str(f.get("name", "")))
            for page in connector.client.pages(f"{PATH}/custom_fields", "custom_fields")
            for f in page
        )
        connector._contact_fields = found  # type: ignore[attr-defined]
    return connector._contact_fields  # type: ignore[attr-defined]


def _item(record: ContactRecord, fields: dict[str, str]) -> dict[str, Any]:
    item = M.contact_body({"name": record.name, "email": record.email, "phone": record.phone})
    item.setdefault("name", record.name or record.email)
    values = {"partner_id": record.key, "tags": record.tag_line()}
    # A balance gone blank is written as such (amoCRM keeps a field left out).
    values |= {role: record.balances.get(role, "") for role in BALANCES}
    for role, value in values.items():
        if fields.get(role):
            item.setdefault("custom_fields_values", []).append(
                {"field_id": int(fields[role]), "values": [{"value": value}] if value else None}
            )
    if record.erased:  # the e-mail and phone cleared (a field left out would stay)
        item.setdefault("custom_fields_values", []).extend(
            {"field_code": code, "values": None} for code in ("EMAIL", "PHONE")
        )
    names = list(dict.fromkeys([*record.tags, *record.segments]))
    item["_embedded"] = {"tags": [{"name": n} for n in names]}
    return item


QUERY_MAX = 25  # more unmatched partners than this: read the account's contacts once


def _account_index(connector: AmoConnector, field_id: int | None) -> dict[str, str]:
    """The account's contacts, read once per job slice (the connector lives for one) and
    kept up to date with the contacts the job creates. Read per chunk, a first sync of
    N partners read the account N/200 times over as it grew: O(N²) requests (10,000
    partners: ~1,000 look-ups for 200 writes, bench/crm.py)."""
    if not hasattr(connector, "_contact_index"):
        connector._contact_index = _index(connector, field_id)  # type: ignore[attr-defined]
    return connector._contact_index  # type: ignore[attr-defined]


def _forget_index(connector: AmoConnector) -> None:
    """A create whose answer was lost may have made contacts: read the account again."""
    if hasattr(connector, "_contact_index"):
        del connector._contact_index  # type: ignore[attr-defined]


def _remember(
    connector: AmoConnector, record: ContactRecord, field_id: int | None, crm_id: str
) -> None:
    """A contact just created goes into the read index, keyed as _index would."""
    index = getattr(connector, "_contact_index", None)
    email = M.norm_email(record.email)
    if index is not None and (field_id or email):
        index[record.key if field_id else "@" + email] = crm_id


def _index(connector: AmoConnector, field_id: int | None) -> dict[str, str]:
    """Contact ids by our partner id and by e-mail ("@" keys), 250 contacts a request."""
    index: dict[str, str] = {}
    for page in connector.client.pages(PATH, "contacts"):
        for c in page:
            theirs = M.cf_text(c, field_id) if field_id else ""
            if theirs:
                index.setdefault(theirs, str(c["id"]))
            else:
                for email in M.contact_emails(c):
                    index.setdefault("@" + email, str(c["id"]))
    return index


def _matched(index: dict[str, str], record: ContactRecord) -> str:
    email = M.norm_email(record.email)
    return index.get(record.key) or (email and index.get("@" + email)) or ""


def _find(connector: AmoConnector, record: ContactRecord, field_id: int | None) -> str:
    terms = [record.key] if field_id else []
    if record.email:
        terms.append(record.email)
    email = M.norm_email(record.email)
    for term in terms:
        for c in connector._first_page(PATH, "contacts", term, []):
            theirs = M.cf_text(c, field_id) if field_id else ""
            if theirs == record.key:
                return str(c["id"])
            if not theirs and email and email in M.contact_emails(c):
                return str(c["id"])
    return ""


def push_contacts(connector: AmoConnector, records: list[ContactRecord]) -> list[PushResult]:
    results: dict[int, PushResult] = {}

    def fail(indexes: list[int], exc: Exception, *, sent: bool) -> None:
        for i in indexes:
            results.setdefault(i, retry_later(records[i].key, exc, sent=sent))

    try:
        fields = _contact_fields(connector)
        field_id = int(fields["partner_id"]) if fields.get("partner_id") else None
        if sum(1 for r in records if not r.crm_id) > QUERY_MAX:
            index = _account_index(connector, field_id)
            found = {i: r.crm_id or _matched(index, r) for i, r in enumerate(records)}
        else:
            found = {i: r.crm_id or _find(connector, r, field_id) for i, r in enumerate(records)}
    except CrmRetryable as exc:
        fail(list(range(len(records))), exc, sent=False)
        return [results[i] for i in range(len(records))]
    updates = [i for i, crm_id in found.items() if crm_id]
    creates = [i for i, crm_id in found.items() if not crm_id]
    steps = [
        ("PATCH", updates[n : n + CONTACT_BATCH]) for n in range(0, len(updates), CONTACT_BATCH)
    ]
    steps += [
        ("POST", creates[n : n + CONTACT_BATCH]) for n in range(0, len(creates), CONTACT_BATCH)
    ]
    for n, (method, chunk) in enumerate(steps):
        items = []
        for i in chunk:
            item = {**_item(records[i], fields), "request_id": str(i)}
            if method == "PATCH":
                item["id"] = int(found[i])
            items.append(item)
        try:
            body, refused = connector._write(method, PATH, items)
        except CrmRetryable as exc:
            if method == "POST":
                _forget_index(connector)
            fail(chunk, exc, sent=True)
            fail([i for _, later in steps[n + 1 :] for i in later], exc, sent=False)
            break
        for request_id, error in refused.items():
            i = int(request_id)
            results[i] = PushResult(
                key=records[i].key, ok=False, error_kind="validation", error=error
            )
        answered = {
            str(row.get("request_id")): str(row["id"])
            for row in ((body or {}).get("_embedded") or {}).get("contacts") or []
        }
        for i in chunk:
            if i in results:
                continue
            crm_id = answered.get(str(i)) or (found[i] if method == "PATCH" else "")
            if crm_id:
                results[i] = PushResult(
                    key=records[i].key, ok=True, crm_id=crm_id, matched=method == "PATCH"
                )
                if method == "POST":
                    _remember(connector, records[i], field_id, crm_id)
            else:
                if method == "POST":  # made or not: the account is read again
                    _forget_index(connector)
                results[i] = PushResult(
                    key=records[i].key,
                    ok=False,
                    error_kind="retryable",
                    error="amoCRM did not return the contact",
                )
    return [results[i] for i in range(len(records))]
