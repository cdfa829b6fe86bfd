"""A fake Salesforce org on 127.0.0.1: OAuth 2.0 and the REST API subset PRM uses, with
the real request and answer shapes (../shared/CRM_APIS.md, section 3).

What it does, as Salesforce does:

- ``/services/oauth2/authorize`` (auto-approves: 302 to ``redirect_uri?code&state``) and
  ``/services/oauth2/token`` (form-encoded ``authorization_code`` / ``refresh_token``):
  ``instance_url``, ``issued_at`` in ms, no ``expires_in``; errors ``invalid_grant``,
  ``invalid_client_id``, ``invalid_client``, ``unsupported_grant_type``. Sessions end
  after ``session_seconds`` (None = never) or ``expire_tokens()``: 401
  ``INVALID_SESSION_ID``. ``revoke()`` kills refresh tokens as well.
- ``/services/data/vNN.N/``: ``sobjects/Lead`` CRUD (201 / 204, array errors),
  ``sobjects/Lead/describe``, ``sobjects/Lead/updated|deleted/``, ``limits``,
  ``query`` / ``queryAll`` with a SOQL subset (at the end of this file: SELECT ...
  FROM ... WHERE with = != < > <= >= IN / NOT IN, semi-join
  ``IN (SELECT Id FROM ...)``, AND / OR / NOT, parentheses, ORDER BY, LIMIT, OFFSET)
  paged by ``batch_size`` with ``done`` / ``nextRecordsUrl``, and sObject Collections
  ``POST|PATCH /composite/sobjects`` (<= 200, ``allOrNone``, per-record SaveResults).
- Every API answer carries ``Sforce-Limit-Info: api-usage=used/max``; with
  ``rate_limit`` on, calls past ``daily_max`` get 403 ``REQUEST_LIMIT_EXCEEDED``.

Knobs: ``inject(fault, times, path)`` ("500", "timeout", "drop", "rate", "401"),
``latency`` seconds per request, ``hang_seconds`` for "timeout" (the work is done, then
the connection is closed without an answer after that delay), ``batch_size`` of query
pages, ``max_url`` (URI length the org accepts), ``multi_currency``.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

FAULTS = ("500", "timeout", "drop", "rate", "401", "404")
API_VERSION = "v62.0"
KEY_FIELD = "PRM_Lead_Id__c"
CUSTOM_FIELDS = {
    "PRM_Lead_Id__c": "PRM lead id",
    "PRM_Partner__c": "PRM partner",
    "PRM_Referral_Code__c": "PRM referral code",
    "PRM_Promo_Code__c": "PRM promo code",
    "PRM_Program__c": "PRM program",
    "PRM_Reward_Amount__c": "PRM reward amount",
    "PRM_Reward_Currency__c": "PRM reward currency",
    "PRM_Reward_Status__c": "PRM reward status",
    "PRM_Partner_Accrued__c": "PRM partner accrued",
    "PRM_Partner_Approved__c": "PRM partner approved",
    "PRM_Partner_Paid__c": "PRM partner paid",
}
CONTACT_CUSTOM = {
    "PRM_Partner_Id__c": "PRM partner id",
    "PRM_Partner_Accrued__c": "PRM partner accrued",
    "PRM_Partner_Approved__c": "PRM partner approved",
    "PRM_Partner_Paid__c": "PRM partner paid",
}
LEAD_STATUSES = [  # (api name, converted?, default?)
    ("Open - Not Contacted", False, True),
    ("Working - Contacted", False, False),
    ("Closed - Converted", True, False),
    ("Closed - Not Converted", False, False),
]
OPP_STAGES = [  # (api name, closed?, won?)
    ("Prospecting", False, False),
    ("Qualification", False, False),
    ("Negotiation/Review", False, False),
    ("Closed Won", True, True),
    ("Closed Lost", True, False),
]
PREFIX = {"Lead": "00Q", "Opportunity": "006", "Account": "001", "Contact": "003"}
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
LIMIT_EXCEEDED = [
    {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
]
SESSION_EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
ROLLED_BACK = (
    "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header"
)
UNKNOWN = [
    {
        "message": "An unexpected error occurred. Please include this ErrorId if you contact "
        "support: 1289475018-42 (-1550231462)",
        "errorCode": "UNKNOWN_EXCEPTION",
    }
]


@dataclass
class Field:
    name: str
    label: str
    type: str  # id string email phone textarea picklist boolean datetime date reference currency
    length: int = 0
    required: bool = False  # on create (nillable=False, no default)
    writable: bool = True
    custom: bool = False


def _lead_fields(multi_currency: bool) -> dict[str, Field]:
    fields = [
        Field("Id", "Lead ID", "id", 18, writable=False),
        Field("FirstName", "First Name", "string", 40),
        Field("LastName", "Last Name", "string", 80, required=True),
        Field("Name", "Full Name", "string", 121, writable=False),
        Field("Company", "Company", "string", 255, required=True),
        Field("Email", "Email", "email", 80),
        Field("Phone", "Phone", "phone", 40),
        Field("Description", "Description", "textarea", 32000),
        Field("Status", "Lead Status", "picklist", 255),
        Field("LeadSource", "Lead Source", "picklist", 255),
        Field("IsConverted", "Converted", "boolean", writable=False),
        Field("ConvertedDate", "Converted Date", "date", writable=False),
        Field(
            "ConvertedOpportunityId", "Converted Opportunity ID", "reference", 18, writable=False
        ),
        Field("ConvertedAccountId", "Converted Account ID", "reference", 18, writable=False),
        Field("ConvertedContactId", "Converted Contact ID", "reference", 18, writable=False),
        Field("IsDeleted", "Deleted", "boolean", writable=False),
        Field("CreatedDate", "Created Date", "datetime", writable=False),
        Field("LastModifiedDate", "Last Modified Date", "datetime", writable=False),
        Field("SystemModstamp", "System Modstamp", "datetime", writable=False),
    ]
    if multi_currency:
        fields.append(Field("CurrencyIsoCode", "Lead Currency", "picklist", 3))
    fields += [Field(n, label, "string", 255, custom=True) for n, label in CUSTOM_FIELDS.items()]
    return {f.name: f for f in fields}


def _contact_fields() -> dict[str, Field]:
    """What partners as contacts write: a required last name, the description, and the
    custom fields an admin adds for PRM."""
    fields = [
        Field("LastName", "Last Name", "string", 80, required=True),
        Field("FirstName", "First Name", "string", 40),
        Field("Email", "Email", "email", 80),
        Field("Description", "Contact Description", "textarea", 32000),
    ]
    fields += [Field(n, label, "string", 255, custom=True) for n, label in CONTACT_CUSTOM.items()]
    return {f.name: f for f in fields}


def _plain_fields(names: dict[str, str], multi_currency: bool) -> dict[str, Field]:
    out = {n: Field(n, n, t, 255) for n, t in names.items()}
    if multi_currency:
        out["CurrencyIsoCode"] = Field("CurrencyIsoCode", "Currency", "picklist", 3)
    return out


_COMMON = {"Id": "id", "IsDeleted": "boolean", "CreatedDate": "datetime"}
_COMMON |= {"LastModifiedDate": "datetime", "SystemModstamp": "datetime"}
OTHER_OBJECTS = {
    "Opportunity": _COMMON
    | {
        "Name": "string",
        "StageName": "picklist",
        "IsClosed": "boolean",
        "IsWon": "boolean",
        "Amount": "currency",
        "CloseDate": "date",
        "AccountId": "reference",
        # The deal's copies of the Lead's reward and partner balance fields (an admin adds
        # them to both).
        **{
            n: "string"
            for n in CUSTOM_FIELDS
            if n.startswith(("PRM_Reward_", "PRM_Partner_Accrued", "PRM_Partner_Approved"))
            or n == "PRM_Partner_Paid__c"
        },
    },
    "Account": _COMMON | {"Name": "string"},
    "Contact": _COMMON | {"LastName": "string", "FirstName": "string", "Email": "email"},
    "Organization": {
        "Id": "id",
        "Name": "string",
        "DefaultCurrencyIsoCode": "picklist",
        "IsSandbox": "boolean",
        "OrganizationType": "string",
    },
    "LeadStatus": {
        "Id": "id",
        "ApiName": "string",
        "MasterLabel": "string",
        "IsConverted": "boolean",
        "IsDefault": "boolean",
        "SortOrder": "int",
    },
    "OpportunityStage": {
        "Id": "id",
        "ApiName": "string",
        "MasterLabel": "string",
        "IsClosed": "boolean",
        "IsWon": "boolean",
        "IsActive": "boolean",
        "SortOrder": "int",
    },
}
INDEXED = ("Email", "Phone", KEY_FIELD)  # Lead fields looked up through an index


def sf_datetime(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def id18(id15: str) -> str:
    """Salesforce's case-safe suffix: one letter per 5 characters, by which are capitals."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    suffix = ""
    for block in range(3):
        flags = sum(1 << j for j, c in enumerate(id15[block * 5 : block * 5 + 5]) if c.isupper())
        suffix += alphabet[flags]
    return id15 + suffix


class Answer(Exception):
    """Stop handling and answer with this status, JSON body and headers."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def sf_error(status: int, code: str, message: str, fields: list[str] | None = None) -> Answer:
    item: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        item["fields"] = fields
    return Answer(status, [item])


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int | None = None  # None when the connection was dropped
    at: float = 0.0


@dataclass
class _Fault:
    kind: str
    remaining: int
    path: str | None


@dataclass
class _Token:
    refresh: str
    issued: float
    valid: bool = True


class FakeSalesforce:
    provider = "salesforce"

    def __init__(
        self,
        *,
        client_id: str = "3MVG9fake.client.id",
        client_secret: str = "fake-sf-consumer-secret",
        currency: str = "USD",
        multi_currency: bool = False,
        daily_max: int = 100_000,
        session_seconds: float | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.currency = currency
        self.multi_currency = multi_currency
        self.daily_max = daily_max
        self.session_seconds = session_seconds
        self.rate_limit = False
        self.latency = 0.0
        self.hang_seconds = 0.2
        self.batch_size = 2000
        self.max_url = 16384  # [U] SF's URI length limit; longer query URLs get 414
        self.api_used = 0
        self.org_id = id18("00D5g00000PRMfk")
        self.org_name = "Acme Fake Org"
        self.requests: list[RecordedRequest] = []
        self.objects: dict[str, dict[str, dict[str, Any]]] = {o: {} for o in PREFIX}
        self.fields: dict[str, dict[str, Field]] = {
            "Lead": _lead_fields(multi_currency),
            **{o: _plain_fields(f, multi_currency) for o, f in OTHER_OBJECTS.items()},
        }
        self.fields["Contact"] |= _contact_fields()
        self._index: dict[str, dict[str, set[str]]] = {f: {} for f in INDEXED}
        self._lowered: dict[str, dict[str, str]] = {}
        self._counter = 0
        self._tokens: dict[str, _Token] = {}
        self._refresh_tokens: set[str] = set()
        self.rotate_refresh = False  # True: each refresh spends the old refresh token
        self.token_refreshes = 0  # refresh grants honoured
        self._codes: dict[str, str] = {}  # code -> redirect_uri
        self._cursors: dict[str, list[dict[str, Any]]] = {}
        self._last_stamp = datetime(2000, 1, 1, tzinfo=UTC)
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._static_rows()

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> FakeSalesforce:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    base_url = auth_url = url  # the instance and the login host are the same server here

    # -- control panel (tests/fakes/crm_base.py) ---------------------------------------

    def connection_config(self) -> dict[str, Any]:
        access, refresh = self.issue_tokens()
        return {
            "auth_kind": "oauth",
            "base_url": self.url,
            "auth_url": self.url,
            "credentials": {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "access_token": access,
                "refresh_token": refresh,
            },
            "settings": {},
        }

    def inject(self, fault: str, times: int = 1, path: str | None = None) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
        with self._lock:
            if times <= 0:  # "inject(x, times=0)" switches that fault off
                self._faults = [f for f in self._faults if f.kind != fault]
            else:
                self._faults.append(_Fault(fault, times, path))

    def expire_tokens(self) -> None:
        with self._lock:
            for token in self._tokens.values():
                token.valid = False

    def revoke(self) -> None:
        with self._lock:
            self.expire_tokens()
            self._refresh_tokens.clear()

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._neutral(lead) for lead in self.objects["Lead"].values()]

    def create_record(
        self, title: str, email: str = "", phone: str = "", fields: dict[str, str] | None = None
    ) -> str:
        values = {"name": title, "email": email, "phone": phone, **(fields or {})}
        with self._lock:
            row = {"Company": "[not provided]", "Status": LEAD_STATUSES[0][0]}
            row.update(self._from_neutral(values))
            return self._insert("Lead", row)

    def update_record(self, crm_id: str, **values: str) -> None:
        if "title" in values:
            values["name"] = values.pop("title")
        with self._lock:
            self._update("Lead", self._live("Lead", crm_id), self._from_neutral(values))

    def move(self, crm_id: str, semantic: str, amount: str | None = None) -> None:
        with self._lock:
            lead = self._live("Lead", crm_id)
            opp = self.objects["Opportunity"].get(lead.get("ConvertedOpportunityId") or "")
            if semantic == "won" and opp is None:
                self._convert(lead, amount)
                return
            if opp is not None:
                stage = {"won": "Closed Won", "lost": "Closed Lost"}.get(semantic, "Prospecting")
                changes: dict[str, Any] = {"StageName": stage}
                if amount is not None:
                    changes["Amount"] = Decimal(amount)
                self._update("Opportunity", opp, changes)
                return
            status = "Closed - Not Converted" if semantic == "lost" else "Working - Contacted"
            self._update("Lead", lead, {"Status": status})

    def delete_record(self, crm_id: str) -> None:
        with self._lock:
            self._delete("Lead", self._live("Lead", crm_id))

    def event_body(self, crm_id: str, kind: str) -> tuple[str, bytes] | None:
        return None  # Salesforce is polled

    def send_event(self, url: str, crm_id: str, kind: str) -> int | None:
        return None

    # -- helpers for tests -----------------------------------------------------------

    def issue_tokens(self) -> tuple[str, str]:
        refresh = "5Aep861" + secrets.token_urlsafe(40)
        with self._lock:
            self._refresh_tokens.add(refresh)
            return self._new_access(refresh), refresh

    def issue_code(self, redirect_uri: str) -> str:
        code = "aPrx" + secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = redirect_uri
        return code

    def calls(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in list(self.requests)
            if (method is None or r.method == method) and (path is None or path in r.path)
        ]

    def _take_fault(self, path: str) -> str | None:
        # Without a path, faults hit the REST API, not the login host's token endpoint.
        oauth = path.startswith("/services/oauth2/")
        with self._lock:
            for fault in self._faults:
                hit = (fault.path is None and not oauth) or (fault.path or "\0") in path
                if fault.remaining > 0 and hit:
                    fault.remaining -= 1
                    return fault.kind
        return None

    def lead(self, crm_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self.objects["Lead"][crm_id])

    # -- the world -------------------------------------------------------------------

    def _static_rows(self) -> None:
        self.objects["Organization"] = {
            self.org_id: {
                "Id": self.org_id,
                "Name": self.org_name,
                "DefaultCurrencyIsoCode": self.currency,
                "IsSandbox": False,
                "OrganizationType": "Enterprise Edition",
            }
        }
        self.objects["LeadStatus"] = {
            id18(f"01J5g0000000{n:03d}"): {
                "Id": id18(f"01J5g0000000{n:03d}"),
                "ApiName": name,
                "MasterLabel": name,
                "IsConverted": converted,
                "IsDefault": default,
                "SortOrder": n + 1,
            }
            for n, (name, converted, default) in enumerate(LEAD_STATUSES)
        }
        self.objects["OpportunityStage"] = {
            id18(f"01J5g0000001{n:03d}"): {
                "Id": id18(f"01J5g0000001{n:03d}"),
                "ApiName": name,
                "MasterLabel": name,
                "IsClosed": closed,
                "IsWon": won,
                "IsActive": True,
                "SortOrder": n + 1,
            }
            for n, (name, closed, won) in enumerate(OPP_STAGES)
        }

    def _stamp(self) -> datetime:
        # Strictly increasing milliseconds, so "changed after" is never ambiguous here.
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if now <= self._last_stamp:
            now = self._last_stamp + _MS
        self._last_stamp = now
        return now

    def _new_id(self, obj: str) -> str:
        self._counter += 1
        return id18(f"{PREFIX[obj]}5g0000{self._counter:06d}")

    def _insert(self, obj: str, values: dict[str, Any]) -> str:
        now = self._stamp()
        new_id = self._new_id(obj)
        row = {f: None for f in self.fields[obj]}
        row.update(values)
        row.update(Id=new_id, IsDeleted=False, CreatedDate=now, LastModifiedDate=now)
        row["SystemModstamp"] = now
        if obj == "Lead":
            row["IsConverted"] = False
            row["Status"] = row.get("Status") or LEAD_STATUSES[0][0]
            row["Name"] = _full_name(row)
            if self.multi_currency and not row.get("CurrencyIsoCode"):
                row["CurrencyIsoCode"] = self.currency
            self._reindex(new_id, None, row)
        self.objects[obj][new_id] = row
        return new_id

    def _update(self, obj: str, row: dict[str, Any], changes: dict[str, Any]) -> None:
        before = dict(row)
        row.update(changes)
        now = self._stamp()
        row["LastModifiedDate"] = row["SystemModstamp"] = now
        if obj == "Lead":
            row["Name"] = _full_name(row)
            self._reindex(row["Id"], before, row)
        if obj == "Opportunity":
            stage = next(s for s in OPP_STAGES if s[0] == row["StageName"])
            row["IsClosed"], row["IsWon"] = stage[1], stage[2]

    def _delete(self, obj: str, row: dict[str, Any]) -> None:
        row["IsDeleted"] = True
        row["LastModifiedDate"] = row["SystemModstamp"] = self._stamp()
        if obj == "Lead":
            self._reindex(row["Id"], row, None)

    def _reindex(self, crm_id: str, before: dict | None, after: dict | None) -> None:
        for name in INDEXED:
            old = _index_value((before or {}).get(name))
            new = _index_value((after or {}).get(name))
            if old == new and before is not None and after is not None:
                continue
            if old:
                self._index[name].get(old, set()).discard(crm_id)
            if new:
                self._index[name].setdefault(new, set()).add(crm_id)

    def _live(self, obj: str, crm_id: str) -> dict[str, Any]:
        row = self.objects[obj].get(crm_id)
        if row is None or row.get("IsDeleted"):
            raise KeyError(crm_id)
        return row

    def _convert(self, lead: dict[str, Any], amount: str | None) -> None:
        today = date.today().isoformat()
        account = self._insert("Account", {"Name": lead["Company"]})
        contact = self._insert(
            "Contact",
            {"LastName": lead["LastName"], "FirstName": lead["FirstName"], "Email": lead["Email"]},
        )
        opp = self._insert(
            "Opportunity",
            {
                "Name": f"{lead['Company']}-",
                "StageName": "Closed Won",
                "IsClosed": True,
                "IsWon": True,
                "Amount": Decimal(amount) if amount is not None else None,
                "CloseDate": today,
                "AccountId": account,
                **(
                    {"CurrencyIsoCode": lead.get("CurrencyIsoCode") or self.currency}
                    if self.multi_currency
                    else {}
                ),
            },
        )
        self._update(
            "Lead",
            lead,
            {
                "IsConverted": True,
                "Status": "Closed - Converted",
                "ConvertedDate": today,
                "ConvertedAccountId": account,
                "ConvertedContactId": contact,
                "ConvertedOpportunityId": opp,
            },
        )

    def _neutral(self, lead: dict[str, Any]) -> dict[str, Any]:
        opp = self.objects["Opportunity"].get(lead.get("ConvertedOpportunityId") or "")
        if opp is not None:
            stage = ("Opportunity", opp["StageName"])
            semantic = "won" if opp["IsWon"] else "lost" if opp["IsClosed"] else "open"
            amount = None if opp["Amount"] is None else _plain(opp["Amount"])
        else:
            stage = ("Lead", lead["Status"])
            semantic = "lost" if lead["Status"] == "Closed - Not Converted" else "open"
            amount = None
        fields = {
            "name": lead["Name"] or "",
            "email": lead["Email"] or "",
            "phone": lead["Phone"] or "",
            "company": lead["Company"] or "",
            "notes": lead["Description"] or "",
        }
        fields |= {
            name: lead.get(name) or "" for name in self.fields["Lead"] if name.endswith("__c")
        }
        return {
            "id": lead["Id"],
            "title": lead["Name"] or "",
            "email": lead["Email"] or "",
            "phone": lead["Phone"] or "",
            "fields": fields,
            "stage": stage,
            "semantic": semantic,
            "amount": amount,
            "deleted": bool(lead["IsDeleted"]),
        }

    def _from_neutral(self, values: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in values.items():
            if key == "name":
                first, _, last = value.strip().partition(" ")
                out["FirstName"], out["LastName"] = (first, last) if last else (None, first)
            elif key in ("email", "phone", "company"):
                out[key.capitalize()] = value or None
            elif key == "notes":
                out["Description"] = value or None
            else:
                out[key] = value or None
        return out

    # -- OAuth -----------------------------------------------------------------------

    def _new_access(self, refresh: str) -> str:
        token = f"{self.org_id[:15]}!AQ8AQ" + secrets.token_urlsafe(48)
        self._tokens[token] = _Token(refresh, time.monotonic())
        return token

    def _token_answer(self, refresh: str, *, with_refresh: bool) -> dict[str, Any]:
        body = {
            "access_token": self._new_access(refresh),
            "instance_url": self.url,
            "id": f"{self.url}/id/{self.org_id}/{id18('0055g00000PRMus')}",
            "token_type": "Bearer",
            "issued_at": str(int(time.time() * 1000)),
            "signature": secrets.token_urlsafe(32),
            "scope": "api refresh_token",
        }
        if with_refresh:
            body["refresh_token"] = refresh
        return body

    def _oauth_token(self, form: dict[str, str]) -> dict[str, Any]:
        if not form.get("grant_type"):
            raise Answer(
                400, {"error": "invalid_request", "error_description": "grant type is missing"}
            )
        if form.get("client_id") != self.client_id:
            raise Answer(
                400,
                {"error": "invalid_client_id", "error_description": "client identifier invalid"},
            )
        if form.get("client_secret") != self.client_secret:
            raise Answer(
                400, {"error": "invalid_client", "error_description": "invalid client credentials"}
            )
        grant = form["grant_type"]
        if grant == "authorization_code":
            redirect = self._codes.pop(form.get("code", ""), None)
            if redirect is None:
                raise Answer(
                    400,
                    {"error": "invalid_grant", "error_description": "authorization code expired"},
                )
            if redirect != form.get("redirect_uri"):
                raise Answer(
                    400,
                    {
                        "error": "redirect_uri_mismatch",
                        "error_description": "redirect_uri must match configuration",
                    },
                )
            refresh = "5Aep861" + secrets.token_urlsafe(40)
            self._refresh_tokens.add(refresh)
            return self._token_answer(refresh, with_refresh=True)
        if grant == "refresh_token":
            refresh = form.get("refresh_token", "")
            if refresh not in self._refresh_tokens:
                raise Answer(
                    400,
                    {"error": "invalid_grant", "error_description": "expired access/refresh token"},
                )
            self.token_refreshes += 1
            if self.rotate_refresh:  # a connected app with refresh-token rotation on
                self._refresh_tokens.discard(refresh)
                refresh = "5Aep861" + secrets.token_urlsafe(40)
                self._refresh_tokens.add(refresh)
                return self._token_answer(refresh, with_refresh=True)
            return self._token_answer(refresh, with_refresh=False)
        raise Answer(
            400,
            {"error": "unsupported_grant_type", "error_description": "grant type not supported"},
        )

    def _check_session(self, headers: dict[str, str]) -> None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        found = self._tokens.get(token) if scheme in ("Bearer", "OAuth") else None
        alive = found is not None and found.valid and found.refresh in self._refresh_tokens
        if alive and self.session_seconds is not None:
            alive = time.monotonic() - found.issued < self.session_seconds
        if not alive:
            raise Answer(401, SESSION_EXPIRED, {"WWW-Authenticate": 'Token realm="Salesforce"'})

    # -- REST ------------------------------------------------------------------------

    def _handle(self, rec: RecordedRequest, raw_path: str) -> tuple[int, Any, dict[str, str]]:
        path = rec.path
        if path == "/services/oauth2/authorize" and rec.method == "GET":
            code = self.issue_code(rec.query.get("redirect_uri", ""))
            target = (
                rec.query.get("redirect_uri", "")
                + "?"
                + urlencode({"code": code, "state": rec.query.get("state", "")})
            )
            return 302, None, {"Location": target}
        if path == "/services/oauth2/token" and rec.method == "POST":
            form = rec.body if isinstance(rec.body, dict) else {}
            return 200, self._oauth_token(form), {}
        if path in ("/services/data", "/services/data/"):
            return (
                200,
                [
                    {
                        "label": "Summer '24",
                        "url": f"/services/data/{API_VERSION}",
                        "version": API_VERSION[1:],
                    }
                ],
                {},
            )
        match = re.fullmatch(r"/services/data/(v\d+\.\d)/(.*?)/?", path)
        if not match:
            raise sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        self._check_session(rec.headers)
        headers = {"Sforce-Limit-Info": f"api-usage={self.api_used + 1}/{self.daily_max}"}
        if self.rate_limit and self.api_used >= self.daily_max:
            headers["Sforce-Limit-Info"] = f"api-usage={self.api_used}/{self.daily_max}"
            raise Answer(403, LIMIT_EXCEEDED, headers)
        self.api_used += 1
        if len(raw_path) > self.max_url:
            raise Answer(414, [{"message": "URI Too Long", "errorCode": "URI_TOO_LONG"}], headers)
        try:
            status, body = self._route(match.group(1), match.group(2), rec)
        except Answer as answer:
            answer.headers = {**headers, **answer.headers}
            raise
        return status, body, headers

    def _route(self, version: str, rest: str, rec: RecordedRequest) -> tuple[int, Any]:
        parts = rest.split("/") if rest else []
        method = rec.method
        if parts == ["limits"]:
            remaining = max(self.daily_max - self.api_used, 0)
            return 200, {"DailyApiRequests": {"Max": self.daily_max, "Remaining": remaining}}
        if parts and parts[0] in ("query", "queryAll") and method == "GET":
            if len(parts) == 2:
                return 200, self._more(version, parts[1])
            return 200, self._query(version, rec, include_deleted=parts[0] == "queryAll")
        if parts == ["composite"] and method == "POST":
            return 200, self._composite(version, rec.body)
        if parts[:2] == ["composite", "sobjects"] and method in ("POST", "PATCH"):
            return 200, self._collection(rec.body, update=method == "PATCH")
        if len(parts) >= 2 and parts[0] == "sobjects" and parts[1] in self.fields:
            return self._sobject(version, parts[1], parts[2:], rec)
        raise sf_error(404, "NOT_FOUND", "The requested resource does not exist")

    def _composite(self, version: str, body: Any) -> dict[str, Any]:
        """``POST /composite``: up to 25 subrequests, one API call. Only independent
        subrequests are played here (no ``@{ref}`` substitution)."""
        items = body.get("compositeRequest") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items or len(items) > 25:
            raise sf_error(400, "INVALID_BATCH_REQUEST", "compositeRequest needs 1 to 25 items")
        answers = []
        for item in items:
            parts = urlsplit(str(item.get("url", "")))
            sub = RecordedRequest(
                method=str(item.get("method", "GET")).upper(),
                path=parts.path,
                query={k: v[-1] for k, v in parse_qs(parts.query).items()},
                headers={},
                body=item.get("body"),
            )
            match = re.fullmatch(r"/services/data/(v\d+\.\d)/(.*?)/?", sub.path)
            try:
                if not match:
                    raise sf_error(404, "NOT_FOUND", "The requested resource does not exist")
                status, result = self._route(match.group(1), match.group(2), sub)
            except Answer as answer:
                status, result = answer.status, answer.body
            answers.append(
                {
                    "body": result,
                    "httpHeaders": {},
                    "httpStatusCode": status,
                    "referenceId": item.get("referenceId"),
                }
            )
        return {"compositeResponse": answers}

    def _sobject(
        self, version: str, obj: str, rest: list[str], rec: RecordedRequest
    ) -> tuple[int, Any]:
        method = rec.method
        if rest == ["describe"] and method == "GET":
            return 200, self._describe(obj)
        if rest in (["updated"], ["deleted"]) and method == "GET":
            return 200, self._window(obj, rest[0], rec.query)
        if not rest and method == "POST":
            if not isinstance(rec.body, dict):
                raise sf_error(400, "JSON_PARSER_ERROR", "Unexpected end of input")
            self._check_columns(obj, rec.body)
            new_id, errors = self._save(obj, rec.body, None)
            if errors:
                raise Answer(400, errors)
            return 201, {"id": new_id, "success": True, "errors": []}
        if len(rest) == 1:
            row = self.objects[obj].get(rest[0])
            if row is None or row.get("IsDeleted"):
                raise sf_error(404, "NOT_FOUND", "The requested resource does not exist")
            if method == "GET":
                wanted = rec.query.get("fields", "")
                names = [n.strip() for n in wanted.split(",") if n.strip()] or list(
                    self.fields[obj]
                )
                return 200, self._render(version, obj, row, [self._canon(obj, n) for n in names])
            if method == "PATCH":
                if not isinstance(rec.body, dict):
                    raise sf_error(400, "JSON_PARSER_ERROR", "Unexpected end of input")
                self._check_columns(obj, rec.body)
                _, errors = self._save(obj, rec.body, row)
                if errors:
                    raise Answer(400, errors)
                return 204, None
            if method == "DELETE":
                self._delete(obj, row)
                return 204, None
        raise sf_error(404, "NOT_FOUND", "The requested resource does not exist")

    def _describe(self, obj: str) -> dict[str, Any]:
        fields = []
        for f in self.fields[obj].values():
            entry = {
                "name": f.name,
                "label": f.label,
                "type": f.type,
                "length": f.length,
                "custom": f.custom,
                "createable": f.writable,
                "updateable": f.writable,
                "nillable": not f.required and f.type != "boolean",
                "defaultedOnCreate": f.name in ("Status", "IsConverted", "IsDeleted"),
                "externalId": f.name == KEY_FIELD,
            }
            if f.name == "Status" and obj == "Lead":
                entry["picklistValues"] = [
                    {"value": s, "label": s, "active": True, "defaultValue": d}
                    for s, _, d in LEAD_STATUSES
                ]
            fields.append(entry)
        return {"name": obj, "label": obj, "custom": False, "fields": fields}

    def _window(self, obj: str, kind: str, query: dict[str, str]) -> dict[str, Any]:
        try:
            start = _parse_dt(query["start"])
            end = _parse_dt(query["end"])
        except (KeyError, ValueError):
            raise sf_error(
                400, "INVALID_REPLICATION_DATE", "startDate / endDate is not valid"
            ) from None
        rows = [
            r
            for r in self.objects[obj].values()
            if start <= r["SystemModstamp"] < end and bool(r["IsDeleted"]) == (kind == "deleted")
        ]
        if kind == "deleted":
            return {
                "deletedRecords": [
                    {"id": r["Id"], "deletedDate": sf_datetime(r["SystemModstamp"])} for r in rows
                ],
                "earliestDateAvailable": sf_datetime(datetime(2000, 1, 1, tzinfo=UTC)),
                "latestDateCovered": sf_datetime(end),
            }
        return {"ids": [r["Id"] for r in rows], "latestDateCovered": sf_datetime(end)}

    # -- writes ----------------------------------------------------------------------

    def _canon(self, obj: str, name: str) -> str:
        lowered = self._lowered.get(obj)
        if lowered is None:
            lowered = self._lowered[obj] = {f.lower(): f for f in self.fields[obj]}
        canon = lowered.get(name.lower())
        if canon is None:
            raise sf_error(
                400,
                "INVALID_FIELD",
                f"No such column '{name}' on entity '{obj}'. If you are "
                "attempting to use a custom field, be sure to append the '__c' after the custom "
                "field name. Please reference your WSDL or the describe call for the "
                "appropriate names.",
            )
        return canon

    def _check_columns(self, obj: str, body: dict[str, Any]) -> None:
        for key in body:
            if key not in ("attributes", "id"):
                self._canon(obj, key)

    def _save(
        self, obj: str, body: dict[str, Any], row: dict[str, Any] | None
    ) -> tuple[str, list[dict[str, Any]]]:
        """Validate and apply one record; returns (id, errors as Salesforce words them)."""
        values = {self._canon(obj, k): v for k, v in body.items() if k not in ("attributes", "id")}
        errors = _record_errors(self.fields[obj], values, row)
        if errors:
            return "", errors
        clean = {k: (None if v == "" else v) for k, v in values.items()}
        if row is None:
            return self._insert(obj, clean), []
        self._update(obj, row, clean)
        return row["Id"], []

    def _collection(self, body: Any, *, update: bool) -> list[dict[str, Any]]:
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise sf_error(
                400, "JSON_PARSER_ERROR", "Cannot deserialize instance of SObjectCollectionRequest"
            )
        records = body["records"]
        if len(records) > 200:
            raise sf_error(
                400,
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than 200 records into this call",
            )
        for record in records:
            obj = (record.get("attributes") or {}).get("type")
            if obj not in self.fields:
                raise sf_error(400, "INVALID_TYPE", f"sObject type '{obj}' is not supported.")
            self._check_columns(obj, record)
        all_or_none = bool(body.get("allOrNone"))
        # With allOrNone the whole list is checked first and nothing is written on failure.
        results: list[dict[str, Any]] = []
        seen: set[str] = set()
        plan: list[tuple[str, dict[str, Any], dict[str, Any] | None, list[dict[str, Any]]]] = []
        for record in records:
            obj = record["attributes"]["type"]
            row = None
            errors: list[dict[str, Any]] = []
            record_id = record.get("id") or record.get("Id")
            if update:
                row = self.objects[obj].get(record_id or "")
                if not record_id:
                    errors.append(
                        _err("MISSING_ARGUMENT", "Id not specified in an update call", [])
                    )
                elif record_id in seen:
                    errors.append(_err("DUPLICATE_VALUE", f"Duplicate id in list: {record_id}", []))
                elif row is None:
                    errors.append(
                        _err("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
                    )
                elif row.get("IsDeleted"):
                    errors.append(_err("ENTITY_IS_DELETED", "entity is deleted", []))
                seen.add(record_id or "")
            elif record_id:
                errors.append(
                    _err(
                        "INVALID_FIELD_FOR_INSERT_UPDATE",
                        "cannot specify Id in an insert call",
                        ["Id"],
                    )
                )
            plan.append((obj, record, row, errors))
        if all_or_none:
            failed = any(p[3] for p in plan) or any(
                self._dry_errors(o, r, row) for o, r, row, e in plan if not e
            )
            if failed:
                return [
                    {
                        "success": False,
                        "errors": e
                        or self._dry_errors(o, r, row)
                        or [
                            _err(
                                "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                                ROLLED_BACK,
                                [],
                            )
                        ],
                    }
                    for o, r, row, e in plan
                ]
        for obj, record, row, errors in plan:
            if not errors:
                new_id, errors = self._save(obj, record, row)
            if errors:
                result: dict[str, Any] = {"success": False, "errors": errors}
                if update and record.get("id"):
                    result["id"] = record["id"]
                results.append(result)
            else:
                results.append({"id": new_id, "success": True, "errors": []})
        return results

    def _dry_errors(
        self, obj: str, record: dict[str, Any], row: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        values = {
            self._canon(obj, k): v for k, v in record.items() if k not in ("attributes", "id")
        }
        return _record_errors(self.fields[obj], values, row)

    # -- queries ---------------------------------------------------------------------

    def _query(
        self, version: str, rec: RecordedRequest, *, include_deleted: bool
    ) -> dict[str, Any]:
        text = rec.query.get("q", "")
        if len(text) > 100_000:
            raise sf_error(
                400, "MALFORMED_QUERY", "SOQL statements cannot be longer than 100000 characters"
            )
        try:
            query = parse_soql(text)
        except ValueError as exc:
            raise sf_error(400, "MALFORMED_QUERY", str(exc)) from None
        rows = self._run(query, include_deleted)
        names = [self._canon(query.obj, n) for n in query.fields]
        rendered = [self._render(version, query.obj, r, names) for r in rows]
        size = self.batch_size
        options = rec.headers.get("sforce-query-options", "")
        if m := re.search(r"batchSize=(\d+)", options):
            size = min(max(int(m.group(1)), 200), 2000, size)
        return self._page(version, rendered, 0, size)

    def _page(
        self, version: str, rows: list[dict[str, Any]], start: int, size: int
    ) -> dict[str, Any]:
        chunk = rows[start : start + size]
        answer: dict[str, Any] = {
            "totalSize": len(rows),
            "done": start + size >= len(rows),
            "records": chunk,
        }
        if not answer["done"]:
            locator = "01g5g" + secrets.token_hex(6).upper()
            self._cursors[locator] = rows
            answer["nextRecordsUrl"] = f"/services/data/{version}/query/{locator}-{start + size}"
            self._cursors[locator + ":size"] = size  # type: ignore[assignment]
        return answer

    def _more(self, version: str, token: str) -> dict[str, Any]:
        locator, _, offset = token.rpartition("-")
        rows = self._cursors.get(locator)
        if rows is None or not offset.isdigit():
            raise sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        size = int(self._cursors.get(locator + ":size", self.batch_size))  # type: ignore[arg-type]
        return self._page(version, rows, int(offset), size)

    def _run(self, query: Query, include_deleted: bool) -> list[dict[str, Any]]:
        obj = query.obj
        if obj not in self.fields:
            raise sf_error(400, "INVALID_TYPE", f"sObject type '{obj}' is not supported.")
        table = self.objects[obj]
        candidates = query.candidates(self._lookup(obj)) if query.where is not None else None
        pool = (
            table.values() if candidates is None else [table[i] for i in candidates if i in table]
        )
        resolve = self._resolver(include_deleted)
        rows = [
            r
            for r in pool
            if (include_deleted or not r.get("IsDeleted"))
            and (query.where is None or query.where.test(r, lambda n: self._canon(obj, n), resolve))
        ]
        for name, descending in reversed(query.order):
            canon = self._canon(obj, name)
            rows.sort(key=lambda r: _sort_key(r.get(canon)), reverse=descending)
        if query.offset:
            rows = rows[query.offset :]
        if query.limit is not None:
            rows = rows[: query.limit]
        return rows

    def _lookup(self, obj: str):  # type: ignore[no-untyped-def]
        def lookup(field: str, values: list[Any]) -> set[str] | None:
            try:
                canon = self._canon(obj, field)
            except Answer:
                return None
            if canon == "Id":
                return {str(v) for v in values if isinstance(v, str)}
            if obj != "Lead" or canon not in INDEXED:
                return None
            out: set[str] = set()
            for v in values:
                out |= self._index[canon].get(_index_value(v), set())
            return out

        return lookup

    def _resolver(self, include_deleted: bool):  # type: ignore[no-untyped-def]
        def resolve(sub: Query) -> set[str]:
            return {str(r["Id"]) for r in self._run(sub, include_deleted=False)}

        return resolve

    def _render(
        self, version: str, obj: str, row: dict[str, Any], names: list[str]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": {
                "type": obj,
                "url": f"/services/data/{version}/sobjects/{obj}/{row['Id']}",
            }
        }
        for name in names:
            value = row.get(name)
            if isinstance(value, datetime):
                value = sf_datetime(value)
            elif isinstance(value, Decimal):
                value = float(value)
            out[name] = value
        return out


_MS = datetime(2000, 1, 1, 0, 0, 0, 1000, tzinfo=UTC) - datetime(2000, 1, 1, tzinfo=UTC)


def _err(code: str, message: str, fields: list[str]) -> dict[str, Any]:
    return {"statusCode": code, "message": message, "fields": fields}


def _record_errors(
    fields: dict[str, Field], values: dict[str, Any], row: dict[str, Any] | None
) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    readonly = [n for n in values if not fields[n].writable]
    if readonly:
        message = (
            f"Unable to create/update fields: {', '.join(readonly)}. Please check the security "
            "settings of this field and verify that it is read/write for your profile or "
            "permission set."
        )
        errors.append(_err("INVALID_FIELD_FOR_INSERT_UPDATE", message, readonly))
    if row is not None and row.get("IsConverted"):
        errors.append(_err("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", []))
    merged = {**(row or {}), **values}
    missing = [
        f.name for f in fields.values() if f.required and not str(merged.get(f.name) or "").strip()
    ]
    if missing:
        message = f"Required fields are missing: [{', '.join(missing)}]"
        errors.append(_err("REQUIRED_FIELD_MISSING", message, missing))
    for name, value in values.items():
        f = fields[name]
        text = "" if value is None else str(value)
        if f.length and f.type in ("string", "email", "phone", "textarea") and len(text) > f.length:
            message = f"{f.label}: data value too large: {text[:20]}... (max length={f.length})"
            errors.append(_err("STRING_TOO_LONG", message, [name]))
        if f.type == "email" and text and not _EMAIL_RE.fullmatch(text):
            message = f"{f.label}: invalid email address: {text}"
            errors.append(_err("INVALID_EMAIL_ADDRESS", message, [name]))
        if name == "Status" and text and text not in [s[0] for s in LEAD_STATUSES]:
            message = f"{f.label}: bad value for restricted picklist field: {text}"
            errors.append(_err("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", message, [name]))
    return errors


def _full_name(row: dict[str, Any]) -> str:
    return " ".join(p for p in (row.get("FirstName"), row.get("LastName")) if p)


def _index_value(value: Any) -> str:
    return str(value).strip().lower() if value else ""


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")  # ASC puts nulls first, as Salesforce does by default
    if isinstance(value, str):
        return (1, value.lower())
    return (1, value)


def _parse_dt(text: str) -> datetime:
    text = text.strip().replace("Z", "+00:00")
    text = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", text)
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSalesforce
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: with Nagle on, the second waits for
    # the client's delayed ACK (~40 ms per answer on loopback).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        record = RecordedRequest(
            method=method,
            path=parts.path,
            query={k: v[-1] for k, v in parse_qs(parts.query).items()},
            headers={k.lower(): v for k, v in self.headers.items()},
            body=_parse_body(self.headers.get("Content-Type", ""), raw),
            at=time.monotonic(),
        )
        with fake._lock:
            fake.requests.append(record)
        if fake.latency:
            time.sleep(fake.latency)
        fault = fake._take_fault(parts.path)
        if fault == "drop":
            self.close_connection = True
            return
        headers: dict[str, str] = {}
        if fault == "500":
            status, body = 500, UNKNOWN
        elif fault == "401":
            status, body = 401, SESSION_EXPIRED
        elif fault == "404":
            status, body = (
                404,
                [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}],
            )
        elif fault == "rate":
            status, body = 403, LIMIT_EXCEEDED
            headers = {"Sforce-Limit-Info": f"api-usage={fake.daily_max}/{fake.daily_max}"}
        else:
            try:
                with fake._lock:
                    status, body, headers = fake._handle(record, self.path)
            except Answer as answer:
                status, body, headers = answer.status, answer.body, answer.headers
        record.status = status
        if fault == "timeout":
            # The work is done; the answer never comes (the client gives up or sees the
            # connection close), which is what a timed-out create looks like.
            fake._stopping.wait(fake.hang_seconds)
            self.close_connection = True
            return
        payload = b"" if body is None else json.dumps(body).encode()
        try:
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", "application/json;charset=UTF-8")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass


def _parse_body(content_type: str, raw: str) -> Any:
    if not raw:
        return None
    if content_type.startswith("application/json"):
        try:
            return json.loads(raw, parse_float=Decimal)
        except ValueError:
            return raw
    if content_type.startswith("application/x-www-form-urlencoded"):
        return {k: v[-1] for k, v in parse_qs(raw).items()}
    return raw


# ---------------------------------------------------------------------- SOQL subset

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<str>'(?:[^'\\]|\\.)*')
    |(?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
    |(?P<date>\d{4}-\d{2}-\d{2}(?![\dT]))
    |(?P<num>-?\d+(?:\.\d+)?)
    |(?P<op><=|>=|!=|<>|=|<|>|\(|\)|,)
    |(?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.X,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), body)


@dataclass
class Node:
    kind: str  # "or" "and" "not" "cmp" "in"
    kids: list[Node] | None = None
    field: str = ""
    op: str = ""
    value: Any = None  # a literal, a list of literals, or a sub-Query
    negate: bool = False
    _folded: set[str] | None = None

    def test(self, row: dict[str, Any], canon, resolve) -> bool:  # type: ignore[no-untyped-def]
        if self.kind == "or":
            return any(k.test(row, canon, resolve) for k in self.kids or [])
        if self.kind == "and":
            return all(k.test(row, canon, resolve) for k in self.kids or [])
        if self.kind == "not":
            return not (self.kids or [])[0].test(row, canon, resolve)
        actual = row.get(canon(self.field))
        if self.kind == "in":
            if isinstance(self.value, Query):
                values = resolve(self.value)
            elif all(isinstance(v, str) for v in self.value):
                # Text IN lists are matched ignoring case, through a set (long lists).
                if self._folded is None:
                    self._folded = {v.lower() for v in self.value}
                hit = isinstance(actual, str) and actual.lower() in self._folded
                return hit != self.negate
            else:
                values = self.value
            hit = any(_compare(actual, "=", v) for v in values)
            return hit != self.negate
        return _compare(actual, self.op, self.value)

    def candidates(self, lookup) -> set[str] | None:  # type: ignore[no-untyped-def]
        """Ids that can satisfy this condition, through the indexes; None = scan all."""
        if self.kind == "or":
            found: set[str] = set()
            for kid in self.kids or []:
                got = kid.candidates(lookup)
                if got is None:
                    return None
                found |= got
            return found
        if self.kind == "and":
            sets = [s for k in self.kids or [] if (s := k.candidates(lookup)) is not None]
            return set.intersection(*sets) if sets else None
        if self.kind == "in" and not self.negate and isinstance(self.value, list):
            return lookup(self.field, self.value)
        if self.kind == "cmp" and self.op == "=" and self.value is not None:
            return lookup(self.field, [self.value])
        return None


@dataclass
class Query:
    fields: list[str]
    obj: str
    where: Node | None
    order: list[tuple[str, bool]]
    limit: int | None
    offset: int

    def candidates(self, lookup) -> set[str] | None:  # type: ignore[no-untyped-def]
        return self.where.candidates(lookup) if self.where is not None else None


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if isinstance(actual, datetime) and isinstance(expected, str):
        expected = _parse_dt(expected)
    if isinstance(actual, str) and isinstance(expected, str):
        actual, expected = actual.lower(), expected.lower()  # SOQL text matching ignores case
    if isinstance(actual, bool) or isinstance(expected, bool):
        actual, expected = bool(actual), bool(expected)
    if actual is None or expected is None:
        if op in ("=",):
            return actual is expected or (actual is None and expected is None)
        if op in ("!=", "<>"):
            return not (actual is None and expected is None)
        return False
    if isinstance(expected, Decimal) and not isinstance(actual, Decimal):
        try:
            actual = Decimal(str(actual))
        except ArithmeticError:
            return False
    try:
        return {
            "=": actual == expected,
            "!=": actual != expected,
            "<>": actual != expected,
            "<": actual < expected,
            ">": actual > expected,
            "<=": actual <= expected,
            ">=": actual >= expected,
        }[op]
    except TypeError:
        return False


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise ValueError(f"unexpected token at position {pos}: {text[pos : pos + 20]!r}")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.pos = 0

    def peek(self, offset: int = 0) -> tuple[str, str]:
        at = self.pos + offset
        return self.tokens[at] if at < len(self.tokens) else ("", "")

    def word(self, *words: str) -> bool:
        kind, value = self.peek()
        if kind == "word" and value.upper() in words:
            self.pos += 1
            return True
        return False

    def expect_word(self, word: str) -> None:
        if not self.word(word):
            raise ValueError(f"expecting '{word}', found {self.peek()[1]!r}")

    def op(self, *ops: str) -> str | None:
        kind, value = self.peek()
        if kind == "op" and value in ops:
            self.pos += 1
            return value
        return None

    def name(self) -> str:
        kind, value = self.peek()
        if kind != "word":
            raise ValueError(f"expecting a field name, found {value!r}")
        self.pos += 1
        return value

    def query(self) -> Query:
        self.expect_word("SELECT")
        fields = [self.name()]
        while self.op(","):
            fields.append(self.name())
        self.expect_word("FROM")
        obj = self.name()
        where = self.expr() if self.word("WHERE") else None
        order: list[tuple[str, bool]] = []
        if self.word("ORDER"):
            self.expect_word("BY")
            while True:
                field = self.name()
                descending = self.word("DESC")
                if not descending:
                    self.word("ASC")
                if self.word("NULLS"):
                    self.word("FIRST", "LAST")
                order.append((field, descending))
                if not self.op(","):
                    break
        limit = int(self.literal()) if self.word("LIMIT") else None
        offset = int(self.literal()) if self.word("OFFSET") else 0
        return Query(fields, obj, where, order, limit, offset)

    def expr(self) -> Node:
        kids = [self.conj()]
        while self.word("OR"):
            kids.append(self.conj())
        return kids[0] if len(kids) == 1 else Node("or", kids)

    def conj(self) -> Node:
        kids = [self.factor()]
        while self.word("AND"):
            kids.append(self.factor())
        return kids[0] if len(kids) == 1 else Node("and", kids)

    def factor(self) -> Node:
        if self.word("NOT"):
            return Node("not", [self.factor()])
        if self.op("("):
            inner = self.expr()
            if not self.op(")"):
                raise ValueError("expecting ')'")
            return inner
        field = self.name()
        negate = self.word("NOT")
        if self.word("IN"):
            if not self.op("("):
                raise ValueError("expecting '(' after IN")
            if self.peek() == ("word", "SELECT") or self.peek()[1].upper() == "SELECT":
                sub = self.query()
                values: Any = sub
            else:
                values = [self.literal()]
                while self.op(","):
                    values.append(self.literal())
            if not self.op(")"):
                raise ValueError("expecting ')' to close IN")
            return Node("in", field=field, value=values, negate=negate)
        if negate:
            raise ValueError("expecting IN after NOT")
        op = self.op("=", "!=", "<>", "<", ">", "<=", ">=")
        if op is None:
            raise ValueError(f"unexpected token: {self.peek()[1]!r}")
        return Node("cmp", field=field, op=op, value=self.literal())

    def literal(self) -> Any:
        kind, value = self.peek()
        self.pos += 1
        if kind == "str":
            return _unquote(value)
        if kind == "dt":
            return _parse_dt(value)
        if kind == "date":
            return value
        if kind == "num":
            return Decimal(value)
        if kind == "word" and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if kind == "word" and value.lower() == "null":
            return None
        raise ValueError(f"unexpected token: {value!r}")


def parse_soql(text: str) -> Query:
    parser = _Parser(text)
    query = parser.query()
    if parser.pos != len(parser.tokens):
        raise ValueError(f"unexpected token: {parser.peek()[1]!r}")
    return query
