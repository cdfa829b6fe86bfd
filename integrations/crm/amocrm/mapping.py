"""Neutral records <-> amoCRM JSON. Pure functions, no I/O.

Where things live in amo:
- a PRM lead is an amo lead (deal) with one main contact and, if known, a company;
- name, e-mail and phone are on the contact (e-mail and phone as the system multitext
  fields EMAIL / PHONE), the company name on the company, notes in the lead's
  "common" notes (the timeline a salesperson reads);
- everything else is a lead custom field, keyed ``cf:<field_id>``; our lead id goes
  into the one labelled "PRM lead id", where ``query=`` finds it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from integrations.crm.base import CrmField, CrmRecord, RemoteRecord

WON, LOST = 142, 143  # the same system statuses in every pipeline
LEAD_ID_LABEL = "PRM lead id"
STANDARD_FIELDS = [
    CrmField("name", "Contact name", standard=True),
    CrmField("email", "Contact e-mail (EMAIL)", standard=True),
    CrmField("phone", "Contact phone (PHONE)", standard=True),
    CrmField("company", "Company name", standard=True),
    CrmField("notes", "Lead notes", standard=True),
]
CONTACT_KEYS = ("name", "email", "phone")
DATE_TYPES = {"date", "birthday"}
NUMBER_TYPES = {"numeric", "price", "monetary"}
CHOICE_TYPES = {"select", "radiobutton", "multiselect"}
_TRUE = {"1", "true", "yes", "y", "on", "да"}


@dataclass
class LeadState:
    """A lead as read, with what it links to."""

    lead: dict[str, Any]
    contact: dict[str, Any] | None = None
    company: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def cf_key(field_id: Any) -> str:
    return f"cf:{field_id}"


def cf_id(key: str) -> int | None:
    if key.startswith("cf:") and key[3:].isdigit():
        return int(key[3:])
    return None


def digits(phone: str) -> str:
    return re.sub(r"\D", "", phone or "")


def clean_phone(phone: str) -> str:
    """ "+7 900 111-22-33" -> "+79001112233" (amo stores what it is given; search
    and matching work on digits)."""
    number = digits(phone)
    if not number:
        return ""
    return f"+{number}" if (phone or "").strip().startswith("+") else number


def norm_email(email: str) -> str:
    return (email or "").strip().lower()


# ---------------------------------------------------------------- reading


def _values(entity: dict[str, Any] | None, *, field_id: int | None = None, code: str = "") -> list:
    for cf in (entity or {}).get("custom_fields_values") or []:
        if (field_id is not None and cf.get("field_id") == field_id) or (
            code and cf.get("field_code") == code
        ):
            return [
                v.get("value") for v in cf.get("values") or [] if v.get("value") not in (None, "")
            ]
    return []


def multitext(entity: dict[str, Any] | None, code: str) -> str:
    found = _values(entity, code=code)
    return str(found[0]) if found else ""


def contact_emails(contact: dict[str, Any]) -> list[str]:
    return [norm_email(str(v)) for v in _values(contact, code="EMAIL")]


def contact_phones(contact: dict[str, Any]) -> list[str]:
    return [digits(str(v)) for v in _values(contact, code="PHONE") if digits(str(v))]


def text_of(value: Any, kind: str) -> str:
    """One stored value as our text: dates ISO, numbers plain, checkboxes 1/0."""
    if kind in DATE_TYPES | {"date_time"} and isinstance(value, int | float | str):
        try:
            moment = datetime.fromtimestamp(int(value), tz=UTC)
        except (TypeError, ValueError, OverflowError):
            return str(value)
        return moment.date().isoformat() if kind in DATE_TYPES else moment.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def cf_text(entity: dict[str, Any] | None, field_id: int, kind: str = "text") -> str:
    return ", ".join(text_of(v, kind) for v in _values(entity, field_id=field_id))


def main_contact_id(lead: dict[str, Any]) -> str:
    contacts = (lead.get("_embedded") or {}).get("contacts") or []
    main = [c for c in contacts if c.get("is_main")] or contacts
    return str(main[0]["id"]) if main else ""


def company_id(lead: dict[str, Any]) -> str:
    companies = (lead.get("_embedded") or {}).get("companies") or []
    return str(companies[0]["id"]) if companies else ""


def semantic_of(status_id: Any) -> str:
    return {WON: "won", LOST: "lost"}.get(int(status_id or 0), "open")


def remote_record(
    state: LeadState, meta: dict[int, dict[str, Any]], key_field: int | None, currency: str
) -> RemoteRecord:
    lead = state.lead
    values = {cf_key(fid): cf_text(lead, fid, m.get("type", "text")) for fid, m in meta.items()}
    values = {k: v for k, v in values.items() if v}
    if state.contact is not None:
        # A lead without a contact says nothing of the person: its values are left
        # out, not read as emptied in the CRM (which would empty the lead here).
        values.update(
            name=str(state.contact.get("name") or ""),
            email=multitext(state.contact, "EMAIL"),
            phone=multitext(state.contact, "PHONE"),
        )
    values.update(
        company=str((state.company or {}).get("name") or ""),
        notes="\n".join(state.notes),
    )
    price = lead.get("price")
    updated = lead.get("updated_at")
    return RemoteRecord(
        crm_id=str(lead["id"]),
        crm_contact_id=main_contact_id(lead),
        pipeline_id=str(lead.get("pipeline_id") or ""),
        stage_id=str(lead.get("status_id") or ""),
        semantic=semantic_of(lead.get("status_id")),
        amount=Decimal(str(price)) if price not in (None, "") else None,
        currency=currency,
        deleted=bool(lead.get("is_deleted")),
        updated_at=datetime.fromtimestamp(int(updated), tz=UTC) if updated else None,
        values=values,
        external_key=cf_text(lead, key_field) if key_field else "",
    )


def deleted_record(crm_id: str) -> RemoteRecord:
    return RemoteRecord(crm_id=str(crm_id), deleted=True)


# ---------------------------------------------------------------- writing


def _unix(text: str) -> int | None:
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.combine(date.fromisoformat(text[:10]), datetime.min.time())
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def cf_values(meta: dict[str, Any] | None, text: str) -> list[dict[str, Any]]:
    """Our text as amo values of a field of this type. Text we cannot convert goes as
    it is, so amo's own validation names the problem."""
    kind = (meta or {}).get("type", "text")
    if kind in DATE_TYPES | {"date_time"}:
        stamp = _unix(text)
        return [{"value": stamp if stamp is not None else text}]
    if kind in NUMBER_TYPES:
        try:
            number = Decimal(text.replace(" ", "").replace(",", "."))
        except InvalidOperation:
            return [{"value": text}]
        return [{"value": str(number.normalize()) if number % 1 else str(int(number))}]
    if kind == "checkbox":
        return [{"value": text.strip().lower() in _TRUE}]
    if kind in CHOICE_TYPES:
        enums = {str(e.get("value", "")).lower(): e.get("id") for e in meta.get("enums") or []}
        chosen = [p.strip() for p in text.split(",")] if kind == "multiselect" else [text]
        return [
            {"enum_id": enums[c.lower()]} if c.lower() in enums else {"value": c}
            for c in chosen
            if c
        ]
    return [{"value": text}]


def _wanted(record: CrmRecord, key: str, current: str, creating: bool) -> bool:
    """Write this key? CRM-mastered keys only on create or over an empty CRM value."""
    if not record.values.get(key):
        return False  # we never clear a CRM value
    if key in record.create_only and not creating and current:
        return False
    return current != record.values[key]


def contact_fields(record: CrmRecord) -> dict[str, str]:
    """name / email / phone we would write (values win over the record's own)."""
    out = {
        "name": record.values.get("name", ""),
        "email": record.values.get("email", record.email),
        "phone": record.values.get("phone", record.phone),
    }
    out["phone"] = clean_phone(out["phone"])
    return {k: v.strip() for k, v in out.items() if v and v.strip()}


def contact_body(fields: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if fields.get("name"):
        body["name"] = fields["name"]
    cfs = []
    if fields.get("email"):
        cfs.append(
            {"field_code": "EMAIL", "values": [{"value": fields["email"], "enum_code": "WORK"}]}
        )
    if fields.get("phone"):
        cfs.append(
            {"field_code": "PHONE", "values": [{"value": fields["phone"], "enum_code": "WORK"}]}
        )
    if cfs:
        body["custom_fields_values"] = cfs
    return body


def _lead_cfs(
    record: CrmRecord, meta: dict[int, dict[str, Any]], key_field: int | None, lead: dict | None
) -> list[dict[str, Any]]:
    wanted = dict(record.values)
    if key_field:
        wanted[cf_key(key_field)] = record.key  # our id, always
    out = []
    for key in wanted:
        fid = cf_id(key)
        if fid is None:
            continue
        kind = (meta.get(fid) or {}).get("type", "text")
        current = cf_text(lead, fid, kind) if lead else ""
        probe = CrmRecord(record.key, record.title, values=wanted, create_only=record.create_only)
        if _wanted(probe, key, current, creating=lead is None):
            out.append({"field_id": fid, "values": cf_values(meta.get(fid), wanted[key])})
    return out


def complex_item(
    record: CrmRecord,
    request_id: str,
    meta: dict[int, dict[str, Any]],
    key_field: int | None,
    contact_id: str = "",
) -> dict[str, Any]:
    """One lead of ``POST /api/v4/leads/complex``: with its new contact and company, or
    linked to the existing contact ``contact_id`` that matched by e-mail/phone."""
    item: dict[str, Any] = {"name": record.title[:255], "request_id": request_id}
    if record.stage:
        item["pipeline_id"], item["status_id"] = int(record.stage[0]), int(record.stage[1])
    cfs = _lead_cfs(record, meta, key_field, None)
    if cfs:
        item["custom_fields_values"] = cfs
    embedded: dict[str, Any] = {"tags": [{"name": "PRM"}]}
    if contact_id:
        embedded["contacts"] = [{"id": int(contact_id), "is_main": True}]
    elif body := contact_body(contact_fields(record)):
        embedded["contacts"] = [body]
    if record.values.get("company"):
        embedded["companies"] = [{"name": record.values["company"][:255]}]
    item["_embedded"] = embedded
    return item


def lead_patch(
    record: CrmRecord, state: LeadState, meta: dict[int, dict[str, Any]], key_field: int | None
) -> dict[str, Any]:
    """Changes for ``PATCH /api/v4/leads`` (without ``id``); {} when nothing changes.
    The deal's name is the salespeople's: we only fill it when empty."""
    lead = state.lead
    item: dict[str, Any] = {}
    if not lead.get("name") and record.title:
        item["name"] = record.title[:255]
    if record.stage:
        pipeline, status = int(record.stage[0]), int(record.stage[1])
        if (lead.get("pipeline_id"), lead.get("status_id")) != (pipeline, status):
            item["pipeline_id"], item["status_id"] = pipeline, status
    cfs = _lead_cfs(record, meta, key_field, lead)
    if cfs:
        item["custom_fields_values"] = cfs
    return item


def contact_patch(record: CrmRecord, contact: dict[str, Any]) -> dict[str, Any]:
    """Changes for ``PATCH /api/v4/contacts`` (without ``id``). Writing EMAIL or PHONE
    replaces all values of that field, so we only send the fields we change."""
    current = {
        "name": str(contact.get("name") or ""),
        "email": multitext(contact, "EMAIL"),
        "phone": multitext(contact, "PHONE"),
    }
    ours = contact_fields(record)
    probe = CrmRecord(record.key, record.title, values=ours, create_only=record.create_only)
    changed = {
        k: v
        for k, v in ours.items()
        if _wanted(probe, k, current[k], creating=False)
        and not (k == "phone" and digits(v) == digits(current[k]))
        and not (k == "email" and norm_email(v) == norm_email(current[k]))
    }
    return contact_body(changed)


def company_name_wanted(record: CrmRecord, state: LeadState) -> str:
    """The company name to write on update ("" = leave it)."""
    current = str((state.company or {}).get("name") or "")
    return record.values["company"][:255] if _wanted(record, "company", current, False) else ""


def notes_to_add(wanted: str, existing: list[str]) -> str:
    """Lines of ``wanted`` the lead's notes do not have yet (counted, so repeated
    lines survive). amo notes are a timeline: we append, never rewrite."""
    have = Counter("\n".join(existing).split("\n")) if existing else Counter()
    missing = []
    for line in wanted.split("\n"):
        if have[line] > 0:
            have[line] -= 1
        else:
            missing.append(line)
    text = "\n".join(missing)
    return text if text.strip() else ""


def note_item(lead_id: str, text: str) -> dict[str, Any]:
    return {"entity_id": int(lead_id), "note_type": "common", "params": {"text": text}}
