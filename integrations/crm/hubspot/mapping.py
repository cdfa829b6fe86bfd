"""Between neutral records and HubSpot contacts and deals. Pure functions.

Where things live in HubSpot:

- A PRM lead is a **deal** (the record the mapping table links: ``crm_id``) associated
  with a **contact** (``crm_contact_id``): the deal carries the title (``dealname``,
  written on create only: the sales team renames deals), notes (``description``), the
  stage (``pipeline`` + ``dealstage``), the amount, our lead id (``key_field``, a deal
  property with unique values, ``prm_lead_id`` by default) and the partner, code and
  reward properties (keys = property internal names).
- name -> contact ``firstname`` (first word) + ``lastname`` (the rest); email / phone /
  company -> contact ``email`` / ``phone`` / ``company``. HubSpot keeps e-mail addresses
  lower-cased and needs none of them: a deal without a contact is valid.
- Won = ``hs_is_closed_won`` (the stage's probability is 1, e.g. ``closedwon``) with the
  deal's ``amount`` in ``deal_currency_code`` (or the portal's currency); lost = closed
  and not won (``closedlost``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers

from integrations.crm.base import CrmField, CrmRecord, RemoteRecord

CONTACT_KEYS = ("name", "email", "phone", "company")
STANDARD_FIELDS = [
    CrmField("name", "Contact name (firstname + lastname)", standard=True),
    CrmField("email", "Contact email", standard=True),
    CrmField("phone", "Contact phone number", standard=True),
    CrmField("company", "Contact company name", standard=True),
    CrmField("notes", "Deal description", standard=True),
]
CONTACT_PROPERTIES = ["email", "firstname", "lastname", "phone", "company", "lastmodifieddate"]
DEAL_PROPERTIES = [
    "dealname",
    "amount",
    "dealstage",
    "pipeline",
    "description",
    "deal_currency_code",
    "hs_is_closed",
    "hs_is_closed_won",
    "hs_lastmodifieddate",
]
DEAL_NAME_LIMIT = 250


def digits(phone: str) -> str:
    return "".join(c for c in phone or "" if c.isdigit())


def phone_variants(phone: str) -> list[str]:
    """Ways the same number may have been typed into HubSpot (it keeps phones as
    entered): as given, E.164 and the international format."""
    phone = (phone or "").strip()
    if not phone:
        return []
    found = [phone]
    try:
        number = phonenumbers.parse(phone if phone.startswith("+") else f"+{digits(phone)}")
        for style in (
            phonenumbers.PhoneNumberFormat.E164,
            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
        ):
            found.append(phonenumbers.format_number(number, style))
    except phonenumbers.NumberParseException:
        pass
    return list(dict.fromkeys(found))


def parse_datetime(text: Any) -> datetime | None:
    """HubSpot's ISO 8601 (``2026-01-01T10:00:00.123Z``) or epoch milliseconds."""
    if text in (None, ""):
        return None
    value = str(text)
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def epoch_ms(value: datetime | None) -> int:
    return int(value.timestamp() * 1000) if value else 0


def split_name(name: str) -> tuple[str, str]:
    name = " ".join((name or "").split())
    first, _, last = name.partition(" ")
    return first, last


def joined_name(props: dict[str, Any]) -> str:
    return " ".join(p for p in (props.get("firstname"), props.get("lastname")) if p)


def contact_value(key: str, props: dict[str, Any]) -> str:
    if key == "name":
        return joined_name(props)
    value = props.get(key)
    return "" if value is None else str(value)


def deal_value(key: str, props: dict[str, Any]) -> str:
    value = props.get("description" if key == "notes" else key)
    return "" if value is None else str(value)


def same(key: str, ours: str, theirs: str) -> bool:
    if key == "name":
        return " ".join(ours.split()) == " ".join(theirs.split())
    if key == "email":
        return ours.strip().lower() == theirs.strip().lower()
    if key == "phone":
        return digits(ours) == digits(theirs)
    return ours.strip() == theirs.strip()


def _contact_props(key: str, value: str) -> dict[str, str]:
    if key == "name":
        first, last = split_name(value)
        return {"firstname": first, "lastname": last}
    if key == "email":
        return {"email": value.strip().lower()}
    return {key: value}


def contact_changes(record: CrmRecord, props: dict[str, Any] | None) -> dict[str, str]:
    """Contact properties to write: all non-empty ones for a new contact; for an existing
    one only what differs, never a blank over CRM data, and CRM-mastered fields only
    where HubSpot has nothing."""
    values = dict(record.values)
    values.setdefault("email", record.email)
    values.setdefault("phone", record.phone)
    out: dict[str, str] = {}
    for key in CONTACT_KEYS:
        value = (values.get(key) or "").strip()
        if not value:
            continue
        if props is not None:
            theirs = contact_value(key, props)
            if key in record.create_only and theirs.strip():
                continue
            if same(key, value, theirs):
                continue
        out.update(_contact_props(key, value))
    return out


def deal_changes(
    record: CrmRecord, props: dict[str, Any] | None, *, key_field: str, known: set[str]
) -> dict[str, str]:
    """Deal properties to write (``props`` None: a new deal). ``known`` are the deal
    properties HubSpot described (empty: not read yet, send all)."""
    out: dict[str, str] = {}
    if props is None:
        out["dealname"] = (record.title or record.key)[:DEAL_NAME_LIMIT]
    for key, value in record.values.items():
        if key in CONTACT_KEYS or key == key_field:
            continue
        name = "description" if key == "notes" else key
        if known and name not in known:
            continue  # a mapping to a property the portal no longer has
        value = value or ""
        deal_key = key in record.deal_keys
        if not value.strip() and not (deal_key and props is not None):
            continue  # blanks never erase CRM data (reward fields may be cleared)
        if props is not None:
            theirs = deal_value(key, props)
            if key in record.create_only and theirs.strip():
                continue
            if value.strip() == theirs.strip():
                continue
        out[name] = value
    if key_field and (props is None or not props.get(key_field)):
        out[key_field] = record.key
    if record.stage and record.stage[1]:
        pipeline, stage = record.stage
        if props is None or props.get("dealstage") != stage:
            out["dealstage"] = stage
            if pipeline:
                out["pipeline"] = pipeline
    return out


def amount_of(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def remote_record(
    deal: dict[str, Any],
    contact: dict[str, Any] | None,
    *,
    key_field: str,
    custom_keys: Iterable[str],
    currency: str,
) -> RemoteRecord:
    props = deal.get("properties") or {}
    person = (contact or {}).get("properties") or {}
    record = RemoteRecord(
        crm_id=str(deal["id"]),
        crm_contact_id=str((contact or {}).get("id") or ""),
        deleted=bool(deal.get("archived")),
        external_key=str(props.get(key_field) or "") if key_field else "",
    )
    stamps = [
        parse_datetime(props.get("hs_lastmodifieddate") or deal.get("updatedAt")),
        parse_datetime(person.get("lastmodifieddate") or (contact or {}).get("updatedAt")),
    ]
    record.updated_at = max((s for s in stamps if s), default=None)
    if record.deleted:
        return record
    # A deal without a contact (none made yet, or HubSpot refused it) says nothing of
    # the person: its contact values are left out, not read as emptied in HubSpot.
    record.values = {key: contact_value(key, person) for key in CONTACT_KEYS if contact}
    record.values["notes"] = deal_value("notes", props)
    for key in custom_keys:
        if key in props:
            record.values[key] = "" if props[key] is None else str(props[key])
    record.pipeline_id = str(props.get("pipeline") or "")
    record.stage_id = str(props.get("dealstage") or "")
    if str(props.get("hs_is_closed_won") or "").lower() == "true":
        record.semantic = "won"
    elif str(props.get("hs_is_closed") or "").lower() == "true":
        record.semantic = "lost"
    record.amount = amount_of(props.get("amount"))
    record.currency = str(props.get("deal_currency_code") or currency or "")
    return record
