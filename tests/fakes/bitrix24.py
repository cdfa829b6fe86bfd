"""A fake Bitrix24 portal (and its oauth.bitrix.info) on 127.0.0.1, speaking the REST
shapes of ../shared/CRM_APIS.md §2. Implements tests/fakes/crm_base.FakeCrm.

Wire API, as Bitrix24 does it:
- ``/rest/<user>/<code>/<method>[.json]`` (inbound webhook) and ``/rest/<method>`` with
  ``auth`` in the query or body (OAuth); JSON, form or query parameters in PHP bracket
  notation, top-level names case-insensitive. 401 ``NO_AUTH_FOUND`` for an unknown
  webhook/token, 401 ``expired_token`` after ``token_ttl``.
- ``GET /oauth/token/`` (authorization_code / refresh_token; the refresh token rotates,
  a used one gives 400 ``invalid_grant``) and ``GET /oauth/authorize/`` (302 back with
  ``code``, ``domain``, ``member_id``...). Not counted by the rate limiter (other host).
- ``crm.lead|deal|contact.add|update|get|list|fields|delete``, ``crm.status.list``,
  ``crm.duplicate.findbycomm``, ``batch`` (<=50, ``$result[..]``, ``halt``, empty
  sections as ``[]``, always 200), ``event.bind|unbind|get`` (OAuth only), ``profile``.
- Lists: 50 per page, ``total``/``next``, ``start=-1``; filters with ``= ! > >= < <= @
  !@ %`` prefixes; multifields EMAIL/PHONE with add/overwrite/delete semantics.
- Leaky bucket (``rate_limit`` on): +1 per request, drains 2/s, a request arriving while
  the counter is over 50 gets 503 ``QUERY_LIMIT_EXCEEDED``.
Records are indexed by id, e-mail, phone digits, ORIGIN_ID and CONTACT_ID, so 10,000
records and hundreds of requests a second are no trouble.
"""

from __future__ import annotations

import functools
import http.client
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.fakes.crm_base import FAULTS

MSK = timezone(timedelta(hours=3))
MULTI = ("EMAIL", "PHONE", "WEB", "IM")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_RESULT_REF = re.compile(r"\$result\[([^\]]+)\](?:\[([^\]]+)\])?")
_FILTER = re.compile(r"^(>=|<=|!=|!@|=%|%=|!%|[><=!@%])?(.+)$")
USER_FIELDS = {  # preset custom fields and the labels the engine maps by
    "UF_CRM_PRM_LEAD_ID": "PRM lead id",
    "UF_CRM_PRM_PARTNER": "PRM partner",
    "UF_CRM_PRM_REFERRAL": "PRM referral code",
    "UF_CRM_PRM_PROMO": "PRM promo code",
    "UF_CRM_PRM_PROGRAM": "PRM program",
    "UF_CRM_PRM_REWARD_AMOUNT": "PRM reward amount",
    "UF_CRM_PRM_REWARD_CURRENCY": "PRM reward currency",
    "UF_CRM_PRM_REWARD_STATUS": "PRM reward status",
    "UF_CRM_PRM_PARTNER_ACCRUED": "PRM partner accrued",
    "UF_CRM_PRM_PARTNER_APPROVED": "PRM partner approved",
    "UF_CRM_PRM_PARTNER_PAID": "PRM partner paid",
}
CONTACT_USER_FIELDS = {  # partners as contacts: their balances
    "UF_CRM_PRM_C_ACCRUED": "PRM partner accrued",
    "UF_CRM_PRM_C_APPROVED": "PRM partner approved",
    "UF_CRM_PRM_C_PAID": "PRM partner paid",
}
STANDARD = {
    "lead": [
        "TITLE",
        "NAME",
        "SECOND_NAME",
        "LAST_NAME",
        "COMPANY_TITLE",
        "COMPANY_ID",
        "CONTACT_ID",
        "STATUS_ID",
        "STATUS_DESCRIPTION",
        "STATUS_SEMANTIC_ID",
        "SOURCE_ID",
        "SOURCE_DESCRIPTION",
        "OPPORTUNITY",
        "CURRENCY_ID",
        "ASSIGNED_BY_ID",
        "OPENED",
        "COMMENTS",
        "POST",
        "ORIGINATOR_ID",
        "ORIGIN_ID",
        "HAS_PHONE",
        "HAS_EMAIL",
    ],
    "deal": [
        "TITLE",
        "CATEGORY_ID",
        "STAGE_ID",
        "STAGE_SEMANTIC_ID",
        "CLOSED",
        "OPPORTUNITY",
        "CURRENCY_ID",
        "CONTACT_ID",
        "COMPANY_ID",
        "LEAD_ID",
        "ASSIGNED_BY_ID",
        "OPENED",
        "COMMENTS",
        "SOURCE_ID",
        "ORIGINATOR_ID",
        "ORIGIN_ID",
    ],
    "contact": [
        "NAME",
        "SECOND_NAME",
        "LAST_NAME",
        "POST",
        "COMPANY_ID",
        "SOURCE_ID",
        "OPENED",
        "ASSIGNED_BY_ID",
        "COMMENTS",
        "ORIGINATOR_ID",
        "ORIGIN_ID",
        "HAS_PHONE",
        "HAS_EMAIL",
    ],
}
COMMON = ["ID", "DATE_CREATE", "DATE_MODIFY", "CREATED_BY_ID", "MODIFY_BY_ID"]
# (STATUS_ID, NAME, SEMANTICS) per crm.status.list ENTITY_ID
STATUSES = {
    "STATUS": [
        ("NEW", "New", None),
        ("IN_PROCESS", "In progress", None),
        ("PROCESSED", "Processed", None),
        ("JUNK", "Junk lead", "F"),
        ("CONVERTED", "Good lead", "S"),
    ],
    "DEAL_STAGE": [
        ("NEW", "New", None),
        ("PREPARATION", "Preparing documents", None),
        ("EXECUTING", "In progress", None),
        ("WON", "Deal won", "S"),
        ("LOSE", "Deal lost", "F"),
        ("APOLOGY", "Analyze failure", "F"),
    ],
}
SEMANTIC_STAGE = {
    ("lead", "won"): "CONVERTED",
    ("lead", "lost"): "JUNK",
    ("lead", "open"): "IN_PROCESS",
    ("deal", "won"): "WON",
    ("deal", "lost"): "LOSE",
    ("deal", "open"): "EXECUTING",
}
_CANNED = {
    "500": (500, "INTERNAL_SERVER_ERROR", "Internal server error"),
    "rate": (503, "QUERY_LIMIT_EXCEEDED", "Too many requests"),
    "401": (401, "expired_token", "The access token provided has expired."),
    "404": (400, "ERROR_NOT_FOUND", "Not found"),
}


def _now(ahead: float = 0.0) -> str:
    return (datetime.now(MSK) + timedelta(seconds=ahead)).replace(microsecond=0).isoformat()


@functools.lru_cache(maxsize=65536)
def _when(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace(" ", "+") if "T" in value else value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=MSK)


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value or "")


def php_parse(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """PHP ``parse_str``: ``a[b][0]=x&c[]=y`` -> {"a": {"b": ["x"]}, "c": ["y"]}."""
    root: dict[str, Any] = {}
    for name, value in pairs:
        head, _, rest = name.partition("[")
        path = [head] + (re.findall(r"\[([^\]]*)\]", "[" + rest) if rest else [])
        node = root
        for n, part in enumerate(path):
            last = n == len(path) - 1
            if part == "":
                part = str(len(node))
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    break
    return _listify(root)


def _listify(value: Any) -> Any:
    if isinstance(value, dict):
        value = {k: _listify(v) for k, v in value.items()}
        if value and all(k.isdigit() for k in value):
            return [value[k] for k in sorted(value, key=int)]
    return value


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    return value if isinstance(value, list) else [value]


class _MethodError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def _not_found() -> _MethodError:
    return _MethodError(400, "", "Not found")


@dataclass
class RecordedRequest:
    method: str
    path: str
    api_method: str  # the Bitrix method ("batch", "crm.lead.list", "oauth/token")
    params: dict[str, Any]
    status: int | None = None  # None when the connection was dropped


@dataclass
class _Fault:
    kind: str
    remaining: int
    path: str | None


class _Table:
    """One entity's rows with the indexes lookups need."""

    def __init__(self, entity: str) -> None:
        self.entity = entity
        self.rows: dict[int, dict[str, Any]] = {}
        self.deleted: dict[int, dict[str, Any]] = {}
        self.index: dict[str, dict[str, set[int]]] = {
            "EMAIL": {},
            "PHONE": {},
            "ORIGIN_ID": {},
            "CONTACT_ID": {},
            "LEAD_ID": {},
        }

    def _keys(self, row: dict[str, Any]) -> dict[str, set[str]]:
        return {
            "EMAIL": {i["VALUE"].lower() for i in row.get("EMAIL", [])},
            "PHONE": {_digits(i["VALUE"]) for i in row.get("PHONE", [])},
            "ORIGIN_ID": {str(row.get("ORIGIN_ID") or "")} - {""},
            "CONTACT_ID": {str(row.get("CONTACT_ID") or "")} - {"", "0"},
            "LEAD_ID": {str(row.get("LEAD_ID") or "")} - {"", "0"},
        }

    def unindex(self, row: dict[str, Any]) -> None:
        for name, keys in self._keys(row).items():
            for key in keys:
                self.index[name].get(key, set()).discard(int(row["ID"]))

    def reindex(self, row: dict[str, Any]) -> None:
        for name, keys in self._keys(row).items():
            for key in keys:
                self.index[name].setdefault(key, set()).add(int(row["ID"]))


class FakeBitrix:
    provider = "bitrix24"

    def __init__(
        self,
        *,
        auth_kind: str = "webhook",
        entity: str = "lead",
        token_ttl: float = 3600,
        hang_seconds: float = 1.0,
    ) -> None:
        self.auth_kind = auth_kind
        self.entity = entity
        self.token_ttl = token_ttl
        self.hang_seconds = hang_seconds
        self.rate_limit = False
        self.latency = 0.0  # seconds each request waits before it is handled
        self.drain, self.burst = 2.0, 50
        self.requests: list[RecordedRequest] = []
        self.webhook_user, self.webhook_code = "1", secrets.token_hex(8)
        self.client_id, self.client_secret = "local.fake00000001", secrets.token_hex(16)
        self.member_id, self.application_token = secrets.token_hex(16), secrets.token_hex(16)
        self.required: dict[str, set[str]] = {"lead": set(), "deal": set(), "contact": set()}
        self.user_fields = dict(USER_FIELDS)
        # The contact's own user fields (a portal's UF fields are made per entity).
        self.contact_fields = dict(CONTACT_USER_FIELDS)
        self.tables = {name: _Table(name) for name in ("lead", "deal", "contact")}
        self.handlers: dict[str, set[str]] = {}  # event.bind: event -> handler URLs
        self.outgoing_url = ""  # an outgoing webhook made in the UI (all CRM events)
        self.rate_rejections = 0
        self.max_level = 0.0  # highest bucket level seen (for the benchmark)
        self.token_refreshes = 0  # refresh grants honoured
        self.ahead = 0.0  # seconds the portal's clock is ahead (later(): time passes)
        self._ids = 0
        self._item_ids = 100000  # multifield value ids
        self._item_ids = 100000  # multifield value ids
        self._access: dict[str, float] = {}
        self._refresh: set[str] = set()
        self._codes: set[str] = set()
        self._revoked = False
        self._faults: list[_Fault] = []
        self._level, self._last = 0.0, time.monotonic()
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> FakeBitrix:
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

    base_url = url
    auth_url = url

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/rest/{self.webhook_user}/{self.webhook_code}/"

    def connection_config(self) -> dict[str, Any]:
        settings = {"entity": self.entity, "category_id": 0, "currency": "RUB"}
        if self.auth_kind == "webhook":
            return {
                "auth_kind": "webhook",
                "base_url": self.url,
                "auth_url": "",
                "credentials": {
                    "webhook_url": self.webhook_url,
                    "application_token": self.application_token,
                },
                "settings": settings,
            }
        tokens = self._issue()
        return {
            "auth_kind": "oauth",
            "base_url": f"{self.url}/rest",
            "auth_url": self.url,
            "credentials": {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "access_token": tokens["access_token"],
                "refresh_token": tokens["refresh_token"],
                "application_token": self.application_token,
                "member_id": self.member_id,
            },
            "settings": settings,
        }

    # ------------------------------------------------------------ trouble

    def inject(self, fault: str, times: int = 1, path: str | None = None) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
        with self._lock:
            if times <= 0:  # inject(kind, times=0) calls off what is left of that fault
                self._faults = [f for f in self._faults if (f.kind, f.path) != (fault, path)]
                return
            self._faults.append(_Fault(fault, times, path))

    def prefill(self, level: float) -> None:
        """The bucket as another integration left it: ``level`` requests already in."""
        with self._lock:
            self._level = float(level)
            self._last = time.monotonic()

    def later(self, seconds: float = 1.0) -> None:
        """Time passes on the portal (DATE_MODIFY has whole seconds): no sleeping."""
        with self._lock:
            self.ahead += seconds

    def expire_tokens(self) -> None:
        with self._lock:
            self._access = dict.fromkeys(self._access, 0.0)

    def revoke(self) -> None:
        with self._lock:
            self._access.clear()
            self._refresh.clear()
            self._revoked = True  # the inbound webhook is deleted too

    def calls(self, api_method: str | None = None) -> list[RecordedRequest]:
        return [r for r in list(self.requests) if api_method is None or r.api_method == api_method]

    # ------------------------------------------------------------ control panel

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            table = self.tables[self.entity]
            rows = [(r, False) for r in table.rows.values()]
            rows += [(r, True) for r in table.deleted.values()]
            return [
                self._neutral(r, deleted)
                for r, deleted in sorted(rows, key=lambda x: int(x[0]["ID"]))
            ]

    def _neutral(self, row: dict[str, Any], deleted: bool) -> dict[str, Any]:
        person = row
        if self.entity == "deal":
            person = self.tables["contact"].rows.get(int(row.get("CONTACT_ID") or 0), {})
        fields = {k: v for k, v in row.items() if k.startswith("UF_CRM_")}
        name = " ".join(p for p in (person.get("NAME"), person.get("LAST_NAME")) if p)
        fields.update(name=name, notes=row.get("COMMENTS", ""))
        if self.entity == "lead":
            fields["company"] = row.get("COMPANY_TITLE", "")
        stage_key = "STATUS_ID" if self.entity == "lead" else "STAGE_ID"
        semantic = row.get("STATUS_SEMANTIC_ID") or row.get("STAGE_SEMANTIC_ID")
        amount = row.get("OPPORTUNITY")
        return {
            "id": row["ID"],
            "title": row.get("TITLE", ""),
            "email": (person.get("EMAIL") or [{"VALUE": ""}])[0]["VALUE"],
            "phone": (person.get("PHONE") or [{"VALUE": ""}])[0]["VALUE"],
            "fields": fields,
            "stage": (
                "STATUS" if self.entity == "lead" else row.get("CATEGORY_ID", "0"),
                row.get(stage_key),
            ),
            "semantic": {"S": "won", "F": "lost"}.get(semantic, "open"),
            "amount": None if amount in (None, "", "0.00") else str(Decimal(amount).normalize()),
            "deleted": deleted,
        }

    def _person_fields(self, email: str, phone: str, name: str = "") -> dict[str, Any]:
        fields: dict[str, Any] = {"NAME": name} if name else {}
        if email:
            fields["EMAIL"] = [{"VALUE": email, "VALUE_TYPE": "WORK"}]
        if phone:
            fields["PHONE"] = [{"VALUE": phone, "VALUE_TYPE": "WORK"}]
        return fields

    def create_record(
        self, title: str, email: str = "", phone: str = "", fields: dict[str, str] | None = None
    ) -> str:
        values = self._from_neutral(fields or {})
        with self._lock:
            if self.entity == "lead":
                crm_id = self._add(
                    "lead", {"TITLE": title, **self._person_fields(email, phone), **values}
                )
            else:
                contact = self._add("contact", self._person_fields(email, phone, title))
                crm_id = self._add("deal", {"TITLE": title, "CONTACT_ID": str(contact), **values})
        self._emit(str(crm_id), "ADD")
        return str(crm_id)

    def _from_neutral(self, values: dict[str, str]) -> dict[str, Any]:
        names = {"title": "TITLE", "name": "NAME", "company": "COMPANY_TITLE", "notes": "COMMENTS"}
        return {names.get(k, k): v for k, v in values.items()}

    def update_record(self, crm_id: str, **values: str) -> None:
        fields = self._from_neutral(
            {k: v for k, v in values.items() if k not in ("email", "phone")}
        )
        with self._lock:
            row = self._row(self.entity, crm_id)
            person, entity = row, self.entity
            if self.entity == "deal":
                entity, person = "contact", self._row("contact", str(row.get("CONTACT_ID")))
            contact_fields = {}
            for key in ("email", "phone"):
                if key in values:
                    old = person.get(key.upper()) or []
                    item = {"VALUE": values[key], "VALUE_TYPE": "WORK"}
                    if old:
                        item["ID"] = old[0]["ID"]
                    contact_fields[key.upper()] = [item]
            if self.entity == "deal" and "NAME" in fields:
                contact_fields["NAME"] = fields.pop("NAME")
            if contact_fields:
                self._update(entity, person["ID"], contact_fields)
            self._update(self.entity, crm_id, fields)
        self._emit(crm_id, "UPDATE")

    def move(
        self, crm_id: str, semantic: str, amount: str | None = None, currency: str | None = None
    ) -> None:
        """The record reaches a stage of this meaning. A lead is won as in Bitrix24: it
        is converted (a contact and a deal with LEAD_ID, the lead CONVERTED) and the
        deal is won with the amount; a lead itself carries no sale."""
        if self.entity == "lead" and semantic == "won":
            deals = self.deals_of(crm_id)
            deal_id = deals[-1] if deals else self.convert(crm_id)
            self.move_deal(deal_id, "won", amount, currency)
            return
        fields: dict[str, Any] = {}
        stage = SEMANTIC_STAGE[(self.entity, semantic)]
        fields["STATUS_ID" if self.entity == "lead" else "STAGE_ID"] = stage
        if amount is not None:
            fields["OPPORTUNITY"] = amount
        if currency:
            fields["CURRENCY_ID"] = currency
        with self._lock:
            self._update(self.entity, crm_id, fields)
        self._emit(crm_id, "UPDATE")

    def convert(self, lead_id: str) -> str:
        """A person converts the lead (crm.lead conversion in the UI): a contact and a
        deal in the default funnel, the deal carrying LEAD_ID, the lead's amount and
        currency; the lead becomes CONVERTED. Events: the lead's update, the contact's
        and the deal's add. Returns the deal id."""
        with self._lock:
            lead = self._row("lead", lead_id)
            person = {k: lead[k] for k in ("NAME", "LAST_NAME", "EMAIL", "PHONE") if lead.get(k)}
            for key in MULTI:
                if key in person:
                    person[key] = [
                        {"VALUE": i["VALUE"], "VALUE_TYPE": i["VALUE_TYPE"]} for i in person[key]
                    ]
            contact = self._add("contact", {"NAME": lead.get("TITLE", ""), **person})
            deal = self._add(
                "deal",
                {
                    "TITLE": lead.get("TITLE", ""),
                    "LEAD_ID": str(lead["ID"]),
                    "CONTACT_ID": str(contact),
                    "OPPORTUNITY": lead.get("OPPORTUNITY") or "0",
                    "CURRENCY_ID": lead.get("CURRENCY_ID") or "RUB",
                    **{k: v for k, v in lead.items() if k.startswith("UF_CRM_")},
                },
            )
            self._update("lead", lead_id, {"STATUS_ID": "CONVERTED"})
        self._emit(str(lead_id), "UPDATE", "lead")
        self._emit(str(contact), "ADD", "contact")
        self._emit(str(deal), "ADD", "deal")
        return str(deal)

    def deals_of(self, lead_id: str) -> list[str]:
        """Ids of the deals made from this lead, oldest first."""
        with self._lock:
            found = self.tables["deal"].index["LEAD_ID"].get(str(lead_id), set())
            return [str(i) for i in sorted(found)]

    def move_deal(
        self, deal_id: str, semantic: str, amount: str | None = None, currency: str | None = None
    ) -> None:
        """A deal (of any connection's entity) reaches a stage of this meaning."""
        fields: dict[str, Any] = {"STAGE_ID": SEMANTIC_STAGE[("deal", semantic)]}
        if amount is not None:
            fields["OPPORTUNITY"] = amount
        if currency:
            fields["CURRENCY_ID"] = currency
        with self._lock:
            self._update("deal", deal_id, fields)
        self._emit(str(deal_id), "UPDATE", "deal")

    def delete_record(self, crm_id: str) -> None:
        with self._lock:
            self._delete(self.entity, crm_id)
        self._emit(crm_id, "DELETE")

    def event_body(
        self, crm_id: str, kind: str, entity: str | None = None
    ) -> tuple[str, bytes] | None:
        verb = {"delete": "DELETE", "add": "ADD"}.get(kind, "UPDATE")
        event = f"ONCRM{(entity or self.entity).upper()}{verb}"
        return "application/x-www-form-urlencoded", self._event(event, crm_id, 0)

    def _event(self, event: str, crm_id: str, handler_id: int) -> bytes:
        host = urlsplit(self.url).netloc
        return urlencode(
            {
                "event": event,
                "event_handler_id": str(handler_id),
                "data[FIELDS][ID]": crm_id,
                "ts": str(int(time.time())),
                "auth[domain]": host,
                "auth[client_endpoint]": f"{self.url}/rest/",
                "auth[server_endpoint]": "https://oauth.bitrix.info/rest/",
                "auth[member_id]": self.member_id,
                "auth[application_token]": self.application_token,
            }
        ).encode()

    def send_event(self, url: str, crm_id: str, kind: str) -> int | None:
        content_type, body = self.event_body(crm_id, kind)  # type: ignore[misc]
        return _post(url, content_type, body)

    def _emit(self, crm_id: str, verb: str, entity: str | None = None) -> None:
        """Deliver to bound handlers and the outgoing webhook once: no retries."""
        event = f"ONCRM{(entity or self.entity).upper()}{verb}"
        targets = set(self.handlers.get(event, set()))
        if self.outgoing_url:
            targets.add(self.outgoing_url)
        for n, url in enumerate(sorted(targets), start=1):
            _post(url, "application/x-www-form-urlencoded", self._event(event, crm_id, n))

    # ------------------------------------------------------------ storage

    def _row(self, entity: str, crm_id: Any) -> dict[str, Any]:
        try:
            return self.tables[entity].rows[int(crm_id)]
        except (KeyError, TypeError, ValueError):
            raise _not_found() from None

    def _check(self, entity: str, fields: dict[str, Any], creating: bool) -> None:
        meta = self._fields_meta(entity)
        for name in self.required[entity]:
            if (creating or name in fields) and not fields.get(name):
                title = meta.get(name, {}).get("formLabel") or meta.get(name, {}).get("title")
                raise _MethodError(400, "", f'Field "{title or name}" is required.')
        for item in _as_list(fields.get("EMAIL") or []):
            value = item.get("VALUE", "") if isinstance(item, dict) else ""
            if value and not _EMAIL.fullmatch(value):
                raise _MethodError(
                    400, "ERROR_CORE", "The field Work e-mail contains an invalid address"
                )

    def _apply(self, entity: str, row: dict[str, Any], fields: dict[str, Any]) -> None:
        allowed = set(STANDARD[entity]) | set(
            self.user_fields if entity != "contact" else self.contact_fields
        )
        for key, value in fields.items():
            if key in MULTI:
                self._multi(row, key, _as_list(value))
            elif key in allowed and not key.endswith("SEMANTIC_ID"):
                row[key] = value if isinstance(value, str | list) else str(value)
        if "OPPORTUNITY" in fields:
            row["OPPORTUNITY"] = f"{Decimal(str(fields['OPPORTUNITY'] or 0)):.2f}"
        stage = row.get("STATUS_ID") if entity == "lead" else row.get("STAGE_ID")
        if entity in ("lead", "deal"):
            code = next(
                (
                    s
                    for i, _, s in STATUSES["STATUS" if entity == "lead" else "DEAL_STAGE"]
                    if i == str(stage).split(":")[-1]
                ),
                None,
            )
            row["STATUS_SEMANTIC_ID" if entity == "lead" else "STAGE_SEMANTIC_ID"] = code or "P"
            if entity == "deal":
                row["CLOSED"] = "Y" if code else "N"
        row["HAS_EMAIL"] = "Y" if row.get("EMAIL") else "N"
        row["HAS_PHONE"] = "Y" if row.get("PHONE") else "N"

    def _multi(self, row: dict[str, Any], name: str, items: list[Any]) -> None:
        current = row.setdefault(name, [])
        for item in items:
            if not isinstance(item, dict):
                continue
            if item.get("ID"):
                found = next((c for c in current if c["ID"] == str(item["ID"])), None)
                if found is None:
                    continue
                if item.get("DELETE") == "Y" or item.get("VALUE") == "":
                    current.remove(found)
                else:
                    found["VALUE"] = item.get("VALUE", found["VALUE"])
                    found["VALUE_TYPE"] = item.get("VALUE_TYPE", found["VALUE_TYPE"])
            elif item.get("VALUE"):
                self._item_ids += 1
                current.append(
                    {
                        "ID": str(self._item_ids),
                        "VALUE_TYPE": item.get("VALUE_TYPE") or "WORK",
                        "VALUE": item["VALUE"],
                        "TYPE_ID": name,
                    }
                )
        if not current:
            row.pop(name)

    def _add(self, entity: str, fields: dict[str, Any]) -> int:
        self._check(entity, fields, creating=True)
        self._ids += 1
        new_id, now = self._ids, _now(self.ahead)
        row: dict[str, Any] = {
            "ID": str(new_id),
            "DATE_CREATE": now,
            "DATE_MODIFY": now,
            "CREATED_BY_ID": "1",
            "MODIFY_BY_ID": "1",
            "OPENED": "Y",
            "ASSIGNED_BY_ID": "1",
            "CURRENCY_ID": "RUB",
            "OPPORTUNITY": "0.00",
        }
        if entity == "lead":
            row.update(STATUS_ID="NEW", SOURCE_ID="CALL", TITLE=f"Lead #{new_id}")
        elif entity == "deal":
            row.update(STAGE_ID="NEW", CATEGORY_ID="0", CONTACT_ID="0", TITLE=f"Deal #{new_id}")
        self._apply(entity, row, fields)
        if entity == "deal" and row["CATEGORY_ID"] != "0" and ":" not in row["STAGE_ID"]:
            row["STAGE_ID"] = f"C{row['CATEGORY_ID']}:{row['STAGE_ID']}"
        self.tables[entity].rows[new_id] = row
        self.tables[entity].reindex(row)
        return new_id

    def _update(self, entity: str, crm_id: Any, fields: dict[str, Any]) -> None:
        row = self._row(entity, crm_id)
        self._check(entity, fields, creating=False)
        table = self.tables[entity]
        table.unindex(row)
        self._apply(entity, row, fields)
        row["DATE_MODIFY"] = _now(self.ahead)
        table.reindex(row)

    def _delete(self, entity: str, crm_id: Any) -> None:
        row = self._row(entity, crm_id)
        table = self.tables[entity]
        table.unindex(row)
        del table.rows[int(row["ID"])]
        table.deleted[int(row["ID"])] = row

    def _fields_meta(self, entity: str) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        for name in COMMON + STANDARD[entity] + [m for m in MULTI if entity != "deal"]:
            meta[name] = {
                "type": "crm_multifield" if name in MULTI else "string",
                "isRequired": name in self.required[entity],
                "isReadOnly": name in COMMON,
                "isImmutable": False,
                "isMultiple": name in MULTI,
                "isDynamic": False,
                "title": name.title(),
            }
        user_fields = self.user_fields if entity != "contact" else self.contact_fields
        for name, label in user_fields.items():
            meta[name] = {
                "type": "string",
                "isRequired": name in self.required[entity],
                "isReadOnly": False,
                "isImmutable": False,
                "isMultiple": False,
                "isDynamic": True,
                "title": name,
                "listLabel": label,
                "formLabel": label,
                "filterLabel": label,
            }
        return meta

    # ------------------------------------------------------------ tokens

    def _issue(self) -> dict[str, Any]:
        access, refresh = secrets.token_hex(20), secrets.token_hex(20)
        with self._lock:
            self._access[access] = time.monotonic() + self.token_ttl
            self._refresh.add(refresh)
            self._revoked = False
        return {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": 3600,
            "expires": int(time.time()) + 3600,
            "client_endpoint": f"{self.url}/rest/",
            "server_endpoint": "https://oauth.bitrix.info/rest/",
            "domain": "oauth.bitrix.info",
            "member_id": self.member_id,
            "scope": "crm,user",
            "status": "L",
            "user_id": 1,
        }

    def _oauth(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if path.startswith("/oauth/authorize"):
            if query.get("client_id") != self.client_id:
                return 400, {"error": "invalid_client", "error_description": "Unknown app"}, {}
            code = secrets.token_hex(12)
            with self._lock:
                self._codes.add(code)
            back = urlencode(
                {
                    "code": code,
                    "state": query.get("state", ""),
                    "domain": urlsplit(self.url).netloc,
                    "member_id": self.member_id,
                    "scope": "crm,user",
                    "server_domain": "oauth.bitrix.info",
                }
            )
            return 302, {}, {"Location": f"{query.get('redirect_uri', '')}?{back}"}
        if query.get("client_id") != self.client_id or (
            query.get("client_secret") != self.client_secret
        ):
            return (
                401,
                {"error": "invalid_client", "error_description": "Invalid client credentials"},
                {},
            )
        grant = query.get("grant_type")
        with self._lock:
            if grant == "authorization_code" and query.get("code") in self._codes:
                self._codes.discard(query["code"])
            elif grant == "refresh_token" and query.get("refresh_token") in self._refresh:
                self._refresh.discard(query["refresh_token"])  # rotates: one use only
                self.token_refreshes += 1
            else:
                return (
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "Invalid authorization code or refresh token",
                    },
                    {},
                )
        return 200, self._issue(), {}

    def _authorize(self, path: str, params: dict[str, Any]) -> str:
        match = re.fullmatch(r"/rest/(\d+)/([A-Za-z0-9]+)/([\w.]+?)(?:\.json)?/?", path)
        if match:
            if self._revoked or match.groups()[:2] != (self.webhook_user, self.webhook_code):
                raise _MethodError(401, "NO_AUTH_FOUND", "Wrong authorization data")
            return match.group(3)
        match = re.fullmatch(r"/rest/([\w.]+?)(?:\.json)?/?", path)
        if not match:
            raise _MethodError(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        with self._lock:
            expires = self._access.get(str(params.get("auth", "")))
        if expires is None:
            raise _MethodError(401, "NO_AUTH_FOUND", "Wrong authorization data")
        if time.monotonic() >= expires:
            raise _MethodError(401, "expired_token", "The access token provided has expired.")
        return "oauth:" + match.group(1)

    def _bucket(self) -> bool:
        """Leaky bucket: True when this request may pass."""
        with self._lock:
            now = time.monotonic()
            self._level = max(0.0, self._level - (now - self._last) * self.drain)
            self._last = now
            if self.rate_limit and self._level > self.burst:
                self.rate_rejections += 1
                return False
            self._level += 1
            self.max_level = max(self.max_level, self._level)
            return True

    # ------------------------------------------------------------ methods

    def _time(self) -> dict[str, Any]:
        now = time.time()
        stamp = datetime.now(UTC).isoformat()
        return {
            "start": now,
            "finish": now,
            "duration": 0.0,
            "processing": 0.0,
            "date_start": stamp,
            "date_finish": stamp,
            "operating": 0,
        }

    def _run(self, method: str, params: dict[str, Any], oauth: bool) -> dict[str, Any]:
        """One method; returns the envelope without ``time``."""
        params = {k.lower(): v for k, v in params.items()}
        if method == "batch":
            return {"result": self._batch(params, oauth)}
        if method in ("event.bind", "event.unbind", "event.get"):
            if not oauth:
                raise _MethodError(
                    403, "WRONG_AUTH_TYPE", "Current authorization type is denied for this method"
                )
            return {"result": self._events(method, params)}
        if method == "profile":
            return {"result": {"ID": "1", "ADMIN": True, "NAME": "Anna", "LAST_NAME": "Admin"}}
        if method == "crm.status.list":
            return self._statuses(params)
        if method == "crm.duplicate.findbycomm":
            return {"result": self._findbycomm(params)}
        match = re.fullmatch(
            r"crm\.(lead|deal|contact)\.(add|update|get|list|fields|delete)", method
        )
        if not match:
            raise _MethodError(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        entity, verb = match.groups()
        with self._lock:
            if verb == "fields":
                return {"result": self._fields_meta(entity)}
            if verb == "list":
                return self._list(entity, params)
            if verb == "get":
                return {"result": dict(self._row(entity, params.get("id")))}
            fields = params.get("fields")
            if verb in ("add", "update") and not isinstance(fields, dict):
                raise _MethodError(400, "", "Parameter 'fields' must be array.")
            if verb == "add":
                new_id = self._add(entity, fields)  # type: ignore[arg-type]
                return {"result": new_id}
            if verb == "update":
                self._update(entity, params.get("id"), fields)  # type: ignore[arg-type]
            else:
                self._delete(entity, params.get("id"))
            return {"result": True}

    def _statuses(self, params: dict[str, Any]) -> dict[str, Any]:
        entity_id = str((params.get("filter") or {}).get("ENTITY_ID", ""))
        base, prefix, category = entity_id, "", None
        if entity_id.startswith("DEAL_STAGE"):
            base, category = "DEAL_STAGE", entity_id.removeprefix("DEAL_STAGE").strip("_") or "0"
            prefix = f"C{category}:" if category != "0" else ""
        extra = {"S": "success", "F": "failure"}
        rows = [
            {
                "ID": str(n + 1),
                "ENTITY_ID": entity_id,
                "STATUS_ID": prefix + sid,
                "NAME": name,
                "SORT": str((n + 1) * 10),
                "SYSTEM": "Y",
                "CATEGORY_ID": category,
                "SEMANTICS": sem,
                "EXTRA": {"SEMANTICS": extra.get(sem or "", "process")},
            }
            for n, (sid, name, sem) in enumerate(STATUSES.get(base, []))
        ]
        return {"result": rows, "total": len(rows)}

    def _batch(self, params: dict[str, Any], oauth: bool) -> dict[str, Any]:
        cmd = params.get("cmd") or {}
        if isinstance(cmd, list):
            cmd = {str(n): c for n, c in enumerate(cmd)}
        if len(cmd) > 50:
            raise _MethodError(400, "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded")
        halt = str(params.get("halt", "0")).lower() in ("1", "true", "y")
        result: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        totals: dict[str, Any] = {}
        nexts: dict[str, Any] = {}

        def substitute(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: substitute(v) for k, v in value.items()}
            if isinstance(value, list):
                return [substitute(v) for v in value]
            if isinstance(value, str) and "$result[" in value:

                def ref(m: re.Match[str]) -> str:
                    got = result.get(m.group(1), "")
                    if m.group(2) is not None and isinstance(got, dict):
                        got = got.get(m.group(2), "")
                    return str(got)

                return _RESULT_REF.sub(ref, value)
            return value

        for key, line in cmd.items():
            method, _, query = str(line).partition("?")
            if method == "batch":
                raise _MethodError(405, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method not allowed")
            sub = substitute(php_parse(parse_qsl(query, keep_blank_values=True)))
            try:
                answer = self._run(method, sub, oauth)
            except _MethodError as exc:
                errors[key] = {"error": exc.error, "error_description": exc.description}
                if halt:
                    break
                continue
            result[key] = answer["result"]
            if "total" in answer:
                totals[key] = answer["total"]
            if "next" in answer:
                nexts[key] = answer["next"]
        return {
            "result": result or [],
            "result_error": errors or [],
            "result_total": totals or [],
            "result_next": nexts or [],
            "result_time": {k: self._time() for k in result} or [],
        }

    def _events(self, method: str, params: dict[str, Any]) -> Any:
        event, handler = str(params.get("event", "")).upper(), str(params.get("handler", ""))
        with self._lock:
            if method == "event.get":
                return [
                    {"event": e, "handler": h, "auth_type": "0", "offline": 0}
                    for e, hs in self.handlers.items()
                    for h in sorted(hs)
                ]
            if not event or not handler:
                raise _MethodError(
                    400, "ERROR_REQUIRED_PARAMETERS_MISSING", "Required parameters missing"
                )
            bound = self.handlers.setdefault(event, set())
            if method == "event.bind":
                if handler in bound:
                    raise _MethodError(
                        400, "ERROR_EVENT_HANDLER_ALREADY_EXISTS", "Handler already binded"
                    )
                bound.add(handler)
                return True
            bound.discard(handler)
            return {"count": 1}

    def _findbycomm(self, params: dict[str, Any]) -> Any:
        kind = str(params.get("type", "")).upper()
        values = _as_list(params.get("values") or [])
        if not kind:
            raise _MethodError(
                400, "Communication type is not defined", "Parameter 'type' is required."
            )
        if kind not in ("EMAIL", "PHONE"):
            raise _MethodError(
                400, "", f"Communication type '{kind}' is not supported in current context"
            )
        if not values:
            raise _MethodError(
                400, "Communication values is not defined", "Parameter 'values' is required."
            )
        if len(values) > 20:
            raise _MethodError(400, "", "Too many communication values (max 20).")
        wanted = str(params.get("entity_type", "")).upper()
        found: dict[str, list[int]] = {}
        with self._lock:
            for entity in ("lead", "contact"):
                if wanted and wanted != entity.upper():
                    continue
                index = self.tables[entity].index[kind]
                ids: set[int] = set()
                for value in values:
                    key = str(value).lower() if kind == "EMAIL" else _digits(str(value))
                    ids |= index.get(key, set())
                if ids:
                    found[entity.upper()] = sorted(ids)
        return found or []

    def _list(self, entity: str, params: dict[str, Any]) -> dict[str, Any]:
        table = self.tables[entity]
        filters = params.get("filter") or {}
        filters = filters if isinstance(filters, dict) else {}
        candidates: set[int] | None = None
        for key, value in filters.items():
            op, name = _FILTER.match(key).groups()  # type: ignore[union-attr]
            if op not in (None, "=", "@") or name not in ("ID", *table.index):
                continue
            values = _as_list(value)
            if name == "ID":
                ids = {int(v) for v in values if str(v).isdigit()}
            else:
                index = table.index[name]
                norm = {"EMAIL": str.lower, "PHONE": _digits}.get(name, str)
                ids = set().union(*(index.get(norm(str(v)), set()) for v in values))
            candidates = ids if candidates is None else candidates & ids
        pool = (
            table.rows.values()
            if candidates is None
            else (table.rows[i] for i in candidates if i in table.rows)
        )
        rows = [r for r in pool if all(_match(r, k, v) for k, v in filters.items())]
        order = params.get("order") or {"ID": "ASC"}
        for name, direction in reversed(list(order.items()) if isinstance(order, dict) else []):
            rows.sort(
                key=lambda r, n=name: _sort_key(r.get(n)), reverse=str(direction).upper() == "DESC"
            )
        start = int(params.get("start") or 0)
        select = _as_list(params.get("select") or ["*"])
        page = [_select(r, select) for r in rows[max(start, 0) : max(start, 0) + 50]]
        answer: dict[str, Any] = {"result": page}
        if start >= 0:
            answer["total"] = len(rows)
            if start + 50 < len(rows):
                answer["next"] = start + 50
        return answer


def _sort_key(value: Any) -> Any:
    if isinstance(value, str) and value.isdigit():
        return (0, int(value), "")
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        return (1, _when(value).timestamp(), "")
    return (2, 0, str(value or ""))


def _compare(left: Any, right: Any) -> tuple[Any, Any]:
    left, right = str(left or ""), str(right or "")
    if (
        left.lstrip("-").replace(".", "", 1).isdigit()
        and right.lstrip("-").replace(".", "", 1).isdigit()
    ):
        return Decimal(left), Decimal(right)
    if len(right) >= 10 and right[4:5] == "-" and len(left) >= 10 and left[4:5] == "-":
        return _when(left), _when(right)
    return left.lower(), right.lower()


def _match(row: dict[str, Any], key: str, value: Any) -> bool:
    op, name = _FILTER.match(key).groups()  # type: ignore[union-attr]
    op = op or "="
    negative = op in ("!@", "!%", "!", "!=")
    raw = row.get(name)
    have = [i["VALUE"] for i in raw] if name in MULTI and isinstance(raw, list) else [raw]
    hits = []
    for item in have:
        wanted = value
        if name == "PHONE":
            item, wanted = _digits(str(item)), _digits(str(value))
        if op in ("@", "!@"):
            hits.append(any(str(v).lower() == str(item or "").lower() for v in _as_list(wanted)))
        elif op in ("%", "!%", "=%", "%="):
            hits.append(str(wanted).strip("%").lower() in str(item or "").lower())
        else:
            a, b = _compare(item, wanted)
            hits.append(
                {
                    "=": a == b,
                    "!": a == b,
                    "!=": a == b,
                    ">": a > b,
                    ">=": a >= b,
                    "<": a < b,
                    "<=": a <= b,
                }[op]
            )
    return not any(hits) if negative else any(hits)


def _select(row: dict[str, Any], select: list[Any]) -> dict[str, Any]:
    names = {str(s) for s in select}
    return {
        k: (json.loads(json.dumps(v)) if isinstance(v, list) else v)
        for k, v in row.items()
        if k in names
        or k == "ID"
        or ("*" in names and k not in MULTI and not k.startswith("UF_"))
        or ("UF_*" in names and k.startswith("UF_"))
    }


def _post(url: str, content_type: str, body: bytes) -> int | None:
    """POST over real HTTP; ``*.localhost`` goes to 127.0.0.1 with its Host header."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    target = "127.0.0.1" if host.endswith(".localhost") or host == "localhost" else host
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(target, parts.port, timeout=5)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(
            "POST",
            path or "/",
            body=body,
            headers={
                "Content-Type": content_type,
                "Host": parts.netloc,
                "User-Agent": "Bitrix24 Webhook Engine",
            },
        )
        return conn.getresponse().status
    except OSError:
        return None  # Bitrix does not retry
    finally:
        conn.close()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeBitrix
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

    def _params(self, query: str) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        params = php_parse(parse_qsl(query, keep_blank_values=True))
        if raw and "json" in self.headers.get("Content-Type", ""):
            body = json.loads(raw)
            params.update(body if isinstance(body, dict) else {})
        elif raw:
            params.update(php_parse(parse_qsl(raw, keep_blank_values=True)))
        return params

    def _serve(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        try:
            params = self._params(parts.query)
        except ValueError:
            params = {}
        oauth_host = parts.path.startswith("/oauth/")
        api = parts.path.strip("/") if oauth_host else parts.path.rstrip("/").rsplit("/", 1)[-1]
        record = RecordedRequest(method, parts.path, api.removesuffix(".json"), params)
        # A fault's ``path`` may also name a method inside a batch ("crm.lead.add").
        cmd = params.get("cmd")
        haystack = (
            parts.path
            + " "
            + " ".join(
                str(c).partition("?")[0] for c in (cmd.values() if isinstance(cmd, dict) else [])
            )
        )
        if fake.latency:
            time.sleep(fake.latency)
        with fake._lock:
            fake.requests.append(record)
            fault = next(
                (
                    f
                    for f in fake._faults
                    if f.remaining > 0 and (f.path is None or f.path in haystack)
                ),
                None,
            )
            if fault is not None:
                fault.remaining -= 1
        kind = fault.kind if fault else None
        if kind == "drop":
            self.close_connection = True
            return
        headers: dict[str, str] = {}
        if kind in _CANNED:
            status, code, text = _CANNED[kind]
            if kind == "401" and not params.get("auth"):
                code, text = "NO_AUTH_FOUND", "Wrong authorization data"
            body: Any = {"error": code, "error_description": text}
        elif oauth_host:
            status, body, headers = fake._oauth(parts.path, {k: str(v) for k, v in params.items()})
        elif not fake._bucket():
            status, body = (
                503,
                {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"},
            )
        else:
            try:
                api_method = fake._authorize(parts.path, params)
                oauth = api_method.startswith("oauth:")
                body = fake._run(api_method.removeprefix("oauth:"), params, oauth)
                body["time"] = fake._time()
                status = 200
            except _MethodError as exc:
                status, body = (
                    exc.status,
                    {"error": exc.error, "error_description": exc.description},
                )
        record.status = status
        if kind == "timeout" and fake._stopping.wait(fake.hang_seconds):
            return
        payload = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting
