"""Between neutral records and Salesforce Lead / Opportunity JSON. Pure functions.

Where things live in Salesforce:

- name -> ``FirstName`` (first word, at most 40 characters) + ``LastName`` (the rest);
  read back as ``FirstName LastName``.
- email / phone / company / notes -> ``Email`` / ``Phone`` / ``Company`` /
  ``Description``.
- our lead id -> the external-id custom field ``key_field`` (``PRM_Lead_Id__c``), which
  SOQL can search; partner, codes, program -> their ``*__c`` fields (keys = API names).
- ``LastName`` and ``Company`` are required on a Lead. A lead without a name or company
  gets the placeholder ``[not provided]``; it is read back as "" so that the placeholder
  never travels back into the PRM as if someone had typed it.
- Won = the Lead is converted and its Opportunity ``IsWon`` (amount = Opportunity
  ``Amount``); lost = Status "Closed - Not Converted" or the Opportunity closed lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers

from integrations.crm.base import CrmField, CrmRecord, RemoteRecord

PLACEHOLDER = "[not provided]"
LOST_STATUS = "Closed - Not Converted"
LEAD_PIPELINE, OPP_PIPELINE = "Lead", "Opportunity"
NATIVE = {"email": "Email", "phone": "Phone", "company": "Company", "notes": "Description"}
STANDARD_FIELDS = [
    CrmField("name", "Name (FirstName + LastName)", standard=True),
    CrmField("email", "Email", standard=True),
    CrmField("phone", "Phone", standard=True),
    CrmField("company", "Company", standard=True),
    CrmField("notes", "Description", standard=True),
]
# Salesforce's lengths for the standard Lead fields we write; longer values are refused
# (STRING_TOO_LONG) for the whole record, so names and companies are clipped instead.
LIMITS = {"FirstName": 40, "LastName": 80, "Company": 255, "Description": 32000}
LEAD_COLUMNS = [
    "Id",
    "FirstName",
    "LastName",
    "Company",
    "Email",
    "Phone",
    "Description",
    "Status",
    "IsConverted",
    "ConvertedOpportunityId",
    "ConvertedContactId",
    "IsDeleted",
    "SystemModstamp",
]
OPP_COLUMNS = ["Id", "StageName", "IsClosed", "IsWon", "Amount", "SystemModstamp"]


# -- SOQL literals ---------------------------------------------------------------------

_SOQL_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def soql_quote(value: str) -> str:
    return "'" + "".join(_SOQL_ESCAPES.get(c, c) for c in value) + "'"


def soql_in(field: str, values: Iterable[str]) -> str:
    return f"{field} IN ({', '.join(soql_quote(v) for v in values)})"


def soql_datetime(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_datetime(text: Any) -> datetime | None:
    """``2024-05-01T10:00:00.000+0000`` (Salesforce) or ISO 8601."""
    if not text:
        return None
    value = str(text).replace("Z", "+00:00")
    if len(value) > 5 and value[-5] in "+-" and value[-3] != ":":
        value = f"{value[:-2]}:{value[-2:]}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# -- matching keys ---------------------------------------------------------------------


def digits(phone: str) -> str:
    return "".join(c for c in phone or "" if c.isdigit())


def phone_variants(phone: str) -> list[str]:
    """Ways the same number may have been typed into Salesforce (it stores phones as
    entered): as given, E.164, and the international format."""
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


# -- PRM -> Salesforce -------------------------------------------------------------------


def split_name(name: str) -> tuple[str, str]:
    """(FirstName, LastName); a long first word stays in LastName rather than be cut."""
    name = " ".join((name or "").split())
    first, _, last = name.partition(" ")
    if not last or len(first) > LIMITS["FirstName"]:
        return "", name[: LIMITS["LastName"]]
    return first, last[: LIMITS["LastName"]]


def joined_name(row: dict[str, Any]) -> str:
    name = " ".join(p for p in (row.get("FirstName"), row.get("LastName")) if p)
    return "" if name == PLACEHOLDER else name


def _clip(field: str, value: str) -> str:
    limit = LIMITS.get(field)
    return value[:limit] if limit else value


def _sf_value(key: str, value: str) -> dict[str, Any]:
    """Salesforce fields for one neutral key."""
    if key == "name":
        first, last = split_name(value)
        return {"FirstName": first or None, "LastName": last or PLACEHOLDER}
    field = NATIVE.get(key, key)
    return {field: _clip(field, value)}


def current_value(key: str, row: dict[str, Any]) -> str:
    """The CRM's value of a neutral key, as the PRM would see it."""
    if key == "name":
        return joined_name(row)
    value = row.get(NATIVE.get(key, key))
    text = "" if value is None else str(value)
    return "" if key == "company" and text == PLACEHOLDER else text


def create_payload(record: CrmRecord, *, key_field: str, lead_source: str = "") -> dict[str, Any]:
    """A new Lead: every non-empty value, our key, and placeholders where Salesforce
    insists on a value."""
    values = dict(record.values)
    values.setdefault("email", record.email)
    values.setdefault("phone", record.phone)
    body: dict[str, Any] = {"attributes": {"type": "Lead"}}
    for key, value in values.items():
        if key == key_field or not (value or "").strip():
            continue
        body.update(_sf_value(key, value))
    body["LastName"] = body.get("LastName") or PLACEHOLDER
    body["Company"] = body.get("Company") or PLACEHOLDER
    if key_field:
        body[key_field] = record.key
    if lead_source:
        body["LeadSource"] = lead_source
    if record.stage and record.stage[0] == LEAD_PIPELINE and record.stage[1]:
        body["Status"] = record.stage[1]
    return body


def update_payload(record: CrmRecord, row: dict[str, Any], *, key_field: str) -> dict[str, Any]:
    """Only what changes on an existing Lead: fields the CRM is master of are written
    only where it has nothing; blanks never erase CRM data; equal values are skipped, so
    an unchanged record is not touched (and not reported back to us as modified)."""
    changes: dict[str, Any] = {}
    for key, value in record.values.items():
        if key == key_field or not (value or "").strip():
            continue
        theirs = current_value(key, row)
        if key in record.create_only and theirs.strip():
            continue
        if _same(key, value, theirs):
            continue
        changes.update(_sf_value(key, value))
    if key_field and not (row.get(key_field) or ""):
        changes[key_field] = record.key  # matched by e-mail or phone: mark it ours
    stage = record.stage
    if stage and stage[0] == LEAD_PIPELINE and stage[1] and row.get("Status") != stage[1]:
        changes["Status"] = stage[1]
    if not changes:
        return {}
    return {"attributes": {"type": "Lead"}, "id": row["Id"], **changes}


def _same(key: str, ours: str, theirs: str) -> bool:
    if key == "name":
        return " ".join(p for p in split_name(ours) if p) == theirs
    if key == "email":
        return ours.strip().lower() == theirs.strip().lower()
    if key == "phone":
        return digits(ours) == digits(theirs)
    field = NATIVE.get(key, key)
    return _clip(field, ours).strip() == theirs.strip()


# -- Salesforce -> PRM -------------------------------------------------------------------


def values_of(row: dict[str, Any], custom_keys: Iterable[str]) -> dict[str, str]:
    values = {key: current_value(key, row) for key in ("name", "email", "phone", "company")}
    values["notes"] = current_value("notes", row)
    for key in custom_keys:
        if key in row:
            values[key] = "" if row[key] is None else str(row[key])
    return values


def amount_of(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def remote_record(
    row: dict[str, Any],
    opportunity: dict[str, Any] | None,
    *,
    key_field: str,
    custom_keys: Iterable[str],
    currency: str,
) -> RemoteRecord:
    record = RemoteRecord(
        crm_id=str(row["Id"]),
        crm_contact_id=str(row.get("ConvertedContactId") or ""),
        deleted=bool(row.get("IsDeleted")),
        updated_at=parse_datetime(row.get("SystemModstamp")),
        external_key=str(row.get(key_field) or "") if key_field else "",
    )
    if record.deleted:
        return record
    record.values = values_of(row, custom_keys)
    if opportunity is not None:
        record.pipeline_id, record.stage_id = OPP_PIPELINE, str(opportunity.get("StageName") or "")
        if opportunity.get("IsWon"):
            record.semantic = "won"
        elif opportunity.get("IsClosed"):
            record.semantic = "lost"
        record.amount = amount_of(opportunity.get("Amount"))
        record.currency = str(opportunity.get("CurrencyIsoCode") or currency or "")
        stamp = parse_datetime(opportunity.get("SystemModstamp"))
        if stamp and (record.updated_at is None or stamp > record.updated_at):
            record.updated_at = stamp
    else:
        record.pipeline_id, record.stage_id = LEAD_PIPELINE, str(row.get("Status") or "")
        record.semantic = "lost" if record.stage_id == LOST_STATUS else "open"
        record.currency = currency or ""
    return record
