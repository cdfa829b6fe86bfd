"""Neutral records <-> Bitrix24 field dicts. Pure functions, no I/O.

Where things live in Bitrix24:
- entity "lead": TITLE, NAME, EMAIL/PHONE multifields, COMPANY_TITLE, COMMENTS on the
  lead itself; STATUS_ID is the stage.
- entity "deal": NAME/EMAIL/PHONE on a contact, the deal (CONTACT_ID) carries TITLE,
  COMMENTS, STAGE_ID and CATEGORY_ID (the funnel).
- our lead id: ORIGINATOR_ID="prm" + ORIGIN_ID=<lead id> (filterable in *.list), so a
  re-sent create is found again instead of duplicated.
- custom fields: UF_CRM_* keys, passed through as plain values.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from integrations.crm.base import CrmField, CrmRecord, RemoteRecord

ORIGINATOR = "prm"
LEAD_PIPELINE = "STATUS"  # crm.status.list ENTITY_ID of lead statuses
# Neutral key -> Bitrix field, per entity. Deals keep the person on a contact; Bitrix
# deals have no company-title field (a company is an entity of its own), so "company"
# is only standard for leads.
LEAD_STANDARD = {
    "name": "NAME",
    "email": "EMAIL",
    "phone": "PHONE",
    "company": "COMPANY_TITLE",
    "notes": "COMMENTS",
}
CONTACT_STANDARD = {"name": "NAME", "email": "EMAIL", "phone": "PHONE"}
DEAL_STANDARD = {"notes": "COMMENTS"}
LABELS = {
    "name": "Name",
    "email": "E-mail",
    "phone": "Phone",
    "company": "Company",
    "notes": "Comment",
}
MULTI = ("EMAIL", "PHONE")
SEMANTICS = {"S": "won", "F": "lost", "success": "won", "failure": "lost"}
LEAD_SELECT = ["*", "UF_*", "EMAIL", "PHONE"]
DEAL_SELECT = ["*", "UF_*"]
# What a lead's deal (made when the lead was converted) tells us: its outcome.
LEAD_DEAL_SELECT = [
    "ID",
    "LEAD_ID",
    "CATEGORY_ID",
    "STAGE_ID",
    "STAGE_SEMANTIC_ID",
    "OPPORTUNITY",
    "CURRENCY_ID",
    "DATE_MODIFY",
]
LEAD_CONVERTED = "CONVERTED"
DEAL_PIPELINE = "DEAL"  # a converted lead's stages: "DEAL:<funnel>" (its deal's)
CONTACT_SELECT = [
    "ID",
    "NAME",
    "SECOND_NAME",
    "LAST_NAME",
    "EMAIL",
    "PHONE",
    "ORIGINATOR_ID",
    "ORIGIN_ID",
]


def standard_fields(entity: str) -> list[CrmField]:
    keys = LEAD_STANDARD if entity == "lead" else {**CONTACT_STANDARD, **DEAL_STANDARD}
    return [CrmField(key, LABELS[key], standard=True) for key in keys]


def custom_fields(meta: dict[str, Any]) -> list[CrmField]:
    """UF_CRM_* fields from ``crm.<entity>.fields``, labelled as people see them."""
    fields = []
    for key, info in meta.items():
        if not key.startswith("UF_CRM_") or not isinstance(info, dict):
            continue
        label = info.get("listLabel") or info.get("formLabel") or info.get("title") or key
        fields.append(CrmField(key, str(label)))
    return fields


def phone_digits(phone: str) -> str:
    return re.sub(r"\D", "", phone or "")


def multi_values(row: dict[str, Any], name: str) -> list[str]:
    items = row.get(name)
    if not isinstance(items, list):
        return []
    return [str(i.get("VALUE") or "") for i in items if isinstance(i, dict) and i.get("VALUE")]


def full_name(row: dict[str, Any]) -> str:
    parts = (row.get("NAME"), row.get("SECOND_NAME"), row.get("LAST_NAME"))
    return " ".join(str(p).strip() for p in parts if p and str(p).strip())


def _current(row: dict[str, Any], field: str) -> str:
    if field == "NAME":
        return full_name(row)
    if field in MULTI:
        values = multi_values(row, field)
        return values[0] if values else ""
    value = row.get(field)
    return "" if value is None else str(value)


def _same(field: str, ours: str, theirs_row: dict[str, Any]) -> bool:
    if field == "EMAIL":
        return ours.strip().lower() in {v.lower() for v in multi_values(theirs_row, field)}
    if field == "PHONE":
        return phone_digits(ours) in {phone_digits(v) for v in multi_values(theirs_row, field)}
    return ours == _current(theirs_row, field)


def _multi_write(field: str, value: str, row: dict[str, Any] | None) -> list[dict[str, str]]:
    kind = "WORK"
    items = (row or {}).get(field)
    first = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else None
    if first and first.get("ID"):
        # Items without ID are appended by Bitrix: overwrite the first value instead.
        return [
            {"ID": str(first["ID"]), "VALUE": value, "VALUE_TYPE": first.get("VALUE_TYPE") or kind}
        ]
    return [{"VALUE": value, "VALUE_TYPE": kind}]


def write_fields(
    record: CrmRecord,
    row: dict[str, Any] | None,
    standard: dict[str, str],
    *,
    custom: bool,
) -> dict[str, Any]:
    """Fields to send for one Bitrix entity: everything on create (``row`` None);
    on update only what differs, and CRM-mastered keys only where Bitrix is empty."""
    values = dict(record.values)
    if row is None:
        # Unmapped e-mail/phone still go in on create: they are what we match on later.
        if "EMAIL" in standard.values() and "email" not in values and record.email:
            values["email"] = record.email
        if "PHONE" in standard.values() and "phone" not in values and record.phone:
            values["phone"] = record.phone
    fields: dict[str, Any] = {}
    for key, value in values.items():
        value = "" if value is None else str(value)
        if key in standard:
            field = standard[key]
        elif custom and key.upper() == key and not key.startswith("ORIGIN"):
            field = key  # UF_CRM_* or another native Bitrix field chosen by the tenant
        else:
            continue
        if row is not None:
            if key in record.create_only and _current(row, field):
                continue
            if _same(field, value, row):
                continue
        if field in MULTI:
            if value:  # we never clear the CRM's e-mail or phone
                fields[field] = _multi_write(field, value, row)
        else:
            fields[field] = value
    return fields


def origin_fields(record: CrmRecord, row: dict[str, Any] | None) -> dict[str, str]:
    """Stamp our lead id on a record that does not carry one yet."""
    if row is not None and row.get("ORIGIN_ID"):
        return {}
    return {"ORIGINATOR_ID": ORIGINATOR, "ORIGIN_ID": record.key}


def lead_fields(record: CrmRecord, row: dict[str, Any] | None, currency: str) -> dict[str, Any]:
    fields = write_fields(record, row, LEAD_STANDARD, custom=True)
    fields.update(origin_fields(record, row))
    if row is None:
        fields.update(TITLE=record.title, SOURCE_ID="PARTNER", OPENED="Y", CURRENCY_ID=currency)
    # A lead status only, on a lead not converted (a converted lead's deal moves instead).
    stage = record.stage if record.stage is not None and record.stage[0] == LEAD_PIPELINE else None
    if stage is not None and (
        row is None or (row.get("STATUS_ID") != stage[1] and not converted(row))
    ):
        fields["STATUS_ID"] = stage[1]
    return fields


def contact_fields(record: CrmRecord, row: dict[str, Any] | None) -> dict[str, Any]:
    fields = write_fields(record, row, CONTACT_STANDARD, custom=False)
    if row is None:
        fields.update(OPENED="Y", SOURCE_ID="PARTNER", **origin_fields(record, None))
        if not fields.get("NAME"):
            fields["NAME"] = record.title
    return fields


def deal_fields(
    record: CrmRecord, row: dict[str, Any] | None, *, category_id: int, currency: str
) -> dict[str, Any]:
    fields = write_fields(record, row, DEAL_STANDARD, custom=True)
    fields.update(origin_fields(record, row))
    if row is None:
        fields.update(
            TITLE=record.title,
            CATEGORY_ID=str(category_id),
            SOURCE_ID="PARTNER",
            OPENED="Y",
            CURRENCY_ID=currency,
        )
    if record.stage is not None and (row is None or row.get("STAGE_ID") != record.stage[1]):
        fields["STAGE_ID"] = record.stage[1]
    return fields


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _plain(value: Any) -> str:
    if value is None or value is False:
        return ""
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value if _plain(v))
    return str(value)


def converted(row: dict[str, Any]) -> bool:
    """A lead that was converted (into a deal and/or contact): its outcome is its deal's."""
    return str(row.get("STATUS_SEMANTIC_ID") or "") == "S" or (
        str(row.get("STATUS_ID") or "") == LEAD_CONVERTED
    )


def lead_deal(deals: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The deal that decides a converted lead: a won one, else an open one, else the
    latest (lost); the newest of its kind."""
    rank = {"S": 0, "F": 2}

    def key(deal: dict[str, Any]) -> tuple[int, int]:
        code = str(deal.get("STAGE_SEMANTIC_ID") or "")
        return rank.get(code, 1), -int(str(deal.get("ID") or 0))

    return min(deals, key=key) if deals else None


def remote_record(
    row: dict[str, Any],
    *,
    entity: str,
    contact: dict[str, Any] | None = None,
    deals: list[dict[str, Any]] | None = None,
) -> RemoteRecord:
    """A lead or deal row (``select`` with UF_* and, for leads, EMAIL/PHONE) as read back.

    A converted lead is no sale by itself: its stage, outcome and amount are those of
    the deal made from it (``deals``: the deals whose LEAD_ID is this lead), on the
    pipeline "DEAL:<funnel>"; with no deal (converted to a contact only) it is open."""
    person = row if entity == "lead" else (contact or {})
    money = row
    if entity == "lead":
        stage, semantic_code, pipeline = (
            row.get("STATUS_ID"),
            row.get("STATUS_SEMANTIC_ID"),
            (LEAD_PIPELINE),
        )
        if converted(row):
            deal = lead_deal(deals or [])
            money = deal or {}
            stage, semantic_code = money.get("STAGE_ID"), money.get("STAGE_SEMANTIC_ID")
            pipeline = (
                f"{DEAL_PIPELINE}:{money.get('CATEGORY_ID') or '0'}" if deal else DEAL_PIPELINE
            )
    else:
        stage, semantic_code = row.get("STAGE_ID"), row.get("STAGE_SEMANTIC_ID")
        pipeline = str(row.get("CATEGORY_ID") or "0")
    emails, phones = multi_values(person, "EMAIL"), multi_values(person, "PHONE")
    values = {
        "name": full_name(person),
        "email": emails[0] if emails else "",
        "phone": phones[0] if phones else "",
        "notes": _plain(row.get("COMMENTS")),
    }
    if entity != "lead" and contact is None:
        # A deal without a contact says nothing of the person: its values are left
        # out, not read as emptied in the CRM (which would empty the lead here).
        for key in ("name", "email", "phone"):
            del values[key]
    if entity == "lead":
        values["company"] = _plain(row.get("COMPANY_TITLE"))
    values.update({k: _plain(v) for k, v in row.items() if k.startswith("UF_CRM_")})
    external = str(row.get("ORIGIN_ID") or "") if row.get("ORIGINATOR_ID") == ORIGINATOR else ""
    updated = _when(row.get("DATE_MODIFY"))
    if money is not row and (dealt := _when(money.get("DATE_MODIFY"))):
        updated = max(updated, dealt) if updated else dealt
    return RemoteRecord(
        crm_id=str(row.get("ID")),
        crm_contact_id=str(row.get("CONTACT_ID") or "") if entity == "deal" else "",
        pipeline_id=pipeline,
        stage_id=str(stage or ""),
        semantic=SEMANTICS.get(str(semantic_code or ""), "open"),
        amount=_decimal(money.get("OPPORTUNITY")),
        currency=str(money.get("CURRENCY_ID") or ""),
        updated_at=updated,
        values=values,
        external_key=external,
    )


def stage_semantic(status: dict[str, Any]) -> str:
    """Semantic of a crm.status.list item (``SEMANTICS`` S/F or ``EXTRA.SEMANTICS``)."""
    code = status.get("SEMANTICS")
    extra = status.get("EXTRA")
    if not code and isinstance(extra, dict):
        code = extra.get("SEMANTICS")
    return SEMANTICS.get(str(code or ""), "open")
