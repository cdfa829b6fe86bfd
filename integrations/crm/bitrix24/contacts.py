"""Partners as Bitrix24 contacts: ``NAME``, ``EMAIL`` (on create: a multifield value
written on update would be added next to the old one), our partner id in the contact's
external link (``ORIGINATOR_ID`` "prm-partner", ``ORIGIN_ID`` the partner id) and the
partner's tags and segments in ``COMMENTS`` (contacts have no tags in the REST API).

Matching before a create: the linked contact; else ``crm.contact.list`` by ``@ORIGIN_ID``
(one batch of look-ups per 50 partners). A create whose answer was lost carries the
partner id, so the retry finds it: no duplicate."""

from __future__ import annotations

from typing import Any

from integrations.crm.base import CrmRetryable, CrmValidationError, PushResult
from integrations.crm.bitrix24.client import MAX_BATCH, command_error
from integrations.crm.contacts_base import ContactRecord

ORIGINATOR = "prm-partner"


def _fields(record: ContactRecord, creating: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "NAME": record.name or record.email,
        "COMMENTS": record.summary(),
        "ORIGINATOR_ID": ORIGINATOR,
        "ORIGIN_ID": record.key,
    }
    if creating and record.email:
        fields["EMAIL"] = [{"VALUE": record.email, "VALUE_TYPE": "WORK"}]
    if creating and record.phone:
        fields["PHONE"] = [{"VALUE": record.phone, "VALUE_TYPE": "WORK"}]
    return fields


def _find(client: Any, records: list[ContactRecord]) -> dict[str, str]:
    keys = [r.key for r in records if not r.crm_id]
    found: dict[str, str] = {}
    for start in range(0, len(keys), MAX_BATCH):
        part = keys[start : start + MAX_BATCH]
        got, _more = client.read_batches(
            {
                "find": (
                    "crm.contact.list",
                    {
                        "filter": {"@ORIGIN_ID": part, "ORIGINATOR_ID": ORIGINATOR},
                        "select": ["ID", "ORIGIN_ID"],
                    },
                )
            }
        )
        for row in got.get("find") or []:
            found.setdefault(str(row.get("ORIGIN_ID")), str(row["ID"]))
    return found


def push_contacts(connector: Any, records: list[ContactRecord]) -> list[PushResult]:
    client = connector.client
    results: dict[int, PushResult] = {}

    def fail(indexes: list[int], exc: Exception, *, sent: bool) -> None:
        for i in indexes:
            results.setdefault(
                i,
                PushResult(
                    key=records[i].key,
                    ok=False,
                    error_kind="retryable",
                    error=str(exc),
                    retry_after=getattr(exc, "retry_after", 0.0),
                    sent=sent,
                ),
            )

    try:
        found = _find(client, records)
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
                params = {"id": ids[i], "fields": _fields(records[i], False)}
                commands[f"c{i}"] = ("crm.contact.update", params)
            else:
                commands[f"c{i}"] = ("crm.contact.add", {"fields": _fields(records[i], True)})
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
