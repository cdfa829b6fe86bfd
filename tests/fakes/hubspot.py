"""A fake HubSpot portal on 127.0.0.1: OAuth (``/oauth/v1/token``), private-app tokens,
and the CRM v3/v4 subset PRM uses, with HubSpot's own request and answer shapes (its
public API reference: CRM objects, batch, search, associations v4, pipelines,
properties, account info; "API usage guidelines and limits").

What it does, as HubSpot does:

- Auth: ``Authorization: Bearer <token>``; a private-app token (``pat-…``) never
  expires; OAuth access tokens expire (``expire_tokens()``, or ``token_seconds``) and are
  renewed with ``POST /oauth/v1/token`` (form: ``grant_type=refresh_token``,
  ``client_id``, ``client_secret``, ``refresh_token``; answer ``{"token_type":"bearer",
  "access_token", "refresh_token", "expires_in": 1800}``; the refresh token stays the
  same). Refusals: 401 ``{"status":"error","category":"EXPIRED_AUTHENTICATION"|
  "INVALID_AUTHENTICATION"}``, token endpoint 400 ``{"status":"BAD_REFRESH_TOKEN"}``.
- ``/crm/v3/objects/{contacts|deals}``: ``batch/read`` (``idProperty`` optional;
  missing ids -> 207 with an ``OBJECT_NOT_FOUND`` error listing them), ``batch/create``
  (201), ``batch/update`` (200, or 207 with per-id errors), ``batch/upsert``
  (``idProperty`` per input: a unique property, or ``email`` for contacts; results
  carry ``new``), ``search`` (filterGroups with EQ / IN / GTE / GT / LT / LTE /
  HAS_PROPERTY, sorts, ``after`` paging, at most 10,000 results per query), list with
  ``archived=true``, single ``DELETE`` (archive). At most 100 inputs per batch (else 400).
  Unknown properties in a write: 400 ``VALIDATION_ERROR`` ("Property values were not
  valid") for the whole batch, as HubSpot does.
- ``/crm/v4/associations/{from}/{to}/batch/read`` and ``batch/associate/default``.
- ``/crm/v3/pipelines/deals`` (stages with ``metadata.isClosed`` / ``probability``),
  ``/crm/v3/properties/{object}``, ``/account-info/v3/details``.
- Rate limits when ``rate_limit`` is on: ``ten_secondly`` requests per rolling 10 s
  (429 ``policyName: TEN_SECONDLY_ROLLING``), ``daily`` per day (429 ``DAILY``), search
  ``search_per_second`` (429 ``SECONDLY``). Every answer carries the
  ``X-HubSpot-RateLimit-*`` headers.
- Deals changed by a person (``move``, ``update_record``) bump ``hs_lastmodifieddate``;
  contact edits bump the contact's ``lastmodifieddate`` only (not the deal's).

Knobs: ``inject(fault, times, path)``, ``latency``, ``hang_seconds``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

FAULTS = ("500", "timeout", "drop", "rate", "401", "404")
PORTAL_ID = 24681357
MAX_BATCH = 100
SEARCH_MAX = 10_000  # a search query pages through at most 10,000 results
CUSTOM = {  # deal properties an admin created for PRM (name -> label)
    "prm_lead_id": "PRM lead id",
    "prm_partner": "PRM partner",
    "prm_referral_code": "PRM referral code",
    "prm_promo_code": "PRM promo code",
    "prm_program": "PRM program",
    "prm_reward_amount": "PRM reward amount",
    "prm_reward_currency": "PRM reward currency",
    "prm_reward_status": "PRM reward status",
}
UNIQUE = {"deals": {"prm_lead_id"}, "contacts": {"prm_lead_id", "prm_partner_id"}}
PROPERTIES = {
    "contacts": {
        "email": "Email",
        "firstname": "First Name",
        "lastname": "Last Name",
        "phone": "Phone Number",
        "company": "Company Name",
        "prm_lead_id": "PRM lead id (contact)",
        # Partners as contacts: properties an admin created for PRM.
        "prm_partner_id": "PRM partner id",
        "prm_partner_tags": "PRM partner tags",
        "prm_partner_accrued": "PRM partner accrued",
        "prm_partner_approved": "PRM partner approved",
        "prm_partner_paid": "PRM partner paid",
        "createdate": "Create Date",
        "lastmodifieddate": "Last Modified Date",
        "hs_object_id": "Record ID",
    },
    "deals": {
        "dealname": "Deal Name",
        "amount": "Amount",
        "dealstage": "Deal Stage",
        "pipeline": "Pipeline",
        "closedate": "Close Date",
        "description": "Deal Description",
        "deal_currency_code": "Currency",
        "hs_is_closed": "Is Deal Closed?",
        "hs_is_closed_won": "Is Closed Won",
        "createdate": "Create Date",
        "hs_lastmodifieddate": "Last Modified Date",
        "hs_object_id": "Record ID",
        **CUSTOM,
    },
}
READ_ONLY = {"createdate", "lastmodifieddate", "hs_lastmodifieddate", "hs_object_id"}
READ_ONLY |= {"hs_is_closed", "hs_is_closed_won"}
MODIFIED = {"contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate"}
STAGES = [  # (id, label, isClosed, probability)
    ("appointmentscheduled", "Appointment Scheduled", False, "0.2"),
    ("qualifiedtobuy", "Qualified To Buy", False, "0.4"),
    ("contractsent", "Contract Sent", False, "0.9"),
    ("closedwon", "Closed Won", True, "1.0"),
    ("closedlost", "Closed Lost", True, "0.0"),
]
DEAL_TO_CONTACT, CONTACT_TO_DEAL = 3, 4  # HUBSPOT_DEFINED association type ids


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{ms % 1000:03d}Z"
    )


def signature_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


class Answer(Exception):
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def error(status: int, category: str, message: str, **extra: Any) -> Answer:
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }
    return Answer(status, body)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int | None = None
    at: float = 0.0


@dataclass
class _Fault:
    kind: str
    remaining: int
    path: str | None


class FakeHubSpot:
    provider = "hubspot"

    def __init__(
        self,
        *,
        auth_kind: str = "oauth",
        client_id: str = "5c1e0f3a-fake-hubspot-client",
        client_secret: str = "fake-hubspot-client-secret",
        currency: str = "USD",
        ten_secondly: int = 100,
        daily: int = 250_000,
        search_per_second: int = 5,
        token_seconds: float | None = None,
    ) -> None:
        self.auth_kind = auth_kind
        self.client_id, self.client_secret = client_id, client_secret
        self.currency = currency
        self.ten_secondly, self.daily, self.search_per_second = (
            ten_secondly,
            daily,
            search_per_second,
        )
        self.token_seconds = token_seconds
        self.rate_limit = False
        self.search_max = SEARCH_MAX
        self.latency = 0.0
        self.hang_seconds = 0.2
        self.requests: list[RecordedRequest] = []
        self.objects: dict[str, dict[str, dict[str, Any]]] = {"contacts": {}, "deals": {}}
        self.links: dict[str, set[str]] = {}  # deal id -> contact ids
        self.back: dict[str, set[str]] = {}  # contact id -> deal ids
        self.refused = 0  # 429 answers given
        self.token_refreshes = 0
        self._unique: dict[tuple[str, str], dict[str, str]] = {}
        self._emails: dict[str, str] = {}
        self._next_id = 1000
        self._clock = 0
        self._window: deque[float] = deque()
        self._search: deque[float] = deque()
        self._day_used = 0
        self._tokens: dict[str, tuple[str, float, bool]] = {}  # access -> (refresh, at, valid)
        self._refresh: set[str] = set()
        self._private = "pat-na1-" + str(uuid.uuid4())
        self._private_valid = True
        self._codes: dict[str, str] = {}
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeHubSpot:
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

    base_url = auth_url = url  # api.hubapi.com serves both the API and /oauth/v1/token

    # -- control panel (tests/fakes/crm_base.py) ------------------------------------------

    def connection_config(self) -> dict[str, Any]:
        if self.auth_kind == "token":
            credentials = {"access_token": self._private, "client_secret": self.client_secret}
        else:
            access, refresh = self.issue_tokens()
            credentials = {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "access_token": access,
                "refresh_token": refresh,
            }
        return {
            "auth_kind": self.auth_kind,
            "base_url": self.url,
            "auth_url": self.url,
            "credentials": credentials,
            "settings": {},
        }

    def inject(self, fault: str, times: int = 1, path: str | None = None) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
        with self._lock:
            if times <= 0:
                self._faults = [f for f in self._faults if f.kind != fault]
            else:
                self._faults.append(_Fault(fault, times, path))

    def expire_tokens(self) -> None:
        with self._lock:
            for token, (refresh, at, _valid) in list(self._tokens.items()):
                self._tokens[token] = (refresh, at, False)

    def revoke(self) -> None:
        with self._lock:
            self.expire_tokens()
            self._refresh.clear()
            self._private_valid = False

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._neutral(deal) for deal in self.objects["deals"].values()]

    def create_record(
        self, title: str, email: str = "", phone: str = "", fields: dict[str, str] | None = None
    ) -> str:
        values = {"email": email, "phone": phone, **(fields or {})}
        values.setdefault("name", title)
        with self._lock:
            deal = self._insert("deals", {"dealname": title, "pipeline": "default"})
            deal["properties"]["dealstage"] = STAGES[0][0]
            self._apply_neutral(deal, values, bump=False)
            return deal["id"]

    def update_record(self, crm_id: str, **values: str) -> None:
        with self._lock:
            deal = self._live("deals", crm_id)
            if "title" in values:
                self._set(deal, "deals", {"dealname": values.pop("title")})
            self._apply_neutral(deal, values, bump=True)

    def move(self, crm_id: str, semantic: str, amount: str | None = None) -> None:
        stage = {"won": "closedwon", "lost": "closedlost"}.get(semantic, "qualifiedtobuy")
        changes = {"dealstage": stage}
        if amount is not None:
            changes["amount"] = amount
        with self._lock:
            self._set(self._live("deals", crm_id), "deals", changes)

    def delete_record(self, crm_id: str) -> None:
        with self._lock:
            self._archive("deals", self._live("deals", crm_id))

    def event_body(self, crm_id: str, kind: str) -> tuple[str, bytes] | None:
        return None  # PRM polls HubSpot by default (webhooks need the app's settings)

    def webhook_events(self, crm_id: str, kind: str) -> bytes:
        """The JSON list a HubSpot app subscription POSTs for this deal change."""
        with self._lock:
            deal = self.objects["deals"][crm_id]
            subscription = {
                "delete": "deal.deletion",
                "status": "deal.propertyChange",
                "update": "deal.propertyChange",
            }[kind]
            event: dict[str, Any] = {
                "eventId": secrets.randbelow(10**9),
                "subscriptionId": 1234567,
                "portalId": PORTAL_ID,
                "appId": 765432,
                "occurredAt": int(time.time() * 1000),
                "subscriptionType": subscription,
                "attemptNumber": 0,
                "objectId": int(crm_id),
                "changeFlag": "NEW" if kind != "delete" else "DELETED",
                "changeSource": "CRM_UI",
            }
            if kind == "status":
                event |= {
                    "propertyName": "dealstage",
                    "propertyValue": deal["properties"]["dealstage"],
                }
            return json.dumps([event]).encode()

    def update_contact(self, deal_id: str, **values: str) -> str:
        """A person edits the deal's contact in HubSpot (the deal is not touched);
        returns the contact id."""
        with self._lock:
            contact_id = sorted(self.links[deal_id], key=int)[0]
            self._set(self.objects["contacts"][contact_id], "contacts", values)
            return contact_id

    def contact_webhook_events(self, contact_id: str, name: str) -> bytes:
        """The JSON list an app's contact.propertyChange subscription POSTs."""
        with self._lock:
            contact = self.objects["contacts"][contact_id]
            event = {
                "eventId": secrets.randbelow(10**9),
                "subscriptionId": 1234568,
                "portalId": PORTAL_ID,
                "appId": 765432,
                "occurredAt": int(time.time() * 1000),
                "subscriptionType": "contact.propertyChange",
                "attemptNumber": 0,
                "objectId": int(contact_id),
                "propertyName": name,
                "propertyValue": contact["properties"].get(name),
                "changeSource": "CRM_UI",
            }
            return json.dumps([event]).encode()

    def send_event(self, url: str, crm_id: str, kind: str) -> int | None:
        body = self.webhook_events(crm_id, kind)
        timestamp = str(int(time.time() * 1000))
        headers = {
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": signature_v3(
                self.client_secret, "POST", url, body, timestamp
            ),
            "X-HubSpot-Request-Timestamp": timestamp,
        }
        try:
            return httpx.post(url, content=body, headers=headers, timeout=5).status_code
        except httpx.HTTPError:
            return None

    # -- helpers for tests ----------------------------------------------------------------

    def issue_tokens(self) -> tuple[str, str]:
        refresh = str(uuid.uuid4())
        with self._lock:
            self._refresh.add(refresh)
            return self._new_access(refresh), refresh

    def issue_code(self, redirect_uri: str) -> str:
        code = str(uuid.uuid4())
        with self._lock:
            self._codes[code] = redirect_uri
        return code

    def calls(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in list(self.requests)
            if (method is None or r.method == method) and (path is None or path in r.path)
        ]

    def prefill(self, requests: int) -> None:
        """Another integration of the portal has just sent ``requests`` requests: they
        count in the current 10-second window."""
        with self._lock:
            now = time.monotonic()
            self._window.extend([now] * requests)

    def contact_of(self, deal_id: str) -> dict[str, Any] | None:
        with self._lock:
            ids = sorted(self.links.get(deal_id, ()), key=int)
            return dict(self.objects["contacts"][ids[0]]) if ids else None

    def _take_fault(self, path: str) -> str | None:
        oauth = path.startswith("/oauth/")
        with self._lock:
            for fault in self._faults:
                hit = (fault.path is None and not oauth) or (fault.path or "\0") in path
                if fault.remaining > 0 and hit:
                    fault.remaining -= 1
                    return fault.kind
        return None

    # -- the world ------------------------------------------------------------------------

    def _now_ms(self) -> int:
        # Strictly increasing: two changes never share a modification time.
        self._clock = max(self._clock + 1, int(time.time() * 1000))
        return self._clock

    def _insert(self, kind: str, properties: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        object_id = str(self._next_id)
        now = self._now_ms()
        row = {
            "id": object_id,
            "properties": {
                **{name: None for name in PROPERTIES[kind] if name not in READ_ONLY},
                "createdate": iso(now),
                MODIFIED[kind]: iso(now),
                "hs_object_id": object_id,
            },
            "createdAt": iso(now),
            "updatedAt": iso(now),
            "archived": False,
        }
        self.objects[kind][object_id] = row
        self._set(row, kind, properties)
        return row

    def _set(self, row: dict[str, Any], kind: str, changes: dict[str, Any]) -> None:
        props = row["properties"]
        for name, value in changes.items():
            value = None if value in (None, "") else str(value)
            if name in UNIQUE[kind]:
                old = props.get(name)
                if old:
                    self._unique.get((kind, name), {}).pop(old, None)
                if value:
                    self._unique.setdefault((kind, name), {})[value] = row["id"]
            if kind == "contacts" and name == "email":
                old = props.get("email")
                if old:
                    self._emails.pop(old.lower(), None)
                if value:
                    value = value.lower()  # HubSpot stores e-mail addresses lower-cased
                    self._emails[value] = row["id"]
            props[name] = value
        if kind == "deals":
            stage = props.get("dealstage")
            props["hs_is_closed"] = "true" if stage in ("closedwon", "closedlost") else "false"
            props["hs_is_closed_won"] = "true" if stage == "closedwon" else "false"
        now = self._now_ms()
        props[MODIFIED[kind]] = iso(now)
        row["updatedAt"] = iso(now)

    def _archive(self, kind: str, row: dict[str, Any]) -> None:
        row["archived"] = True
        row["archivedAt"] = iso(self._now_ms())
        for name in UNIQUE[kind]:
            if row["properties"].get(name):
                self._unique.get((kind, name), {}).pop(row["properties"][name], None)
        if kind == "contacts" and row["properties"].get("email"):
            self._emails.pop(row["properties"]["email"], None)

    def _live(self, kind: str, object_id: str) -> dict[str, Any]:
        row = self.objects[kind].get(str(object_id))
        if row is None or row["archived"]:
            raise KeyError(object_id)
        return row

    def _associate(self, deal_id: str, contact_id: str) -> None:
        self.links.setdefault(deal_id, set()).add(contact_id)
        self.back.setdefault(contact_id, set()).add(deal_id)

    def _apply_neutral(self, deal: dict[str, Any], values: dict[str, str], *, bump: bool) -> None:
        contact_keys = {"name", "email", "phone", "company"}
        person = {k: v for k, v in values.items() if k in contact_keys}
        deal_changes = {("description" if k == "notes" else k): v for k, v in values.items()}
        deal_changes = {k: v for k, v in deal_changes.items() if k not in contact_keys}
        if deal_changes:
            self._set(deal, "deals", deal_changes)
        if any(person.values()) or (person and self.links.get(deal["id"])):
            props: dict[str, Any] = {}
            for key, value in person.items():
                if key == "name":
                    first, _, last = (value or "").strip().partition(" ")
                    props["firstname"], props["lastname"] = first, last
                else:
                    props[key] = value
            ids = sorted(self.links.get(deal["id"], ()), key=int)
            if ids:
                self._set(self.objects["contacts"][ids[0]], "contacts", props)
            else:
                contact = self._insert("contacts", props)
                self._associate(deal["id"], contact["id"])

    def _neutral(self, deal: dict[str, Any]) -> dict[str, Any]:
        props = deal["properties"]
        ids = sorted(self.links.get(deal["id"], ()), key=int)
        person = self.objects["contacts"][ids[0]]["properties"] if ids else {}
        name = " ".join(p for p in (person.get("firstname"), person.get("lastname")) if p)
        stage = props.get("dealstage") or ""
        fields = {
            "name": name,
            "email": person.get("email") or "",
            "phone": person.get("phone") or "",
            "company": person.get("company") or "",
            "notes": props.get("description") or "",
            **{key: props.get(key) or "" for key in CUSTOM},
        }
        return {
            "id": deal["id"],
            "title": props.get("dealname") or "",
            "email": fields["email"],
            "phone": fields["phone"],
            "fields": fields,
            "stage": (props.get("pipeline") or "", stage),
            "semantic": "won"
            if stage == "closedwon"
            else "lost"
            if stage == "closedlost"
            else "open",
            "amount": props.get("amount"),
            "deleted": bool(deal["archived"]),
        }

    # -- OAuth ----------------------------------------------------------------------------

    def _new_access(self, refresh: str) -> str:
        token = "CJSP" + secrets.token_urlsafe(48)
        self._tokens[token] = (refresh, time.monotonic(), True)
        return token

    def _oauth_token(self, form: dict[str, str]) -> dict[str, Any]:
        def refuse(status: str, message: str) -> Answer:
            return Answer(
                400, {"status": status, "message": message, "correlationId": str(uuid.uuid4())}
            )

        if form.get("client_id") != self.client_id:
            raise refuse("BAD_CLIENT_ID", "missing or invalid client_id")
        if form.get("client_secret") != self.client_secret:
            raise refuse("BAD_CLIENT_SECRET", "missing or invalid client_secret")
        grant = form.get("grant_type")
        if grant == "authorization_code":
            redirect = self._codes.pop(form.get("code", ""), None)
            if redirect is None:
                raise refuse("BAD_AUTH_CODE", "missing or unknown auth code")
            if redirect != form.get("redirect_uri"):
                raise refuse("BAD_REDIRECT_URI", "redirect_uri does not match")
            refresh = str(uuid.uuid4())
            self._refresh.add(refresh)
        elif grant == "refresh_token":
            refresh = form.get("refresh_token", "")
            if refresh not in self._refresh:
                raise refuse("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
            self.token_refreshes += 1
        else:
            raise refuse("BAD_GRANT_TYPE", "unsupported grant_type")
        return {
            "token_type": "bearer",
            "refresh_token": refresh,
            "access_token": self._new_access(refresh),
            "expires_in": 1800,
        }

    def _check_auth(self, headers: dict[str, str]) -> None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise error(401, "INVALID_AUTHENTICATION", "Authentication credentials not found.")
        if token == self._private:
            if self._private_valid:
                return
            raise error(401, "INVALID_AUTHENTICATION", "The access token provided is not valid.")
        found = self._tokens.get(token)
        if found is None:
            raise error(401, "INVALID_AUTHENTICATION", "The OAuth token used is not valid.")
        refresh, at, valid = found
        if self.token_seconds is not None and time.monotonic() - at > self.token_seconds:
            valid = False
        if not valid or refresh not in self._refresh:
            raise error(
                401, "EXPIRED_AUTHENTICATION", "The OAuth token used to make this call expired."
            )

    # -- rate limits ----------------------------------------------------------------------

    def _limits(self, search: bool) -> dict[str, str]:
        now = time.monotonic()
        while self._window and self._window[0] <= now - 10.0:
            self._window.popleft()
        while self._search and self._search[0] <= now - 1.0:
            self._search.popleft()
        headers = {
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Max": str(self.ten_secondly),
            "X-HubSpot-RateLimit-Daily": str(self.daily),
        }

        def refuse(policy: str, message: str) -> Answer:
            self.refused += 1
            body = {
                "status": "error",
                "message": message,
                "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()),
                "policyName": policy,
                "groupName": f"publicapi:{PORTAL_ID}",
            }
            return Answer(429, body, {**headers, "X-HubSpot-RateLimit-Remaining": "0"})

        if self.rate_limit:
            if self._day_used >= self.daily:
                headers["X-HubSpot-RateLimit-Daily-Remaining"] = "0"
                raise refuse("DAILY", "You have reached your daily limit.")
            if len(self._window) >= self.ten_secondly:
                raise refuse(
                    "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."
                )
            if search and len(self._search) >= self.search_per_second:
                raise refuse("SECONDLY", "You have reached your secondly limit.")
        self._window.append(now)
        if search:
            self._search.append(now)
        self._day_used += 1
        headers["X-HubSpot-RateLimit-Remaining"] = str(
            max(self.ten_secondly - len(self._window), 0)
        )
        headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(self.daily - self._day_used, 0))
        return headers

    # -- routing --------------------------------------------------------------------------

    def _handle(self, rec: RecordedRequest) -> tuple[int, Any, dict[str, str]]:
        path, method = rec.path.rstrip("/"), rec.method
        if path == "/oauth/authorize" and method == "GET":
            code = self.issue_code(rec.query.get("redirect_uri", ""))
            state = rec.query.get("state", "")
            target = f"{rec.query.get('redirect_uri', '')}?code={code}&state={state}"
            return 302, None, {"Location": target}
        if path == "/oauth/v1/token" and method == "POST":
            form = rec.body if isinstance(rec.body, dict) else {}
            return 200, self._oauth_token(form), {}
        self._check_auth(rec.headers)
        headers = self._limits(search=path.endswith("/search"))
        try:
            status, body = self._route(path, method, rec)
        except Answer as answer:
            answer.headers = {**headers, **answer.headers}
            raise
        return status, body, headers

    def _route(self, path: str, method: str, rec: RecordedRequest) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if path == "/account-info/v3/details":
            return 200, {
                "portalId": PORTAL_ID,
                "accountType": "STANDARD",
                "timeZone": "Europe/Berlin",
                "companyCurrency": self.currency,
                "additionalCurrencies": [],
                "utcOffset": "+01:00",
                "uiDomain": "app.hubspot.com",
                "dataHostingLocation": "eu1",
            }
        if path == "/crm/v3/pipelines/deals" and method == "GET":
            return 200, {"results": [self._pipeline()]}
        if parts[:3] == ["crm", "v3", "properties"] and len(parts) == 4:
            kind = parts[3]
            if kind not in PROPERTIES:
                raise error(404, "OBJECT_NOT_FOUND", f"Unknown object type {kind}")
            return 200, {"results": [self._property(kind, n) for n in PROPERTIES[kind]]}
        if parts[:3] == ["crm", "v4", "associations"] and len(parts) in (7, 8):
            # .../batch/read and .../batch/associate/default
            return self._associations(parts[3], parts[4], parts[-1], rec.body or {})
        if parts[:3] == ["crm", "v3", "objects"] and len(parts) >= 4:
            kind = parts[3]
            if kind not in self.objects:
                raise error(404, "OBJECT_NOT_FOUND", f"Unknown object type {kind}")
            rest = parts[4:]
            body = rec.body if isinstance(rec.body, dict) else {}
            if rest == [] and method == "GET":
                return 200, self._list(kind, rec.query)
            if rest == ["search"] and method == "POST":
                return 200, self._search_objects(kind, body)
            if len(rest) == 2 and rest[0] == "batch" and method == "POST":
                inputs = body.get("inputs")
                if not isinstance(inputs, list):
                    raise error(400, "VALIDATION_ERROR", "Invalid input JSON: inputs is required")
                if len(inputs) > MAX_BATCH:
                    raise error(
                        400,
                        "VALIDATION_ERROR",
                        f"Batch input limit is {MAX_BATCH}; got {len(inputs)}",
                    )
                action = rest[1]
                if action == "read":
                    return self._batch_read(kind, body)
                if action == "create":
                    return self._batch_create(kind, inputs)
                if action == "update":
                    return self._batch_update(kind, inputs)
                if action == "upsert":
                    return self._batch_upsert(kind, inputs)
            if len(rest) == 1 and method == "DELETE":
                row = self.objects[kind].get(rest[0])
                if row is not None and not row["archived"]:
                    self._archive(kind, row)
                return 204, None
            if len(rest) == 1 and method == "GET":
                try:
                    return 200, self._render(kind, self._live(kind, rest[0]), [])
                except KeyError:
                    raise error(404, "OBJECT_NOT_FOUND", "resource not found") from None
        raise error(404, "OBJECT_NOT_FOUND", "resource not found")

    # -- reads ----------------------------------------------------------------------------

    def _pipeline(self) -> dict[str, Any]:
        return {
            "id": "default",
            "label": "Sales Pipeline",
            "displayOrder": 0,
            "archived": False,
            "stages": [
                {
                    "id": sid,
                    "label": label,
                    "displayOrder": n,
                    "archived": False,
                    "metadata": {"isClosed": "true" if closed else "false", "probability": prob},
                }
                for n, (sid, label, closed, prob) in enumerate(STAGES)
            ],
        }

    def _property(self, kind: str, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "label": PROPERTIES[kind][name],
            "type": "number" if name == "amount" else "string",
            "fieldType": "number" if name == "amount" else "text",
            "groupName": "prm" if name.startswith("prm_") else f"{kind[:-1]}information",
            "hasUniqueValue": name in UNIQUE[kind],
            "hubspotDefined": not name.startswith("prm_"),
            "modificationMetadata": {"readOnlyValue": name in READ_ONLY, "archivable": True},
        }

    def _render(self, kind: str, row: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
        defaults = (
            ["email", "firstname", "lastname", "createdate", "lastmodifieddate", "hs_object_id"]
            if kind == "contacts"
            else ["dealname", "amount", "dealstage", "pipeline", "closedate", "createdate"]
            + ["hs_lastmodifieddate", "hs_object_id"]
        )
        names = wanted or defaults
        props = {n: row["properties"].get(n) for n in names if n in PROPERTIES[kind]}
        out = {
            "id": row["id"],
            "properties": props,
            "createdAt": row["createdAt"],
            "updatedAt": row["updatedAt"],
            "archived": row["archived"],
        }
        if row["archived"]:
            out["archivedAt"] = row.get("archivedAt")
        return out

    def _find(self, kind: str, id_property: str, value: str) -> dict[str, Any] | None:
        if not id_property or id_property == "hs_object_id":
            found = self.objects[kind].get(str(value))
        elif kind == "contacts" and id_property == "email":
            found = self.objects[kind].get(self._emails.get(str(value).lower(), ""))
        elif id_property in UNIQUE[kind]:
            found = self.objects[kind].get(
                self._unique.get((kind, id_property), {}).get(str(value), "")
            )
        else:
            raise error(
                400, "VALIDATION_ERROR", f"{id_property} is not a unique identifier property"
            )
        return found if found is not None and not found["archived"] else None

    def _batch_read(self, kind: str, body: dict[str, Any]) -> tuple[int, Any]:
        started = iso(self._now_ms())
        wanted = [str(p) for p in body.get("properties") or []]
        id_property = str(body.get("idProperty") or "")
        results, missing = [], []
        for item in body["inputs"]:
            value = str((item or {}).get("id") or "")
            row = self._find(kind, id_property, value)
            if row is None:
                missing.append(value)
            else:
                results.append(self._render(kind, row, wanted))
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": iso(self._now_ms()),
        }
        if missing:
            answer["numErrors"] = 1
            answer["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": f"Could not get some {kind} objects, they may be deleted.",
                    "context": {"ids": missing},
                }
            ]
            return 207, answer
        return 200, answer

    def _list(self, kind: str, query: dict[str, str]) -> dict[str, Any]:
        archived = query.get("archived") == "true"
        limit = min(int(query.get("limit") or 10), 100)
        after = int(query.get("after") or 0)
        wanted = [p for p in (query.get("properties") or "").split(",") if p]
        rows = sorted(
            (
                r
                for r in self.objects[kind].values()
                if r["archived"] == archived and int(r["id"]) > after
            ),
            key=lambda r: int(r["id"]),
        )
        page = rows[:limit]
        out: dict[str, Any] = {"results": [self._render(kind, r, wanted) for r in page]}
        if len(rows) > limit:
            out["paging"] = {"next": {"after": page[-1]["id"], "link": "?after=" + page[-1]["id"]}}
        return out

    def _search_objects(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        groups = body.get("filterGroups") or []
        if len(groups) > 5 or sum(len(g.get("filters") or []) for g in groups) > 18:
            raise error(400, "VALIDATION_ERROR", "Too many filters or filter groups")
        limit = min(int(body.get("limit") or 10), 200)
        after = int(body.get("after") or 0)
        if after + limit > self.search_max:
            raise error(400, "VALIDATION_ERROR", "Paging past 10000 results is not supported")
        rows = [r for r in self.objects[kind].values() if not r["archived"]]
        if groups:
            rows = [
                r for r in rows if any(self._matches(r, g.get("filters") or []) for g in groups)
            ]
        for sort in reversed(body.get("sorts") or []):
            name = sort.get("propertyName") if isinstance(sort, dict) else str(sort)
            rows.sort(
                key=lambda r: _sortable(name, r["properties"].get(name)),
                reverse=isinstance(sort, dict) and sort.get("direction") == "DESCENDING",
            )
        wanted = [str(p) for p in body.get("properties") or []]
        page = rows[after : after + limit]
        out: dict[str, Any] = {
            "total": len(rows),
            "results": [self._render(kind, r, wanted) for r in page],
        }
        if after + limit < len(rows):
            out["paging"] = {"next": {"after": str(after + limit)}}
        return out

    def _matches(self, row: dict[str, Any], filters: list[dict[str, Any]]) -> bool:
        for f in filters:
            name, op = f.get("propertyName"), f.get("operator")
            actual = row["properties"].get(name)
            if name == "hs_object_id":
                actual = row["id"]
            if op == "HAS_PROPERTY":
                ok = actual not in (None, "")
            elif op == "NOT_HAS_PROPERTY":
                ok = actual in (None, "")
            elif op in ("IN", "NOT_IN"):
                values = [_norm(name, v) for v in f.get("values") or []]
                ok = (_norm(name, actual) in values) == (op == "IN")
            elif op in ("EQ", "NEQ"):
                ok = (_norm(name, actual) == _norm(name, f.get("value"))) == (op == "EQ")
            elif op in ("GT", "GTE", "LT", "LTE"):
                if actual is None:
                    return False
                a, b = _sortable(name, actual), _sortable(name, f.get("value"))
                ok = {"GT": a > b, "GTE": a >= b, "LT": a < b, "LTE": a <= b}[op]
            else:
                raise error(400, "VALIDATION_ERROR", f"Unsupported operator {op}")
            if not ok:
                return False
        return True

    def _associations(
        self, src: str, dst: str, action: str, body: dict[str, Any]
    ) -> tuple[int, Any]:
        if {src, dst} != {"contacts", "deals"}:
            raise error(400, "VALIDATION_ERROR", f"Unsupported association {src} -> {dst}")
        inputs = body.get("inputs") or []
        if len(inputs) > 1000:
            raise error(400, "VALIDATION_ERROR", "Batch input limit is 1000")
        table = self.links if src == "deals" else self.back
        if action == "read":
            results = []
            for item in inputs:
                source = str((item or {}).get("id") or "")
                row = self.objects[src].get(source)
                if row is None or row["archived"]:
                    continue
                targets = sorted(
                    (t for t in table.get(source, ()) if not self.objects[dst][t]["archived"]),
                    key=int,
                )
                type_id = DEAL_TO_CONTACT if src == "deals" else CONTACT_TO_DEAL
                results.append(
                    {
                        "from": {"id": source},
                        "to": [
                            {
                                "toObjectId": int(t),
                                "associationTypes": [
                                    {
                                        "category": "HUBSPOT_DEFINED",
                                        "typeId": type_id,
                                        "label": None,
                                    }
                                ],
                            }
                            for t in targets
                        ],
                    }
                )
            return 200, {"status": "COMPLETE", "results": results}
        if action == "default":  # .../batch/associate/default
            results = []
            for item in inputs:
                a = str(((item or {}).get("from") or {}).get("id") or "")
                b = str(((item or {}).get("to") or {}).get("id") or "")
                deal, contact = (a, b) if src == "deals" else (b, a)
                if deal not in self.objects["deals"] or contact not in self.objects["contacts"]:
                    raise error(400, "VALIDATION_ERROR", f"No object with id {deal} / {contact}")
                self._associate(deal, contact)
                results.append({"from": {"id": a}, "to": {"id": b}})
            return 200, {"status": "COMPLETE", "results": results}
        raise error(404, "OBJECT_NOT_FOUND", "resource not found")

    # -- writes ---------------------------------------------------------------------------

    def _check_properties(self, kind: str, inputs: list[Any]) -> None:
        bad = []
        for item in inputs:
            for name in (item or {}).get("properties") or {}:
                if name not in PROPERTIES[kind] or name in READ_ONLY:
                    bad.append(name)
        if bad:
            raise error(
                400,
                "VALIDATION_ERROR",
                "Property values were not valid: "
                + json.dumps(
                    [
                        {
                            "isValid": False,
                            "message": f'Property "{n}" does not exist',
                            "error": "PROPERTY_DOESNT_EXIST",
                            "name": n,
                        }
                        for n in dict.fromkeys(bad)
                    ]
                ),
            )
        for item in inputs:
            props = (item or {}).get("properties") or {}
            email = props.get("email")
            if kind == "contacts" and email and "@" not in str(email):
                raise error(400, "VALIDATION_ERROR", f"Email address {email} is invalid")
            if (
                kind == "deals"
                and props.get("dealstage")
                and props["dealstage"] not in {s[0] for s in STAGES}
            ):
                raise error(
                    400, "VALIDATION_ERROR", f"{props['dealstage']} is not a valid deal stage"
                )
            if kind == "deals" and props.get("amount"):
                try:
                    float(props["amount"])
                except ValueError:
                    raise error(400, "VALIDATION_ERROR", "amount is not a number") from None

    def _conflicts(self, kind: str, inputs: list[Any]) -> None:
        for item in inputs:
            props = (item or {}).get("properties") or {}
            for name in UNIQUE[kind]:
                if props.get(name) and props[name] in self._unique.get((kind, name), {}):
                    existing = self._unique[(kind, name)][props[name]]
                    if str((item or {}).get("id") or "") != existing:
                        raise error(
                            409,
                            "CONFLICT",
                            f"A {kind[:-1]} with {name}={props[name]} already exists. "
                            f"Existing ID: {existing}",
                        )
            if (
                kind == "contacts"
                and props.get("email")
                and str(props["email"]).lower() in self._emails
            ):
                existing = self._emails[str(props["email"]).lower()]
                if str((item or {}).get("id") or "") != existing:
                    raise error(409, "CONFLICT", f"Contact already exists. Existing ID: {existing}")

    def _batch_create(self, kind: str, inputs: list[Any]) -> tuple[int, Any]:
        self._check_properties(kind, inputs)
        self._conflicts(kind, inputs)
        started = iso(self._now_ms())
        results = []
        for item in inputs:
            row = self._insert(kind, dict(item.get("properties") or {}))
            if kind == "deals" and not row["properties"].get("pipeline"):
                row["properties"]["pipeline"] = "default"
            if kind == "deals" and not row["properties"].get("dealstage"):
                self._set(row, kind, {"dealstage": STAGES[0][0]})
            for assoc in item.get("associations") or []:
                other = str((assoc.get("to") or {}).get("id") or "")
                if kind == "deals" and other in self.objects["contacts"]:
                    self._associate(row["id"], other)
                elif kind == "contacts" and other in self.objects["deals"]:
                    self._associate(other, row["id"])
            results.append(self._render(kind, row, list(item.get("properties") or {})))
        return 201, {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": iso(self._now_ms()),
        }

    def _batch_update(self, kind: str, inputs: list[Any]) -> tuple[int, Any]:
        self._check_properties(kind, inputs)
        self._conflicts(kind, inputs)
        results, missing = [], []
        for item in inputs:
            row = self._find(kind, str(item.get("idProperty") or ""), str(item.get("id") or ""))
            if row is None:
                missing.append(str(item.get("id") or ""))
                continue
            self._set(row, kind, dict(item.get("properties") or {}))
            results.append(self._render(kind, row, list(item.get("properties") or {})))
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if missing:
            answer["numErrors"] = 1
            answer["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "Object not found",
                    "context": {"ids": missing},
                }
            ]
            return 207, answer
        return 200, answer

    def _batch_upsert(self, kind: str, inputs: list[Any]) -> tuple[int, Any]:
        self._check_properties(kind, inputs)
        results = []
        for item in inputs:
            id_property = str(item.get("idProperty") or "")
            value = str(item.get("id") or "")
            if not id_property or (
                id_property not in UNIQUE[kind]
                and not (kind == "contacts" and id_property == "email")
            ):
                raise error(
                    400, "VALIDATION_ERROR", f"{id_property} is not a unique identifier property"
                )
        for item in inputs:
            id_property, value = str(item["idProperty"]), str(item.get("id") or "")
            props = dict(item.get("properties") or {})
            row = self._find(kind, id_property, value)
            new = row is None
            if row is None:
                row = self._insert(kind, {**props, id_property: value})
                if kind == "deals" and not row["properties"].get("pipeline"):
                    row["properties"]["pipeline"] = "default"
                if kind == "deals" and not row["properties"].get("dealstage"):
                    self._set(row, kind, {"dealstage": STAGES[0][0]})
            else:
                self._set(row, kind, props)
            results.append({**self._render(kind, row, list(props)), "new": new})
        return 200, {"status": "COMPLETE", "results": results}


def _norm(name: Any, value: Any) -> str:
    text = "" if value is None else str(value)
    return text.lower() if name == "email" else text


def _sortable(name: Any, value: Any) -> Any:
    """Dates compare as epoch milliseconds (HubSpot accepts both forms in filters)."""
    if value is None:
        return (0, "")
    text = str(value)
    if text.isdigit():
        return (1, int(text))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (1, int(parsed.timestamp() * 1000))
    except ValueError:
        pass
    try:
        return (1, float(text))
    except ValueError:
        return (2, text)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHubSpot
    protocol_version = "HTTP/1.1"
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
        content_type = self.headers.get("Content-Type", "")
        body: Any = None
        if raw and content_type.startswith("application/json"):
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        elif raw and content_type.startswith("application/x-www-form-urlencoded"):
            body = {k: v[-1] for k, v in parse_qs(raw).items()}
        record = RecordedRequest(
            method=method,
            path=parts.path,
            query={k: v[-1] for k, v in parse_qs(parts.query).items()},
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
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
            status, payload_body = 500, error(500, "INTERNAL_ERROR", "internal error").body
        elif fault == "401":
            status, payload_body = 401, error(401, "EXPIRED_AUTHENTICATION", "expired").body
        elif fault == "404":
            status, payload_body = 404, error(404, "OBJECT_NOT_FOUND", "resource not found").body
        elif fault == "rate":
            fake.refused += 1
            status, payload_body = (
                429,
                {
                    "status": "error",
                    "message": "You have reached your ten_secondly_rolling limit.",
                    "errorType": "RATE_LIMIT",
                    "correlationId": str(uuid.uuid4()),
                    "policyName": "TEN_SECONDLY_ROLLING",
                    "groupName": f"publicapi:{PORTAL_ID}",
                },
            )
        else:
            try:
                with fake._lock:
                    status, payload_body, headers = fake._handle(record)
            except Answer as answer:
                status, payload_body, headers = answer.status, answer.body, answer.headers
        record.status = status
        if fault == "timeout":
            fake._stopping.wait(fake.hang_seconds)
            self.close_connection = True
            return
        payload = b"" if payload_body is None else json.dumps(payload_body).encode()
        try:
            self.send_response(status)
            if payload_body is not None:
                self.send_header("Content-Type", "application/json;charset=utf-8")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
