"""A fake PayPal Payouts API on 127.0.0.1, speaking the real request and answer shapes.

What it does, as PayPal does:

- POST /v1/oauth2/token: Basic auth with the app's client id and secret, form body
  ``grant_type=client_credentials``; 401 ``{"error": "invalid_client"}`` otherwise.
  Tokens expire after ``token_ttl`` seconds (401 ``{"error": "invalid_token"}``).
- POST /v1/payments/payouts: validates the body (400 VALIDATION_ERROR with details),
  refuses a sender_batch_id it has seen (400 USER_BUSINESS_ERROR, detail field
  SENDER_BATCH_ID, with a link to the original batch on PayPal's public host), answers
  201 with ``batch_header.payout_batch_id`` and ``batch_status`` PENDING.
- GET /v1/payments/payouts/{id}: the batch with its items, paginated (``page``,
  ``page_size``, ``total_required``). Items to receivers containing "fail" are FAILED,
  "unclaimed" UNCLAIMED, "pending" PENDING, others SUCCESS; ``set_item_status`` changes
  one later (e.g. UNCLAIMED -> RETURNED).

Knobs for trouble: ``inject(fault, times, path)`` makes the next matching requests
answer 500, 429 or 401, ``hang`` (handled, but answered only after ``hang_seconds``:
a client timeout after the work was done) or ``drop`` (connection closed before any
work). ``expire_tokens()`` expires every token issued so far. Every request is kept in
``requests`` (with the status answered) for assertions.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

FAULTS = ("500", "429", "401", "hang", "drop")
PUBLIC_HOST = "https://api.sandbox.paypal.com"
_AMOUNT_RE = re.compile(r"\d{1,10}(\.\d{1,2})?")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_RECEIVER_OUTCOMES = (("fail", "FAILED"), ("unclaimed", "UNCLAIMED"), ("pending", "PENDING"))
BAD_TOKEN = "Token signature verification failed"
# Fault -> (status, error name, message) as PayPal words them.
_CANNED = {
    "500": (500, "INTERNAL_SERVER_ERROR", "An internal server error has occurred."),
    "429": (429, "RATE_LIMIT_REACHED", "Too many requests. Blocked due to rate limiting."),
    "401": (401, "invalid_token", BAD_TOKEN),
}


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # parsed JSON, a dict for form bodies, or the raw text
    status: int | None = None  # None when the connection was dropped


@dataclass
class _Fault:
    kind: str
    remaining: int
    path: str | None


@dataclass
class _Batch:
    payout_batch_id: str
    sender_batch_header: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)
    time_created: str = ""


class _Answer(Exception):
    """Stop handling and answer with this status and JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _paypal_error(status: int, name: str, message: str, **extra: Any) -> _Answer:
    body = {"name": name, "message": message, "debug_id": secrets.token_hex(6), **extra}
    return _Answer(status, body)


class FakePayPal:
    """Start with ``start()``, point a client at ``url``, ``stop()`` when done."""

    def __init__(
        self,
        *,
        client_id: str = "fake-client-id",
        secret: str = "fake-client-secret",
        token_ttl: int = 32400,
        hang_seconds: float = 2.0,
    ) -> None:
        self.client_id = client_id
        self.secret = secret
        self.token_ttl = token_ttl
        self.hang_seconds = hang_seconds
        self.max_page_size = 1000
        self.duplicate_links = True  # False: refuse a duplicate without saying which batch
        self.requests: list[RecordedRequest] = []
        self.batches: dict[str, _Batch] = {}
        self._by_sender_batch_id: dict[str, str] = {}
        self._tokens: dict[str, float] = {}
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> FakePayPal:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits for the loop to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers that hang
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

    # -- knobs ----------------------------------------------------------------------

    def inject(self, fault: str, *, times: int = 1, path: str | None = None) -> None:
        """The next ``times`` requests whose path starts with ``path`` (any if None)
        meet ``fault``: "500", "429", "401", "hang" or "drop"."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
        with self._lock:
            self._faults.append(_Fault(fault, times, path))

    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens = dict.fromkeys(self._tokens, 0.0)

    def set_item_status(self, sender_item_id: str, status: str) -> None:
        with self._lock:
            for batch in self.batches.values():
                for item in batch.items:
                    if item["payout_item"]["sender_item_id"] == sender_item_id:
                        item["transaction_status"] = status
                        return
        raise KeyError(sender_item_id)

    # -- assertions helpers -------------------------------------------------------------

    def calls(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        """Recorded requests, optionally only those of a method and a path prefix."""
        return [
            r
            for r in list(self.requests)
            if (method is None or r.method == method) and (path is None or r.path.startswith(path))
        ]

    # -- request handling (called from the handler threads) -------------------------------

    def _take_fault(self, path: str) -> str | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and (fault.path is None or path.startswith(fault.path)):
                    fault.remaining -= 1
                    return fault.kind
        return None

    def _handle(self, record: RecordedRequest) -> tuple[int, dict[str, Any]]:
        if record.method == "POST" and record.path == "/v1/oauth2/token":
            return self._token(record)
        self._check_bearer(record)
        if record.method == "POST" and record.path == "/v1/payments/payouts":
            return self._create(record)
        match = re.fullmatch(r"/v1/payments/payouts/([A-Za-z0-9]+)", record.path)
        if record.method == "GET" and match:
            return self._show(match.group(1), record.query)
        raise _paypal_error(404, "NOT_FOUND", "The specified resource does not exist.")

    def _token(self, record: RecordedRequest) -> tuple[int, dict[str, Any]]:
        expected = base64.b64encode(f"{self.client_id}:{self.secret}".encode()).decode()
        if record.headers.get("authorization") != f"Basic {expected}":
            raise _Answer(
                401,
                {"error": "invalid_client", "error_description": "Client Authentication failed"},
            )
        body = record.body if isinstance(record.body, dict) else {}
        if body.get("grant_type") != "client_credentials":
            raise _Answer(
                400, {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"}
            )
        token = "A21AA" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_ttl
        return 200, {
            "scope": "https://uri.paypal.com/services/payments/payouts",
            "access_token": token,
            "token_type": "Bearer",
            "app_id": "APP-FAKE0000000000",
            "expires_in": self.token_ttl,
            "nonce": secrets.token_hex(8),
        }

    def _check_bearer(self, record: RecordedRequest) -> None:
        scheme, _, token = record.headers.get("authorization", "").partition(" ")
        with self._lock:
            expires_at = self._tokens.get(token) if scheme == "Bearer" else None
        if expires_at is None:
            raise _Answer(
                401,
                {
                    "error": "invalid_token",
                    "error_description": "Token signature verification failed",
                },
            )
        if time.monotonic() >= expires_at:
            raise _Answer(
                401,
                {"error": "invalid_token", "error_description": "Access Token not found in cache"},
            )

    def _create(self, record: RecordedRequest) -> tuple[int, dict[str, Any]]:
        body = record.body if isinstance(record.body, dict) else None
        if body is None:
            raise _paypal_error(400, "MALFORMED_REQUEST", "The request JSON is not well formed.")
        header = body.get("sender_batch_header")
        items = body.get("items")
        issues = _validate(header, items)
        if issues:
            raise _paypal_error(
                400,
                "VALIDATION_ERROR",
                "Invalid request - see details.",
                information_link="https://developer.paypal.com/docs/api/payments.payouts-batch/#errors",
                details=[{"field": f, "location": "body", "issue": i} for f, i in issues],
                links=[],
            )
        assert isinstance(header, dict) and isinstance(items, list)
        sender_batch_id = str(header.get("sender_batch_id", ""))
        with self._lock:
            existing = self._by_sender_batch_id.get(sender_batch_id) if sender_batch_id else None
            if existing is None:
                batch = self._new_batch(header, items)
        if existing is not None:
            detail: dict[str, Any] = {
                "field": "SENDER_BATCH_ID",
                "location": "body",
                "issue": "Batch with given sender_batch_id already exists",
            }
            if self.duplicate_links:
                detail["link"] = [
                    {
                        "href": f"{PUBLIC_HOST}/v1/payments/payouts/{existing}",
                        "rel": "self",
                        "method": "GET",
                    }
                ]
            raise _paypal_error(
                400, "USER_BUSINESS_ERROR", "User business error.", details=[detail]
            )
        return 201, {
            "batch_header": {
                "payout_batch_id": batch.payout_batch_id,
                "batch_status": "PENDING",
                "sender_batch_header": batch.sender_batch_header,
            },
            "links": [
                {
                    "href": f"{self.url}/v1/payments/payouts/{batch.payout_batch_id}",
                    "rel": "self",
                    "method": "GET",
                }
            ],
        }

    def _new_batch(self, header: dict[str, Any], items: list[dict[str, Any]]) -> _Batch:
        batch_id = secrets.token_hex(7).upper()[:13]
        default_type = header.get("recipient_type")
        batch = _Batch(batch_id, dict(header), time_created=time.strftime("%Y-%m-%dT%H:%M:%SZ"))
        for item in items:
            receiver = str(item["receiver"]).lower()
            status = "SUCCESS"
            for word, named in (
                ("fail", "FAILED"),
                ("unclaimed", "UNCLAIMED"),
                ("pending", "PENDING"),
            ):
                if word in receiver:
                    status = named
            entry: dict[str, Any] = {
                "payout_item_id": secrets.token_hex(7).upper()[:13],
                "transaction_status": status,
                "payout_batch_id": batch_id,
                "payout_item": {
                    "recipient_type": item.get("recipient_type", default_type),
                    "amount": item["amount"],
                    "note": item.get("note", ""),
                    "receiver": item["receiver"],
                    "sender_item_id": item.get("sender_item_id", ""),
                },
            }
            if status == "SUCCESS":
                entry["transaction_id"] = secrets.token_hex(8).upper()
            if status == "FAILED":
                entry["errors"] = {
                    "name": "RECEIVER_ACCOUNT_LOCKED",
                    "message": "Receiver's account is locked or inactive.",
                }
            batch.items.append(entry)
        self.batches[batch_id] = batch
        if header.get("sender_batch_id"):
            self._by_sender_batch_id[str(header["sender_batch_id"])] = batch_id
        return batch

    def _show(self, batch_id: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            batch = self.batches.get(batch_id)
            if batch is None:
                raise _paypal_error(
                    404, "INVALID_RESOURCE_ID", "Requested resource ID was not found."
                )
            items = [json.loads(json.dumps(i)) for i in batch.items]
        try:
            page = max(1, int(query.get("page", "1")))
            page_size = min(max(1, int(query.get("page_size", "1000"))), self.max_page_size)
        except ValueError:
            raise _paypal_error(400, "VALIDATION_ERROR", "Invalid request - see details.") from None
        statuses = {i["transaction_status"] for i in items}
        batch_status = "PROCESSING" if statuses & {"PENDING", "ONHOLD"} else "SUCCESS"
        answer: dict[str, Any] = {
            "batch_header": {
                "payout_batch_id": batch.payout_batch_id,
                "batch_status": batch_status,
                "time_created": batch.time_created,
                "sender_batch_header": batch.sender_batch_header,
            },
            "items": items[(page - 1) * page_size : page * page_size],
            "links": [],
        }
        if query.get("total_required") == "true":
            answer["total_items"] = len(items)
            answer["total_pages"] = max(1, -(-len(items) // page_size))
        return 200, answer


def _validate(header: Any, items: Any) -> list[tuple[str, str]]:
    issues: list[tuple[str, str]] = []
    if not isinstance(header, dict):
        issues.append(("sender_batch_header", "Required field is missing."))
        header = {}
    if not isinstance(items, list) or not items:
        issues.append(("items", "Required field is missing."))
        return issues
    if len(items) > 15000:
        issues.append(("items", "Number of items exceeds the maximum of 15000."))
    for n, item in enumerate(items):
        where = f"items[{n}]"
        if not isinstance(item, dict):
            issues.append((where, "Item is not an object."))
            continue
        recipient_type = item.get("recipient_type", header.get("recipient_type"))
        if recipient_type not in ("EMAIL", "PHONE", "PAYPAL_ID"):
            issues.append((f"{where}.recipient_type", "Recipient type is missing or invalid."))
        receiver = item.get("receiver")
        if not receiver:
            issues.append((f"{where}.receiver", "Required field is missing."))
        elif recipient_type == "EMAIL" and not _EMAIL_RE.fullmatch(str(receiver)):
            issues.append((f"{where}.receiver", "Receiver is invalid or does not match with type"))
        amount = item.get("amount")
        if not isinstance(amount, dict):
            issues.append((f"{where}.amount", "Required field is missing."))
            continue
        value = amount.get("value")
        if not isinstance(value, str) or not _AMOUNT_RE.fullmatch(value):
            issues.append((f"{where}.amount.value", "Currency amount is invalid."))
        currency = amount.get("currency")
        if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
            issues.append((f"{where}.amount.currency", "Currency code is invalid."))
    return issues


class _Handler(BaseHTTPRequestHandler):
    fake: FakePayPal
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: with Nagle on, the second waits for
    # the client's delayed ACK (~40 ms per answer on loopback).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

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
        )
        with fake._lock:
            fake.requests.append(record)
        fault = fake._take_fault(parts.path)
        if fault == "drop":
            self.close_connection = True
            return
        if fault in _CANNED:
            status, name_or_error, message = _CANNED[fault]
            body = (
                {"error": name_or_error, "error_description": message}
                if status == 401
                else _error_body(name_or_error, message)
            )
        else:
            try:
                status, body = fake._handle(record)
            except _Answer as answer:
                status, body = answer.status, answer.body
        record.status = status
        if fault == "hang" and fake._stopping.wait(fake.hang_seconds):
            return
        payload = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Paypal-Debug-Id", secrets.token_hex(6))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (the "hang" fault)


def _error_body(name: str, message: str) -> dict[str, Any]:
    return {"name": name, "message": message, "debug_id": secrets.token_hex(6)}


def _parse_body(content_type: str, raw: str) -> Any:
    if not raw:
        return None
    if content_type.startswith("application/json"):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    if content_type.startswith("application/x-www-form-urlencoded"):
        return {k: v[-1] for k, v in parse_qs(raw).items()}
    return raw
