"""A webhook receiver as a client would write one: a real HTTP server on 127.0.0.1.

It checks ``PRM-Signature`` (HMAC-SHA256 of ``"<t>.<raw body>"`` with the endpoint's
secret), handles each event id once however often it arrives, and keeps, per object,
the state of the newest event (by ``created``), so the order of arrival does not matter.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def verify(header: str, body: bytes, secret: str, tolerance: int = 300) -> bool:
    """The README's snippet."""
    items = [part.split("=", 1) for part in header.split(",")]
    timestamp = next(v for k, v in items if k == "t")
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    signed = timestamp.encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, v) for k, v in items if k == "v1")


class Receiver:
    def __init__(self) -> None:
        self.secret = ""
        self.answers: list[int] = []  # status codes to answer next (then 200)
        self.retry_after = ""  # sent with a 429 or 503 answer when set
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.bad_signatures = 0
        self.handled: dict[str, dict[str, Any]] = {}  # event id → event, once
        self.duplicates = 0
        self.state: dict[str, tuple[str, dict[str, Any]]] = {}  # object id → (created, data)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append((dict(self.headers), body))
                code = receiver.answers.pop(0) if receiver.answers else 200
                if not verify(self.headers.get("PRM-Signature", ""), body, receiver.secret):
                    receiver.bad_signatures += 1
                    code = 400
                elif 200 <= code < 300:
                    receiver.handle(json.loads(body))
                self.send_response(code)
                if code in (429, 503) and receiver.retry_after:
                    self.send_header("Retry-After", receiver.retry_after)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def handle(self, event: dict[str, Any]) -> None:
        if event["id"] in self.handled:
            self.duplicates += 1  # seen: acknowledged, not applied again
            return
        self.handled[event["id"]] = event
        data = event["data"]
        current = self.state.get(data.get("id", ""))
        if current is None or current[0] < event["created"]:
            self.state[data.get("id", "")] = (event["created"], data)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
