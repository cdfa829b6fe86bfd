"""A fake amoCRM account (API v4) on 127.0.0.1, speaking the shapes of CRM_APIS.md §1.

Self-contained (stdlib only) so the demo can run it:
``python -m tests.fakes.amocrm --port 8801 --token T --account-id 28805383 --subdomain acme``

What it does, as amo does:
- Auth: ``Authorization: Bearer`` with the long-lived token or an OAuth access token;
  401 problem-JSON otherwise. ``POST /oauth2/access_token`` (JSON) trades a code (from
  ``GET /oauth``, or ``issue_code()``) or a refresh token; each refresh rotates the
  refresh token and the previous one stays valid until the new one is used; bad codes
  and tokens get 400 with a ``hint``.
- Leads, contacts, companies: array bodies, ``request_id`` echo, ``_embedded``
  envelopes, ``custom_fields_values`` by ``field_id``/``field_code`` (EMAIL/PHONE
  multitext on contacts), ``POST /api/v4/leads/complex`` (<= 50, bare-array answer),
  ``/leads/link``, ``/leads/notes``. A write with any invalid item is refused whole:
  400 ``validation-errors`` by request_id; more than 250 items: 422.
- Lists: ``page``/``limit`` (<= 250), ``_links.next`` only when there is more, 204 with
  no body when nothing matches, ``query=`` (substring; digits-only for phones),
  ``filter[id][]``, ``filter[updated_at][from|to]``, ``order[...]``, ``with=contacts``,
  ``with=leads``, ``with=only_deleted``.
- Pipelines whose won/lost statuses are 142/143; custom fields labelled "PRM lead id",
  "PRM partner", "PRM referral code", "PRM promo code", "PRM program" (text), plus
  "Deal date" (date) and "Budget" (numeric).
- Rate limit (``rate_limit = True``): more than 7 API requests within one second
  (sliding window) -> 429 problem-JSON with ``retry_after``.
- Webhooks: ``/api/v4/webhooks`` subscriptions; changes made through the control panel
  or the web page at ``/`` are POSTed (form-encoded, v2 names) to every subscriber.
  A contact's name / e-mail / phone edit is a ``contacts[update]`` event (to
  ``update_contact`` subscribers) and bumps the contact's ``updated_at`` only: the
  lead's stays, as in amo.

Deviations, on purpose: an unknown ``filter[...]`` is ignored; ``required_lead_fields``
(ids of lead fields that must be filled, empty by default) stands in for amo's
per-stage required fields, answered as a ``NotBlank`` validation error (code [U]).
"""

from __future__ import annotations

import argparse
import html
import http.client
import json
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

FAULTS = ("500", "timeout", "drop", "rate", "401", "404")
RATE_LIMIT = 7  # requests per second
CONTACT_KEYS = ("name", "email", "phone")  # neutral keys that live on the main contact
MAX_PAGE = 250
MAX_COMPLEX = 50
MAIN_PIPELINE = 3177727
PARTNER_PIPELINE = 3177730
WON, LOST = 142, 143
USER = 504141
PHONE_ENUMS = {"WORK", "WORKDD", "MOB", "FAX", "HOME", "OTHER"}
EMAIL_ENUMS = {"WORK", "PRIV", "OTHER"}
LEAD_FIELDS = [
    (1278898001, "PRM lead id", "text"),
    (1278898003, "PRM partner", "text"),
    (1278898005, "PRM referral code", "text"),
    (1278898007, "PRM promo code", "text"),
    (1278898009, "PRM program", "text"),
    (1278898015, "PRM reward amount", "text"),
    (1278898017, "PRM reward currency", "text"),
    (1278898019, "PRM reward status", "text"),
    (1278898021, "PRM partner accrued", "text"),
    (1278898023, "PRM partner approved", "text"),
    (1278898025, "PRM partner paid", "text"),
    (1278898011, "Deal date", "date"),
    (1278898013, "Budget", "numeric"),
]
PARTNER_KEY = "cf:1278898003"  # "PRM partner", shown on the page
CONTACT_FIELDS = [
    (264901, "Телефон", "multitext", "PHONE"),
    (264903, "Email", "multitext", "EMAIL"),
    (264905, "PRM partner id", "text", None),  # our partner id (partners as contacts)
    (264907, "PRM partner accrued", "text", None),  # its balances
    (264909, "PRM partner approved", "text", None),
    (264911, "PRM partner paid", "text", None),
]
PIPELINES = [
    (
        MAIN_PIPELINE,
        "Воронка",
        True,
        [(32392150, "Неразобранное"), (32392153, "Первичный контакт"), (32392156, "Переговоры")],
    ),
    (PARTNER_PIPELINE, "Partners", False, [(32392160, "Incoming"), (32392163, "Qualified")]),
]
_TEXT_TYPES = {"text", "textarea", "url", "multitext", "streetaddress"}
_CANNED = {
    "500": (
        500,
        {
            "title": "ErrInternalServer",
            "type": "https://httpstatus.es/500",
            "status": 500,
            "detail": "Internal server error",
            "trace_id": "fake",
        },
    ),
    "rate": (
        429,
        {
            "title": "Too Many Requests",
            "type": "https://httpstatus.es/429",
            "status": 429,
            "detail": "You sent too many requests",
            "retry_after": 1,
        },
    ),
    "404": (
        404,
        {
            "title": "Not Found",
            "type": "https://httpstatus.es/404",
            "status": 404,
            "detail": "Entity not found",
        },
    ),
    "401": (
        401,
        {
            "title": "Unauthorized",
            "type": "https://httpstatus.es/401",
            "status": 401,
            "detail": "Invalid user name or password",
        },
    ),
}


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: Any
    status: int | None = None  # None when the connection was dropped
    at: float = 0.0


@dataclass
class _Fault:
    kind: str
    remaining: int
    path: str | None
    method: str | None = None  # only requests of this method (None: any)


class _Answer(Exception):
    def __init__(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def _problem(status: int, title: str, detail: str, **extra: Any) -> _Answer:
    body = {
        "title": title,
        "type": f"https://httpstatus.es/{status}",
        "status": status,
        "detail": detail,
        **extra,
    }
    return _Answer(status, body)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")


def _now() -> int:
    return int(time.time())


@dataclass
class _World:
    """The account's data (guarded by the fake's lock)."""

    leads: dict[int, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    companies: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: dict[int, dict[str, Any]] = field(default_factory=dict)
    lead_notes: dict[int, list[int]] = field(default_factory=dict)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    next_id: int = 19600


class FakeAmo:
    """``start()``, point a connection at ``base_url`` (``connection_config()``), ``stop()``."""

    provider = "amocrm"

    def __init__(
        self,
        *,
        token: str = "fake-long-lived-token",
        account_id: int = 28805383,
        subdomain: str = "acme",
        client_id: str = "3f1c6a0e-fake-4c1b-9d7e-amocrm000001",
        client_secret: str = "fake-amo-secret",
        redirect_uri: str = "",
        auth_kind: str = "oauth",
        port: int = 0,
    ) -> None:
        self.token, self.account_id, self.subdomain = token, account_id, subdomain
        self.client_id, self.client_secret, self.redirect_uri = (
            client_id,
            client_secret,
            redirect_uri,
        )
        self.auth_kind = auth_kind  # what connection_config() hands out
        self.port = port
        self.rate_limit = False
        self.latency = 0.0  # seconds each API request waits before it is handled
        self.token_ttl = 86400
        self.required_lead_fields: set[int] = set()
        self.requests: list[RecordedRequest] = []
        self.world = _World()
        self._access: dict[str, float] = {}  # access token -> expires at (unix)
        self._refresh: dict[str, str | None] = {}  # refresh token -> its predecessor
        self._codes: dict[str, float] = {}
        self._revoked = False
        self._window: deque[float] = deque()
        self.token_refreshes = 0  # refresh grants honoured
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.lead_fields = {
            fid: {
                "id": fid,
                "name": name,
                "type": kind,
                "code": None,
                "sort": n,
                "enums": None,
                "entity_type": "leads",
                "is_api_only": False,
            }
            for n, (fid, name, kind) in enumerate(LEAD_FIELDS)
        }
        self.contact_fields = {
            fid: {
                "id": fid,
                "name": name,
                "type": kind,
                "code": code,
                "sort": n,
                "entity_type": "contacts",
                "enums": [
                    {"id": 100 + i, "value": v, "sort": i}
                    for i, v in enumerate(sorted(PHONE_ENUMS if code == "PHONE" else EMAIL_ENUMS))
                ]
                if code
                else None,
            }
            for n, (fid, name, kind, code) in enumerate(CONTACT_FIELDS)
        }

    # ------------------------------------------------------------ lifecycle

    def start(self) -> FakeAmo:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def auth_url(self) -> str:
        return self.base_url  # the consent page is served here too

    # ------------------------------------------------------------ control panel

    def connection_config(self) -> dict[str, Any]:
        if self.auth_kind == "token":
            credentials: dict[str, Any] = {"access_token": self.token}
        else:
            answer = self._issue_tokens()
            credentials = {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "redirect_uri": self.redirect_uri or "https://prm.example/amo/callback",
                "access_token": answer["access_token"],
                "refresh_token": answer["refresh_token"],
                "expires_at": answer["server_time"] + answer["expires_in"],
            }
        return {
            "auth_kind": self.auth_kind,
            "base_url": self.base_url,
            "auth_url": self.auth_url,
            "credentials": credentials,
            "settings": {"currency": "RUB"},
        }

    def inject(
        self, fault: str, times: int = 1, path: str | None = None, method: str | None = None
    ) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
        with self._lock:
            if times == 0:  # "times=0": clear what is pending
                self._faults = [f for f in self._faults if f.kind != fault]
                return
            self._faults.append(_Fault(fault, times, path, method))

    def prefill(self, requests: int) -> None:
        """Another integration's ``requests`` have just landed in the current window."""
        with self._lock:
            now = time.monotonic()
            self._window.extend([now] * requests)

    def expire_tokens(self) -> None:
        with self._lock:
            self._access = dict.fromkeys(self._access, 0.0)

    def revoke(self) -> None:
        with self._lock:
            self._revoked = True
            self._access.clear()
            self._refresh.clear()

    def issue_code(self) -> str:
        code = "def502" + secrets.token_hex(16)
        with self._lock:
            self._codes[code] = time.time() + 20 * 60
        return code

    def calls(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in list(self.requests)
            if (method is None or r.method == method) and (path is None or r.path.startswith(path))
        ]

    def seed_contact(self, name: str, email: str) -> int:
        """A contact someone made in the account (no partner id on it)."""
        with self._lock:
            body = {
                "name": name,
                "custom_fields_values": [
                    {"field_code": "EMAIL", "values": [{"value": email, "enum_code": "WORK"}]}
                ],
            }
            return int(self._new_contact(body)["id"])

    def contacts(self) -> list[dict[str, Any]]:
        """Live contacts as {"id", "name", "emails", "tags", "partner_id", "balances"}."""
        with self._lock:
            out = []
            for c in self.world.contacts.values():
                if c["is_deleted"]:
                    continue
                cfs = {cf["field_id"]: cf["values"] for cf in c["custom_fields_values"] or []}
                out.append(
                    {
                        "id": c["id"],
                        "name": c["name"],
                        "emails": [v["value"] for v in cfs.get(264903, [])],
                        "tags": sorted(t.get("name") for t in c.get("tags") or []),
                        "partner_id": next((v["value"] for v in cfs.get(264905, [])), ""),
                        "balances": {
                            role: next((v["value"] for v in cfs.get(fid, [])), "")
                            for role, fid in (
                                ("partner_accrued", 264907),
                                ("partner_approved", 264909),
                                ("partner_paid", 264911),
                            )
                        },
                    }
                )
            return out

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._neutral(lead) for lead in self.world.leads.values()]

    def create_record(
        self, title: str, email: str = "", phone: str = "", fields: dict[str, str] | None = None
    ) -> str:
        with self._lock:
            lead = self._new_lead({"name": title})
            if email or phone:
                contact = self._new_contact(
                    {"name": title, "custom_fields_values": _multitext(email, phone)}
                )
                lead["contact_ids"] = [contact["id"]]
            for key, value in (fields or {}).items():
                self._set_value(lead, key, value)
        self._emit(lead["id"], "add")
        return str(lead["id"])

    def update_record(self, crm_id: str, **values: str) -> None:
        """``title`` renames the deal and its main contact (a person editing the
        customer's name in the card); email / phone / name / company / notes / cf:N.

        As in amo, name, e-mail and phone live on the contact: changing only those
        changes the contact (its ``updated_at``, a ``contacts[update]`` event), not the
        lead, whose ``updated_at`` and events stay as they were."""
        with self._lock:
            lead = self.world.leads[int(crm_id)]
            for key, value in values.items():
                if key == "title":
                    lead["name"] = value
                    self._set_value(lead, "name", value)
                else:
                    self._set_value(lead, key, value)
            lead_changed = any(key not in CONTACT_KEYS for key in values)
            if lead_changed:
                lead["updated_at"] = _now()
            touched = any(key in ("title", *CONTACT_KEYS) for key in values)
            contact = self._main_contact(lead) if touched else None
        if lead_changed:
            self._emit(int(crm_id), "update")
        if contact is not None:
            self._emit_contact(contact["id"], "update")

    def unlink_contact(self, crm_id: str) -> None:
        """A person removes the lead's contact from it in amoCRM (the contact stays)."""
        with self._lock:
            lead = self.world.leads[int(crm_id)]
            lead["contact_ids"] = []
            lead["updated_at"] = _now()
        self._emit(int(crm_id), "update")

    def contact_of(self, crm_id: str) -> str:
        """The id of a lead's main contact ("" when it has none)."""
        with self._lock:
            contact = self._main_contact(self.world.leads[int(crm_id)])
        return str(contact["id"]) if contact else ""

    def contact_event_body(self, contact_id: str, kind: str = "update") -> tuple[str, bytes]:
        """(content type, body) of the ``contacts[<kind>]`` webhook for a contact."""
        with self._lock:
            contact = self.world.contacts[int(contact_id)]
            pairs = self._contact_event_pairs(contact, kind)
        return "application/x-www-form-urlencoded", urlencode(pairs).encode()

    def move(self, crm_id: str, semantic: str, amount: str | None = None) -> None:
        with self._lock:
            lead = self.world.leads[int(crm_id)]
            lead["old_status_id"] = lead["status_id"]
            if semantic == "won":
                lead["status_id"] = WON
            elif semantic == "lost":
                lead["status_id"] = LOST
            else:
                lead["status_id"] = self._first_status(lead["pipeline_id"])
            lead["closed_at"] = _now() if semantic in ("won", "lost") else None
            if amount is not None:
                lead["price"] = int(Decimal(amount).to_integral_value())
            lead["updated_at"] = _now()
        self._emit(int(crm_id), "status")

    def delete_record(self, crm_id: str) -> None:
        with self._lock:
            lead = self.world.leads[int(crm_id)]
            lead["is_deleted"] = True
            lead["updated_at"] = _now()
        self._emit(int(crm_id), "delete")

    def event_body(self, crm_id: str, kind: str) -> tuple[str, bytes]:
        with self._lock:
            lead = self.world.leads[int(crm_id)]
            pairs = self._event_pairs(lead, kind)
        return "application/x-www-form-urlencoded", urlencode(pairs).encode()

    def send_event(self, url: str, crm_id: str, kind: str) -> int | None:
        content_type, body = self.event_body(crm_id, kind)
        return _post(url, content_type, body)

    # ------------------------------------------------------------ the world

    def _id(self) -> int:
        self.world.next_id += 1
        return self.world.next_id

    def _first_status(self, pipeline_id: int) -> int:
        for pid, _, _, statuses in PIPELINES:
            if pid == pipeline_id:
                return statuses[1][0] if len(statuses) > 1 else statuses[0][0]
        return PIPELINES[0][3][1][0]

    def _new_lead(self, data: dict[str, Any]) -> dict[str, Any]:
        now = _now()
        pipeline = int(data.get("pipeline_id") or MAIN_PIPELINE)
        lead = {
            "id": self._id(),
            "name": data.get("name") or "",
            "price": int(data.get("price") or 0),
            "responsible_user_id": USER,
            "group_id": 0,
            "pipeline_id": pipeline,
            "status_id": int(data.get("status_id") or self._first_status(pipeline)),
            "loss_reason_id": None,
            "created_by": 0,
            "updated_by": 0,
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
            "closest_task_at": None,
            "is_deleted": False,
            "custom_fields_values": None,
            "score": None,
            "account_id": self.account_id,
            "labor_cost": None,
            "contact_ids": [],
            "company_id": None,
            "tags": data.get("_embedded", {}).get("tags") or [],
        }
        self._write_cfs(lead, data.get("custom_fields_values"), self.lead_fields)
        self.world.leads[lead["id"]] = lead
        return lead

    def _new_contact(self, data: dict[str, Any]) -> dict[str, Any]:
        now = _now()
        contact = {
            "id": self._id(),
            "name": data.get("name") or "",
            "first_name": "",
            "last_name": "",
            "responsible_user_id": USER,
            "group_id": 0,
            "created_by": 0,
            "updated_by": 0,
            "created_at": now,
            "updated_at": now,
            "closest_task_at": None,
            "is_deleted": False,
            "is_unsorted": False,
            "custom_fields_values": None,
            "account_id": self.account_id,
            "tags": list(data.get("_embedded", {}).get("tags") or []),
        }
        self._write_cfs(contact, data.get("custom_fields_values"), self.contact_fields)
        self.world.contacts[contact["id"]] = contact
        return contact

    def _new_company(self, data: dict[str, Any]) -> dict[str, Any]:
        now = _now()
        company = {
            "id": self._id(),
            "name": data.get("name") or "",
            "created_at": now,
            "updated_at": now,
            "is_deleted": False,
            "custom_fields_values": None,
            "account_id": self.account_id,
            "responsible_user_id": USER,
        }
        self.world.companies[company["id"]] = company
        return company

    def _add_note(self, lead_id: int, text: str) -> dict[str, Any]:
        note = {
            "id": self._id(),
            "entity_id": lead_id,
            "created_by": 0,
            "updated_by": 0,
            "created_at": _now(),
            "updated_at": _now(),
            "responsible_user_id": USER,
            "group_id": 0,
            "note_type": "common",
            "params": {"text": text},
            "account_id": self.account_id,
        }
        self.world.notes[note["id"]] = note
        self.world.lead_notes.setdefault(lead_id, []).append(note["id"])
        return note

    def _write_cfs(self, entity: dict[str, Any], cfs: Any, fields: dict[int, dict]) -> None:
        """Store validated custom field values (replacing each field given)."""
        if not cfs:
            return
        current = {cf["field_id"]: cf for cf in entity.get("custom_fields_values") or []}
        by_code = {f["code"]: f for f in fields.values() if f.get("code")}
        for cf in cfs:
            meta = fields.get(cf.get("field_id")) or by_code.get(cf.get("field_code"))
            assert meta is not None
            values = [_stored(meta, v) for v in cf.get("values") or []]
            if values:
                current[meta["id"]] = {
                    "field_id": meta["id"],
                    "field_name": meta["name"],
                    "field_code": meta.get("code"),
                    "field_type": meta["type"],
                    "values": values,
                }
            else:
                current.pop(meta["id"], None)
        entity["custom_fields_values"] = list(current.values()) or None
        entity["updated_at"] = _now()

    def _main_contact(self, lead: dict[str, Any]) -> dict[str, Any] | None:
        for cid in lead["contact_ids"]:
            contact = self.world.contacts.get(cid)
            if contact and not contact["is_deleted"]:
                return contact
        return None

    def _set_value(self, lead: dict[str, Any], key: str, value: str) -> None:
        """A person's edit of one neutral key."""
        if key in ("name", "email", "phone"):
            contact = self._main_contact(lead)
            if contact is None:
                contact = self._new_contact({})
                lead["contact_ids"].insert(0, contact["id"])
            if key == "name":
                contact["name"] = value
            else:
                self._write_cfs(
                    contact,
                    _multitext(value if key == "email" else "", value if key == "phone" else ""),
                    self.contact_fields,
                )
            contact["updated_at"] = _now()
        elif key == "company":
            company = self.world.companies.get(lead["company_id"] or 0)
            if company is None:
                lead["company_id"] = self._new_company({"name": value})["id"]
            else:
                company["name"] = value
        elif key == "notes":
            self._add_note(lead["id"], value)
        elif key.startswith("cf:"):
            fid = int(key[3:])
            self._write_cfs(
                lead,
                [{"field_id": fid, "values": [{"value": _typed(self.lead_fields[fid], value)}]}],
                self.lead_fields,
            )
        else:
            raise KeyError(key)

    def _neutral(self, lead: dict[str, Any]) -> dict[str, Any]:
        contact = self._main_contact(lead) or {}
        company = self.world.companies.get(lead["company_id"] or 0) or {}
        fields = {
            f"cf:{cf['field_id']}": ", ".join(
                _text(cf["field_type"], v["value"]) for v in cf["values"]
            )
            for cf in lead["custom_fields_values"] or []
        }
        notes = [
            self.world.notes[n]["params"]["text"] for n in self.world.lead_notes.get(lead["id"], [])
        ]
        email, phone = _first(contact, "EMAIL"), _first(contact, "PHONE")
        fields.update(
            name=contact.get("name", ""),
            email=email,
            phone=phone,
            company=company.get("name", ""),
            notes="\n".join(notes),
        )
        status = lead["status_id"]
        return {
            "id": str(lead["id"]),
            "title": lead["name"],
            "email": email,
            "phone": phone,
            "fields": fields,
            "stage": (str(lead["pipeline_id"]), str(status)),
            "semantic": {WON: "won", LOST: "lost"}.get(status, "open"),
            "amount": str(lead["price"]) if lead["price"] else None,
            "deleted": lead["is_deleted"],
        }

    # ------------------------------------------------------------ events out

    def _event_pairs(self, lead: dict[str, Any], kind: str) -> list[tuple[str, str]]:
        action = {"update": "update", "status": "status", "delete": "delete", "add": "add"}[kind]
        p = f"leads[{action}][0]"
        pairs = [
            (f"{p}[id]", str(lead["id"])),
            (f"{p}[status_id]", str(lead["status_id"])),
            (f"{p}[pipeline_id]", str(lead["pipeline_id"])),
        ]
        if action != "delete":
            pairs += [
                (f"{p}[name]", lead["name"]),
                (f"{p}[price]", str(lead["price"])),
                (f"{p}[responsible_user_id]", str(USER)),
                (f"{p}[last_modified]", str(lead["updated_at"])),
                (f"{p}[modified_user_id]", str(USER)),
                (f"{p}[created_user_id]", str(USER)),
                (f"{p}[date_create]", str(lead["created_at"])),
                (f"{p}[account_id]", str(self.account_id)),
                (f"{p}[created_at]", str(lead["created_at"])),
                (f"{p}[updated_at]", str(lead["updated_at"])),
            ]
            if action == "status":
                pairs += [
                    (f"{p}[old_status_id]", str(lead.get("old_status_id") or lead["status_id"])),
                    (f"{p}[old_pipeline_id]", str(lead["pipeline_id"])),
                ]
            for n, cf in enumerate(lead["custom_fields_values"] or []):
                pairs += [
                    (f"{p}[custom_fields][{n}][id]", str(cf["field_id"])),
                    (f"{p}[custom_fields][{n}][name]", cf["field_name"]),
                ]
                pairs += [
                    (f"{p}[custom_fields][{n}][values][{m}][value]", str(v["value"]))
                    for m, v in enumerate(cf["values"])
                ]
        return pairs + [
            ("account[subdomain]", self.subdomain),
            ("account[id]", str(self.account_id)),
            ("account[_links][self]", f"https://{self.subdomain}.amocrm.ru"),
        ]

    def _contact_event_pairs(self, contact: dict[str, Any], kind: str) -> list[tuple[str, str]]:
        """amo's v2 names; companies come under ``contacts`` too, with type=company."""
        p = f"contacts[{kind}][0]"
        pairs = [(f"{p}[id]", str(contact["id"])), (f"{p}[type]", "contact")]
        if kind != "delete":
            pairs += [
                (f"{p}[name]", contact.get("name") or ""),
                (f"{p}[responsible_user_id]", str(USER)),
                (f"{p}[date_create]", str(contact["created_at"])),
                (f"{p}[last_modified]", str(contact["updated_at"])),
                (f"{p}[created_user_id]", str(USER)),
                (f"{p}[modified_user_id]", str(USER)),
                (f"{p}[account_id]", str(self.account_id)),
                (f"{p}[created_at]", str(contact["created_at"])),
                (f"{p}[updated_at]", str(contact["updated_at"])),
            ]
            for n, cf in enumerate(contact["custom_fields_values"] or []):
                pairs += [
                    (f"{p}[custom_fields][{n}][id]", str(cf["field_id"])),
                    (f"{p}[custom_fields][{n}][name]", cf["field_name"]),
                    (f"{p}[custom_fields][{n}][code]", str(cf.get("field_code") or "")),
                ]
                for m, v in enumerate(cf["values"]):
                    pairs.append((f"{p}[custom_fields][{n}][values][{m}][value]", str(v["value"])))
                    if v.get("enum_id"):
                        pairs.append(
                            (f"{p}[custom_fields][{n}][values][{m}][enum]", str(v["enum_id"]))
                        )
        return pairs + [
            ("account[subdomain]", self.subdomain),
            ("account[id]", str(self.account_id)),
            ("account[_links][self]", f"https://{self.subdomain}.amocrm.ru"),
        ]

    def _emit_contact(self, contact_id: int, kind: str) -> None:
        """POST ``contacts[<kind>]`` to every subscriber of ``<kind>_contact``."""
        setting = f"{kind}_contact"
        with self._lock:
            targets = [
                h["destination"]
                for h in self.world.webhooks
                if setting in h["settings"] and not h["disabled"]
            ]
        for url in targets:
            content_type, body = self.contact_event_body(str(contact_id), kind)
            _post(url, content_type, body)

    def _emit(self, lead_id: int, kind: str) -> None:
        """POST the event to every subscriber of it (amo waits 2 s for an answer)."""
        setting = {
            "add": "add_lead",
            "update": "update_lead",
            "status": "status_lead",
            "delete": "delete_lead",
        }[kind]
        with self._lock:
            targets = [
                h["destination"]
                for h in self.world.webhooks
                if setting in h["settings"] and not h["disabled"]
            ]
        for url in targets:
            self.send_event(url, str(lead_id), kind)

    # ------------------------------------------------------------ HTTP side

    def _take_fault(self, path: str, method: str = "") -> str | None:
        with self._lock:
            for fault in self._faults:
                if (
                    fault.remaining > 0
                    and (fault.path is None or fault.path in path)
                    and fault.method in (None, method)
                ):
                    fault.remaining -= 1
                    return fault.kind
        return None

    def _over_limit(self) -> bool:
        """Sliding one-second window of accepted API requests. The moment is taken
        under the lock, so the window's times are in order even when requests arrive
        side by side (a time taken before waiting for the lock could land behind a later
        one and keep an expired request counted)."""
        if not self.rate_limit:
            return False
        with self._lock:
            now = time.monotonic()
            while self._window and now - self._window[0] >= 1.0:
                self._window.popleft()
            if len(self._window) >= RATE_LIMIT:
                return True
            self._window.append(now)
        return False

    def _issue_tokens(self) -> dict[str, Any]:
        access = "eyJ0eXAiOiJKV1Qi." + secrets.token_urlsafe(24)
        refresh = "def50200" + secrets.token_hex(24)
        with self._lock:
            self._access[access] = time.time() + self.token_ttl
            self._refresh[refresh] = None
        return {
            "token_type": "Bearer",
            "expires_in": self.token_ttl,
            "server_time": _now(),
            "access_token": access,
            "refresh_token": refresh,
        }

    def _token_endpoint(self, body: Any) -> tuple[int, Any]:
        def refuse(hint: str) -> _Answer:
            return _Answer(
                400,
                {
                    "hint": hint,
                    "title": "Некорректный запрос",
                    "type": "https://developers.amocrm.ru/v3/errors/OAuthProblemJson",
                    "status": 400,
                    "detail": "В запросе отсутствует ряд параметров или параметры невалидны",
                },
            )

        if not isinstance(body, dict):
            raise refuse("Request body is missing")
        if (
            body.get("client_id") != self.client_id
            or body.get("client_secret") != self.client_secret
        ):
            raise refuse("Client authentication failed")
        grant = body.get("grant_type")
        with self._lock:
            if grant == "authorization_code":
                expires = self._codes.pop(str(body.get("code")), None)
                if expires is None:
                    raise refuse("Cannot decrypt the authorization code")
                if expires < time.time():
                    raise refuse("Authorization code has expired")
                self._revoked = False
                return 200, self._issue_tokens()
            if grant == "refresh_token":
                token = str(body.get("refresh_token"))
                if self._revoked:
                    raise refuse("Token has been revoked")
                if token not in self._refresh:
                    raise refuse("Invalid refresh token")
                predecessor = self._refresh[token]
                if predecessor is not None:  # the new one is used: the old one dies now
                    self._refresh.pop(predecessor, None)
                answer = self._issue_tokens()
                self._refresh[answer["refresh_token"]] = token
                self.token_refreshes += 1
                return 200, answer
        raise refuse("Unsupported grant type")

    def _check_auth(self, headers: dict[str, str]) -> None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        with self._lock:
            ok = scheme == "Bearer" and (
                (token == self.token and not self._revoked)
                or self._access.get(token, 0.0) > time.time()
            )
        if not ok:
            raise _Answer(401, dict(_CANNED["401"][1]))

    # ------------------------------------------------------------ API routing

    def handle(self, record: RecordedRequest) -> tuple[int, Any]:
        path, method = record.path.rstrip("/") or "/", record.method
        if path == "/oauth2/access_token" and method == "POST":
            return self._token_endpoint(record.body)
        if not path.startswith("/api/v4/"):
            raise _problem(404, "Not Found", f"Cannot {method} {path}")
        self._check_auth(record.headers)
        q = _Query(record.query)
        body = record.body
        with self._lock:
            route = path.removeprefix("/api/v4/")
            if route == "account" and method == "GET":
                return 200, self._account()
            if route in ("leads/custom_fields", "contacts/custom_fields") and method == "GET":
                fields = self.lead_fields if route.startswith("leads") else self.contact_fields
                return self._page(route, "custom_fields", list(fields.values()), q)
            if route == "leads/pipelines" and method == "GET":
                return 200, self._pipelines()
            if route == "leads/complex" and method == "POST":
                return 200, self._complex(body)
            if route == "leads/link" and method == "POST":
                return 200, self._link(body)
            if route == "leads/notes":
                if method == "GET":
                    return self._list_notes(q)
                if method == "POST":
                    return 200, self._post_notes(body)
            if route == "webhooks":
                return self._webhooks(method, body, q)
            match = re.fullmatch(r"(leads|contacts|companies)(?:/(\d+))?", route)
            if match:
                kind, one = match.group(1), match.group(2)
                if method == "GET" and one:
                    return self._get_one(kind, int(one), q)
                if method == "GET":
                    return self._list(kind, q)
                if method == "POST" and not one:
                    return 200, self._create(kind, body)
                if method == "PATCH":
                    if one:
                        item = {**(body if isinstance(body, dict) else {}), "id": int(one)}
                        answer = self._update(kind, [item])
                        return 200, answer["_embedded"][kind][0]
                    return 200, self._update(kind, body)
                raise _problem(405, "Method Not Allowed", f"{method} is not allowed here")
        raise _problem(404, "Not Found", f"Cannot {method} {self.base_url}{path}")

    def _account(self) -> dict[str, Any]:
        return {
            "id": self.account_id,
            "name": f"{self.subdomain.title()} Ltd",
            "subdomain": self.subdomain,
            "created_at": 1700000000,
            "created_by": USER,
            "updated_at": 1700000000,
            "updated_by": USER,
            "current_user_id": USER,
            "country": "RU",
            "currency": "RUB",
            "currency_symbol": "₽",
            "customers_mode": "disabled",
            "is_unsorted_on": True,
            "mobile_feature_version": 0,
            "is_loss_reason_enabled": True,
            "is_helpbot_enabled": False,
            "is_technical_account": False,
            "contact_name_display_order": 1,
            "_links": {"self": {"href": f"{self.base_url}/api/v4/account"}},
        }

    def _pipelines(self) -> dict[str, Any]:
        pipelines = []
        for n, (pid, name, main, statuses) in enumerate(PIPELINES):
            rows = [*statuses, (WON, "Успешно реализовано"), (LOST, "Закрыто и не реализовано")]
            pipelines.append(
                {
                    "id": pid,
                    "name": name,
                    "sort": n + 1,
                    "is_main": main,
                    "is_unsorted_on": True,
                    "is_archive": False,
                    "account_id": self.account_id,
                    "_links": {"self": {"href": f"{self.base_url}/api/v4/leads/pipelines/{pid}"}},
                    "_embedded": {
                        "statuses": [
                            {
                                "id": sid,
                                "name": sname,
                                "sort": (m + 1) * 10,
                                "is_editable": sid not in (WON, LOST),
                                "pipeline_id": pid,
                                "color": "#99ccff",
                                "type": 1 if m == 0 else 0,
                                "account_id": self.account_id,
                            }
                            for m, (sid, sname) in enumerate(rows)
                        ]
                    },
                }
            )
        return {
            "_total_items": len(pipelines),
            "_links": {"self": {"href": f"{self.base_url}/api/v4/leads/pipelines"}},
            "_embedded": {"pipelines": pipelines},
        }

    def _statuses(self, pipeline_id: int) -> set[int] | None:
        for pid, _, _, statuses in PIPELINES:
            if pid == pipeline_id:
                return {sid for sid, _ in statuses} | {WON, LOST}
        return None

    # -- reading

    def _page(self, route: str, embedded: str, items: list[Any], q: _Query) -> tuple[int, Any]:
        limit = min(max(q.int("limit", 50), 1), MAX_PAGE)
        page = max(q.int("page", 1), 1)
        chunk = items[(page - 1) * limit : page * limit]
        if not chunk:
            return 204, None
        keep = [(k, v) for k, v in q.pairs if k not in ("page", "limit")]

        def href(n: int) -> str:
            query = urlencode([*keep, ("page", n), ("limit", limit)])
            return f"{self.base_url}/api/v4/{route}?{query}"

        links = {"self": {"href": href(page)}}
        if len(items) > page * limit:
            links["next"] = {"href": href(page + 1)}
        if page > 1:
            links["prev"] = {"href": href(page - 1)}
        return 200, {"_page": page, "_links": links, "_embedded": {embedded: chunk}}

    def _list(self, kind: str, q: _Query) -> tuple[int, Any]:
        store = getattr(self.world, kind)
        withs = set(",".join(q.all("with")).split(","))
        ids = {int(i) for i in q.all("filter[id][]") + q.all("filter[id]") if str(i).isdigit()}
        rows = [r for r in store.values() if r["is_deleted"] == ("only_deleted" in withs)]
        if ids:
            rows = [r for r in rows if r["id"] in ids]
        if (since := q.get("filter[updated_at][from]")) is not None:
            rows = [r for r in rows if r["updated_at"] >= int(since)]
        if (until := q.get("filter[updated_at][to]")) is not None:
            rows = [r for r in rows if r["updated_at"] <= int(until)]
        if term := (q.get("query") or "").strip():
            rows = [r for r in rows if self._matches(r, term)]
        for column in ("updated_at", "created_at", "id"):
            if order := q.get(f"order[{column}]"):
                rows.sort(key=lambda r, c=column: (r[c], r["id"]), reverse=order == "desc")
                break
        return self._page(kind, kind, [self._json(kind, r, withs) for r in rows], q)

    def _get_one(self, kind: str, rid: int, q: _Query) -> tuple[int, Any]:
        row = getattr(self.world, kind).get(rid)
        if row is None or row["is_deleted"]:
            return 204, None
        return 200, self._json(kind, row, set(",".join(q.all("with")).split(",")))

    def _matches(self, row: dict[str, Any], term: str) -> bool:
        needle = term.lower()
        texts = [str(row.get("name") or ""), str(row["id"])]
        for cf in row.get("custom_fields_values") or []:
            texts += [str(v["value"]) for v in cf["values"]]
        if any(needle in t.lower() for t in texts):
            return True
        digits = _digits(term)
        if digits and len(digits) >= 5 and digits == re.sub(r"[\s()+-]", "", term):
            return any(digits in _digits(t) for t in texts[2:])
        return False

    def _links(self, kind: str, rid: int) -> dict[str, Any]:
        return {"self": {"href": f"{self.base_url}/api/v4/{kind}/{rid}"}}

    def _json(self, kind: str, row: dict[str, Any], withs: set[str]) -> dict[str, Any]:
        out = {
            k: v
            for k, v in row.items()
            if k not in ("contact_ids", "company_id", "tags", "old_status_id")
        }
        out["_links"] = self._links(kind, row["id"])
        if kind == "leads":
            embedded: dict[str, Any] = {
                "tags": [
                    {"id": n + 1, "name": t.get("name"), "color": None}
                    for n, t in enumerate(row["tags"])
                ]
            }
            embedded["companies"] = (
                [{"id": row["company_id"], "_links": self._links("companies", row["company_id"])}]
                if row["company_id"]
                else []
            )
            if "contacts" in withs:
                embedded["contacts"] = [
                    {"id": cid, "is_main": n == 0, "_links": self._links("contacts", cid)}
                    for n, cid in enumerate(row["contact_ids"])
                ]
            out["_embedded"] = embedded
        elif kind == "contacts":
            embedded = {
                "tags": [
                    {"id": n + 1, "name": t.get("name"), "color": None}
                    for n, t in enumerate(row.get("tags") or [])
                ],
                "companies": [],
            }
            if "leads" in withs:
                embedded["leads"] = [
                    {"id": lead["id"], "_links": self._links("leads", lead["id"])}
                    for lead in self.world.leads.values()
                    if row["id"] in lead["contact_ids"] and not lead["is_deleted"]
                ]
            out["_embedded"] = embedded
        return out

    def _list_notes(self, q: _Query) -> tuple[int, Any]:
        entities = {int(i) for i in q.all("filter[entity_id][]") + q.all("filter[entity_id]")}
        types = set(q.all("filter[note_type]") + q.all("filter[note_type][]"))
        source = entities or set(self.world.lead_notes)
        rows = [
            self.world.notes[n] for e in sorted(source) for n in self.world.lead_notes.get(e, [])
        ]
        rows = [n for n in rows if not types or n["note_type"] in types]
        rows.sort(key=lambda n: n["id"])
        items = [{**n, "_links": self._links("leads/notes", n["id"])} for n in rows]
        return self._page("leads/notes", "notes", items, q)

    # -- validation

    def _cf_errors(self, cfs: Any, fields: dict[int, dict], prefix: str) -> list[dict[str, str]]:
        if cfs is None:
            return []
        if not isinstance(cfs, list):
            return [
                _err(
                    "InvalidType",
                    f"{prefix}custom_fields_values",
                    "This value should be of type array.",
                )
            ]
        errors = []
        by_code = {f["code"]: f for f in fields.values() if f.get("code")}
        for n, cf in enumerate(cfs):
            where = f"{prefix}custom_fields_values.{n}"
            meta = fields.get(cf.get("field_id")) if isinstance(cf, dict) else None
            if meta is None and isinstance(cf, dict):
                meta = by_code.get(cf.get("field_code"))
            if meta is None:
                errors.append(
                    _err(
                        "NotSupportedChoice",
                        f"{where}.field_id",
                        "The value you selected is not a valid choice.",
                    )
                )
                continue
            values = cf.get("values")
            if values is None:
                continue
            if not isinstance(values, list):
                errors.append(
                    _err("InvalidType", f"{where}.values", "This value should be of type array.")
                )
                continue
            for m, value in enumerate(values):
                problem = _value_problem(meta, value)
                if problem:
                    errors.append(_err(problem[0], f"{where}.values.{m}.{problem[1]}", problem[2]))
        return errors

    def _lead_errors(self, item: Any, *, creating: bool, prefix: str = "") -> list[dict[str, str]]:
        if not isinstance(item, dict):
            return [
                _err(
                    "InvalidType", prefix.rstrip(".") or "0", "This value should be of type object."
                )
            ]
        errors = []
        if not creating:
            lead = self.world.leads.get(item.get("id")) if isinstance(item.get("id"), int) else None
            if lead is None or lead["is_deleted"]:
                errors.append(_err("NotFound", f"{prefix}id", "Entity not found."))
                lead = None
        if "name" in item and (not isinstance(item["name"], str) or len(item["name"]) > 255):
            errors.append(
                _err(
                    "InvalidType",
                    f"{prefix}name",
                    "This value should be a string of at most 255 characters.",
                )
            )
        if "price" in item and (
            not isinstance(item["price"], int)
            or isinstance(item["price"], bool)
            or item["price"] < 0
        ):
            errors.append(
                _err("InvalidType", f"{prefix}price", "This value should be of type int.")
            )
        if "status_id" in item or "pipeline_id" in item:
            pipeline = item.get("pipeline_id") or MAIN_PIPELINE
            allowed = self._statuses(pipeline) if isinstance(pipeline, int) else None
            if allowed is None:
                errors.append(
                    _err(
                        "NotSupportedChoice",
                        f"{prefix}pipeline_id",
                        "The value you selected is not a valid choice.",
                    )
                )
            elif "status_id" in item and item["status_id"] not in allowed:
                errors.append(
                    _err(
                        "NotSupportedChoice",
                        f"{prefix}status_id",
                        "The value you selected is not a valid choice.",
                    )
                )
        errors += self._cf_errors(item.get("custom_fields_values"), self.lead_fields, prefix)
        if creating and self.required_lead_fields:
            filled = {
                cf.get("field_id")
                for cf in item.get("custom_fields_values") or []
                if isinstance(cf, dict)
                and any(str(v.get("value", "")).strip() for v in cf.get("values") or [])
            }
            for fid in sorted(self.required_lead_fields - filled):
                errors.append(
                    _err(
                        "NotBlank",
                        f"{prefix}custom_fields_values",
                        f'Field "{self.lead_fields[fid]["name"]}" ({fid}) should not be blank.',
                    )
                )
        return errors

    def _contact_errors(
        self, item: Any, *, creating: bool, prefix: str = ""
    ) -> list[dict[str, str]]:
        if not isinstance(item, dict):
            return [
                _err(
                    "InvalidType", prefix.rstrip(".") or "0", "This value should be of type object."
                )
            ]
        errors = []
        if (
            not creating
            and self.world.contacts.get(item.get("id"), {"is_deleted": True})["is_deleted"]
        ):
            errors.append(_err("NotFound", f"{prefix}id", "Entity not found."))
        if "name" in item and not isinstance(item["name"], str):
            errors.append(
                _err("InvalidType", f"{prefix}name", "This value should be of type string.")
            )
        return errors + self._cf_errors(
            item.get("custom_fields_values"), self.contact_fields, prefix
        )

    def _refuse_if(self, errors: dict[str, list[dict[str, str]]]) -> None:
        bad = [{"request_id": rid, "errors": e} for rid, e in errors.items() if e]
        if bad:
            raise _Answer(
                400,
                {
                    "validation-errors": bad,
                    "title": "Bad Request",
                    "type": "https://httpstatus.es/400",
                    "status": 400,
                    "detail": "Request validation failed",
                },
            )

    def _array(self, body: Any, most: int = MAX_PAGE) -> list[Any]:
        if not body:
            raise _problem(400, "Bad Request", "Request data can't be blank")
        if not isinstance(body, list):
            raise _problem(400, "Bad Request", "Request body must be an array")
        if len(body) > most:
            raise _problem(422, "Unprocessable Entity", f"Maximum {most} entities per request")
        return body

    # -- writing

    def _create(self, kind: str, body: Any) -> dict[str, Any]:
        items = self._array(body)
        check = {
            "leads": self._lead_errors,
            "contacts": self._contact_errors,
            "companies": self._contact_errors,
        }[kind]
        rids = [
            str(it.get("request_id", n)) if isinstance(it, dict) else str(n)
            for n, it in enumerate(items)
        ]
        self._refuse_if(
            {rid: check(it, creating=True) for rid, it in zip(rids, items, strict=True)}
        )
        out = []
        for rid, item in zip(rids, items, strict=True):
            row = {
                "leads": self._new_lead,
                "contacts": self._new_contact,
                "companies": self._new_company,
            }[kind](item)
            out.append(
                {
                    "id": row["id"],
                    "request_id": rid,
                    "is_deleted": False,
                    "_links": self._links(kind, row["id"]),
                }
            )
        return {
            "_links": {"self": {"href": f"{self.base_url}/api/v4/{kind}"}},
            "_embedded": {kind: out},
        }

    def _update(self, kind: str, body: Any) -> dict[str, Any]:
        items = self._array(body)
        rids = [
            str(it.get("request_id", n)) if isinstance(it, dict) else str(n)
            for n, it in enumerate(items)
        ]
        if kind == "leads":
            errors = {
                rid: self._lead_errors(it, creating=False)
                for rid, it in zip(rids, items, strict=True)
            }
        elif kind == "contacts":
            errors = {
                rid: self._contact_errors(it, creating=False)
                for rid, it in zip(rids, items, strict=True)
            }
        else:
            errors = {
                rid: []
                if isinstance(it, dict) and it.get("id") in self.world.companies
                else [_err("NotFound", "id", "Entity not found.")]
                for rid, it in zip(rids, items, strict=True)
            }
        self._refuse_if(errors)
        out = []
        store = getattr(self.world, kind)
        fields = self.lead_fields if kind == "leads" else self.contact_fields
        for rid, item in zip(rids, items, strict=True):
            row = store[item["id"]]
            for key in ("name", "price", "pipeline_id", "responsible_user_id"):
                if key in item:
                    row[key] = item[key]
            if "status_id" in item:
                row["status_id"] = item["status_id"]
                row["closed_at"] = _now() if item["status_id"] in (WON, LOST) else None
            if kind != "companies":
                self._write_cfs(row, item.get("custom_fields_values"), fields)
            if kind == "contacts" and "tags" in (item.get("_embedded") or {}):
                row["tags"] = list(item["_embedded"]["tags"] or [])  # the list, replaced
            row["updated_at"] = _now()
            out.append(
                {
                    "id": row["id"],
                    "updated_at": row["updated_at"],
                    "request_id": rid,
                    "_links": self._links(kind, row["id"]),
                }
            )
        return {
            "_links": {"self": {"href": f"{self.base_url}/api/v4/{kind}"}},
            "_embedded": {kind: out},
        }

    def _complex(self, body: Any) -> list[dict[str, Any]]:
        items = self._array(body, MAX_COMPLEX)
        errors: dict[str, list[dict[str, str]]] = {}
        for n, item in enumerate(items):
            rid = str(item.get("request_id", n)) if isinstance(item, dict) else str(n)
            found = self._lead_errors(item, creating=True)
            embedded = (item.get("_embedded") or {}) if isinstance(item, dict) else {}
            for m, contact in enumerate((embedded.get("contacts") or [])[:1]):
                if isinstance(contact, dict) and "id" in contact:
                    if self.world.contacts.get(contact["id"], {"is_deleted": True})["is_deleted"]:
                        found.append(
                            _err("NotFound", f"_embedded.contacts.{m}.id", "Entity not found.")
                        )
                else:
                    found += self._contact_errors(
                        contact, creating=True, prefix=f"_embedded.contacts.{m}."
                    )
            errors[rid] = found
        self._refuse_if(errors)
        out = []
        for n, item in enumerate(items):
            lead = self._new_lead(item)
            embedded = item.get("_embedded") or {}
            contact_id = company_id = None
            for contact in (embedded.get("contacts") or [])[:1]:
                contact_id = contact["id"] if "id" in contact else self._new_contact(contact)["id"]
                lead["contact_ids"] = [contact_id]
            for company in (embedded.get("companies") or [])[:1]:
                company_id = company["id"] if "id" in company else self._new_company(company)["id"]
                lead["company_id"] = company_id
            out.append(
                {
                    "id": lead["id"],
                    "contact_id": contact_id,
                    "company_id": company_id,
                    "request_id": [str(item.get("request_id", n))],
                    "merged": False,
                }
            )
        return out

    def _link(self, body: Any) -> dict[str, Any]:
        items = self._array(body)
        errors = {}
        for n, link in enumerate(items):
            lead = self.world.leads.get(link.get("entity_id")) if isinstance(link, dict) else None
            store = (
                {"contacts": self.world.contacts, "companies": self.world.companies}.get(
                    link.get("to_entity_type")
                )
                if isinstance(link, dict)
                else None
            )
            if lead is None or store is None or link.get("to_entity_id") not in store:
                errors[str(n)] = [_err("NotFound", "to_entity_id", "Entity not found.")]
        self._refuse_if(errors)
        for link in items:
            lead = self.world.leads[link["entity_id"]]
            if link["to_entity_type"] == "contacts":
                if link["to_entity_id"] not in lead["contact_ids"]:
                    lead["contact_ids"].append(link["to_entity_id"])
            else:
                lead["company_id"] = link["to_entity_id"]
            lead["updated_at"] = _now()
        return {
            "_total_items": len(items),
            "_embedded": {
                "links": [{**link, "entity_type": "leads", "metadata": None} for link in items]
            },
        }

    def _post_notes(self, body: Any) -> dict[str, Any]:
        items = self._array(body)
        errors = {}
        for n, note in enumerate(items):
            rid = str(note.get("request_id", n)) if isinstance(note, dict) else str(n)
            if not isinstance(note, dict) or note.get("entity_id") not in self.world.leads:
                errors[rid] = [_err("NotFound", "entity_id", "Entity not found.")]
            elif note.get("note_type") != "common" or not isinstance(
                (note.get("params") or {}).get("text"), str
            ):
                errors[rid] = [
                    _err("InvalidType", "params.text", "This value should be of type string.")
                ]
        self._refuse_if(errors)
        out = []
        for n, note in enumerate(items):
            made = self._add_note(note["entity_id"], note["params"]["text"])
            out.append(
                {
                    "id": made["id"],
                    "entity_id": made["entity_id"],
                    "request_id": str(note.get("request_id", n)),
                    "_links": self._links("leads/notes", made["id"]),
                }
            )
        return {
            "_links": {"self": {"href": f"{self.base_url}/api/v4/leads/notes"}},
            "_embedded": {"notes": out},
        }

    def _webhooks(self, method: str, body: Any, q: _Query) -> tuple[int, Any]:
        hooks = self.world.webhooks
        if method == "GET":
            wanted = q.get("filter[destination]")
            rows = [h for h in hooks if wanted is None or h["destination"] == wanted]
            if not rows:
                return 204, None
            return 200, {
                "_total_items": len(rows),
                "_links": {"self": {"href": f"{self.base_url}/api/v4/webhooks"}},
                "_embedded": {"webhooks": rows},
            }
        if not isinstance(body, dict) or not isinstance(body.get("destination"), str):
            raise _Answer(
                400,
                {
                    "validation-errors": [
                        {
                            "request_id": "0",
                            "errors": [
                                _err("NotBlank", "destination", "This value should not be blank.")
                            ],
                        }
                    ],
                    "title": "Bad Request",
                    "type": "https://httpstatus.es/400",
                    "status": 400,
                    "detail": "Request validation failed",
                },
            )
        destination = body["destination"]
        if method == "DELETE":
            self.world.webhooks = [h for h in hooks if h["destination"] != destination]
            return 204, None
        if method != "POST":
            raise _problem(405, "Method Not Allowed", f"{method} is not allowed here")
        settings = body.get("settings")
        if not isinstance(settings, list) or not settings:
            raise _problem(400, "Bad Request", "settings should not be blank")
        hook = next((h for h in hooks if h["destination"] == destination), None)
        if hook is None:  # the same destination again updates it in place
            hook = {
                "id": self._id(),
                "created_by": USER,
                "created_at": _now(),
                "sort": 10,
                "disabled": False,
                "destination": destination,
                "settings": [],
            }
            hooks.append(hook)
        hook.update(
            settings=list(settings),
            sort=body.get("sort", hook["sort"]),
            updated_at=_now(),
            disabled=False,
        )
        return 200, hook

    # -- the web page a newcomer uses to win a deal by hand

    def page(self) -> str:
        with self._lock:
            names = {sid: sname for _, _, _, sts in PIPELINES for sid, sname in sts}
            names.update({WON: "Won (142)", LOST: "Lost (143)"})
            rows = []
            for lead in sorted(self.world.leads.values(), key=lambda r: -r["id"]):
                if lead["is_deleted"]:
                    continue
                n = self._neutral(lead)
                e = html.escape
                rows.append(
                    f"<tr><td>{lead['id']}</td><td>{e(lead['name'])}</td>"
                    f"<td>{e(n['fields']['name'])}<br>{e(n['email'])}<br>{e(n['phone'])}</td>"
                    f"<td>{e(n['fields'].get(PARTNER_KEY, ''))}</td>"
                    f"<td>{e(names.get(lead['status_id'], str(lead['status_id'])))}</td>"
                    f"<td>{lead['price']}</td><td><form method=post action=/_fake/move>"
                    f"<input type=hidden name=crm_id value={lead['id']}>"
                    f"<input name=amount size=8 value={lead['price'] or ''}> "
                    f"<button name=semantic value=won>Won</button> "
                    f"<button name=semantic value=lost>Lost</button></form></td></tr>"
                )
        body = "".join(rows) or "<tr><td colspan=7>No leads yet.</td></tr>"
        return (
            "<!doctype html><meta charset=utf-8><title>Fake amoCRM</title>"
            f"<h1>Fake amoCRM: {html.escape(self.subdomain)}</h1>"
            "<table border=1 cellpadding=4><tr><th>Id</th><th>Deal</th><th>Contact</th>"
            "<th>PRM partner</th>"
            f"<th>Stage</th><th>Budget</th><th>Close</th></tr>{body}</table>"
        )


class _Query:
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.pairs if k == name]

    def get(self, name: str) -> str | None:
        found = self.all(name)
        return found[-1] if found else None

    def int(self, name: str, default: int) -> int:
        value = self.get(name)
        return int(value) if value and value.isdigit() else default


def _err(code: str, path: str, detail: str) -> dict[str, str]:
    return {"code": code, "path": path, "detail": detail}


def _multitext(email: str, phone: str) -> list[dict[str, Any]]:
    out = []
    if email:
        out.append({"field_code": "EMAIL", "values": [{"value": email, "enum_code": "WORK"}]})
    if phone:
        out.append({"field_code": "PHONE", "values": [{"value": phone, "enum_code": "WORK"}]})
    return out


def _first(entity: dict[str, Any], code: str) -> str:
    for cf in entity.get("custom_fields_values") or []:
        if cf.get("field_code") == code and cf["values"]:
            return str(cf["values"][0]["value"])
    return ""


def _value_problem(meta: dict[str, Any], value: Any) -> tuple[str, str, str] | None:
    if not isinstance(value, dict):
        return "InvalidType", "", "This value should be of type object."
    kind, raw = meta["type"], value.get("value")
    if kind in ("select", "radiobutton", "multiselect"):
        enums = {e["id"]: e["value"] for e in meta.get("enums") or []}
        if value.get("enum_id") in enums or raw in enums.values():
            return None
        return "NotSupportedChoice", "enum_id", "The value you selected is not a valid choice."
    if kind == "multitext":
        allowed = PHONE_ENUMS if meta.get("code") == "PHONE" else EMAIL_ENUMS
        if value.get("enum_code") is not None and value["enum_code"] not in allowed:
            return (
                "NotSupportedChoice",
                "enum_code",
                "The value you selected is not a valid choice.",
            )
    if kind in ("date", "date_time", "birthday"):
        if isinstance(raw, bool) or not isinstance(raw, int):
            return "InvalidType", "value", "This value should be of type int (unix time)."
        return None
    if kind in ("numeric", "price", "monetary"):
        try:
            Decimal(str(raw))
        except InvalidOperation:
            return "InvalidType", "value", "This value should be of type numeric."
        return None
    if kind == "checkbox":
        return (
            None
            if isinstance(raw, bool)
            else ("InvalidType", "value", "This value should be of type bool.")
        )
    if kind in _TEXT_TYPES and not isinstance(raw, str):
        return "InvalidType", "value", "This value should be of type string."
    return None


def _stored(meta: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    out = {"value": value.get("value")}
    if meta["type"] == "multitext":
        out["enum_code"] = value.get("enum_code") or "WORK"
    if meta["type"] in ("select", "radiobutton", "multiselect"):
        enums = {e["id"]: e["value"] for e in meta.get("enums") or []}
        enum_id = value.get("enum_id") or next(
            (i for i, v in enums.items() if v == value.get("value")), None
        )
        out = {"value": enums.get(enum_id), "enum_id": enum_id}
    return out


def _typed(meta: dict[str, Any], text: str) -> Any:
    """A person's typed text as the field's stored type (control panel edits)."""
    if meta["type"] in ("date", "date_time", "birthday"):
        day = date.fromisoformat(text[:10])
        return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
    return text


def _text(kind: str, value: Any) -> str:
    if kind in ("date", "birthday") and isinstance(value, int):
        return datetime.fromtimestamp(value, tz=UTC).date().isoformat()
    if kind == "date_time" and isinstance(value, int):
        return datetime.fromtimestamp(value, tz=UTC).isoformat()
    return str(value)


def _post(url: str, content_type: str, body: bytes) -> int | None:
    """POST over real HTTP; ``*.localhost`` goes to 127.0.0.1 with its Host header."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    connect = "127.0.0.1" if host == "localhost" or host.endswith(".localhost") else host
    port = parts.port or (443 if parts.scheme == "https" else 80)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        conn = cls(connect, port, timeout=2)
        conn.request(
            "POST",
            target,
            body=body,
            headers={
                "Host": parts.netloc,
                "Content-Type": content_type,
                "User-Agent": "amoCRM-Webhooks/3.0",
            },
        )
        status = conn.getresponse().status
        conn.close()
        return status
    except OSError:
        return None


class _Handler(BaseHTTPRequestHandler):
    fake: FakeAmo
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

    def _send(
        self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        try:
            self.send_response(status)
            if payload or status != 204:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _serve(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        content_type = self.headers.get("Content-Type", "")
        record = RecordedRequest(
            method=method,
            path=parts.path,
            query=parse_qsl(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=_parse_body(content_type, raw),
            at=time.monotonic(),
        )
        if parts.path in ("/", "/_fake/move", "/oauth"):
            self._page(record)
            return
        with fake._lock:
            fake.requests.append(record)
        if fake.latency:
            time.sleep(fake.latency)
        fault = fake._take_fault(parts.path, self.command)
        if fault == "drop":
            self.close_connection = True
            return
        if parts.path.startswith("/api/") and fake._over_limit():
            status, body = _CANNED["rate"]
            record.status = status
            self._send(
                status, json.dumps(body).encode(), "application/problem+json", {"Retry-After": "1"}
            )
            return
        if fault in _CANNED:
            status, body = _CANNED[fault]
        else:
            try:
                status, body = fake.handle(record)
            except _Answer as answer:
                status, body = answer.status, answer.body
        record.status = status
        if fault == "timeout":  # the work is done, but the answer never comes
            self.close_connection = True
            return
        payload = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        kind = "application/problem+json" if status >= 400 else "application/hal+json"
        self._send(status, payload, kind, {"X-Request-Id": secrets.token_hex(8)})

    def _page(self, record: RecordedRequest) -> None:
        fake = self.fake
        if record.path == "/_fake/move" and record.method == "POST":
            form = record.body if isinstance(record.body, dict) else {}
            semantic = form.get("semantic", "open")
            amount = (form.get("amount") or "").strip() or None
            if form.get("crm_id", "").isdigit() and int(form["crm_id"]) in fake.world.leads:
                try:
                    fake.move(form["crm_id"], semantic, amount)
                except (InvalidOperation, ValueError):
                    fake.move(form["crm_id"], semantic)
            self._send(303, b"", "text/html", {"Location": "/"})
            return
        if record.path == "/oauth" and record.method == "GET":
            q = dict(record.query)
            code = fake.issue_code()
            if fake.redirect_uri:
                target = (
                    fake.redirect_uri
                    + "?"
                    + urlencode(
                        {
                            "code": code,
                            "state": q.get("state", ""),
                            "client_id": q.get("client_id", ""),
                            "referer": urlsplit(fake.base_url).netloc,
                        }
                    )
                )
                self._send(302, b"", "text/html", {"Location": target})
            else:
                self._send(
                    200,
                    f"<p>Authorization code: <code>{code}</code></p>".encode(),
                    "text/html; charset=utf-8",
                )
            return
        if record.method != "GET":
            self._send(405, b"", "text/html")
            return
        self._send(200, fake.page().encode(), "text/html; charset=utf-8")


def _parse_body(content_type: str, raw: str) -> Any:
    if not raw:
        return None
    if "json" in content_type:
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    if content_type.startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(raw, keep_blank_values=True))
    return raw


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake amoCRM account for demos and tests.")
    parser.add_argument("--port", type=int, default=8801)
    parser.add_argument(
        "--token", default="fake-long-lived-token", help="the long-lived token to accept"
    )
    parser.add_argument("--account-id", type=int, default=28805383)
    parser.add_argument("--subdomain", default="acme")
    args = parser.parse_args()
    fake = FakeAmo(
        token=args.token,
        account_id=args.account_id,
        subdomain=args.subdomain,
        auth_kind="token",
        port=args.port,
    ).start()
    print(fake.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
