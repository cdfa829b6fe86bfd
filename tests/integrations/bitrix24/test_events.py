"""Inbound events: verification by application token, and event.bind subscription."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest

from integrations.crm.base import CrmAuthError


def test_it_accepts_a_genuine_event(fake, connect) -> None:
    crm_id = fake.create_record("Lead")
    content_type, body = fake.event_body(crm_id, "update")

    assert connect(fake).parse_event(body, content_type) == [crm_id]


def test_it_refuses_a_forged_event(fake, connect) -> None:
    content_type, body = fake.event_body("5", "delete")
    forged = body.replace(fake.application_token.encode(), b"0" * 32)

    with pytest.raises(CrmAuthError):
        connect(fake).parse_event(forged, content_type)


def test_it_refuses_an_event_from_another_portal(oauth_fake, connect) -> None:
    content_type, body = oauth_fake.event_body("5", "update")
    other = body.replace(oauth_fake.member_id.encode(), b"f" * 32)

    with pytest.raises(CrmAuthError, match="another portal"):
        connect(oauth_fake).parse_event(other, content_type)


def test_it_ignores_events_of_other_entities(fake, connect) -> None:
    content_type, body = fake.event_body("5", "update")

    assert connect(fake).parse_event(body.replace(b"LEAD", b"CONTACT"), content_type) == []


def test_a_webhook_connection_cannot_subscribe(fake, connect) -> None:
    assert connect(fake).subscribe_events("https://prm.example/hooks/crm/x/") is False
    assert not fake.requests


def test_an_oauth_app_binds_events_and_receives_them(oauth_fake, connect) -> None:
    received: list[dict[str, str]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(dict(parse_qsl(self.rfile.read(length).decode())))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks/crm/secret/"
    try:
        connector = connect(oauth_fake)
        assert connector.subscribe_events(url) is True
        assert connector.subscribe_events(url) is True  # binding twice is fine
        crm_id = oauth_fake.create_record("Lead")
        oauth_fake.update_record(crm_id, title="New title")
    finally:
        server.shutdown()
        server.server_close()

    assert [e["event"] for e in received] == ["ONCRMLEADADD", "ONCRMLEADUPDATE"]
    assert oauth_fake.handlers["ONCRMLEADDELETE"] == {url}
    assert received[1]["data[FIELDS][ID]"] == crm_id


def test_the_install_event_hands_over_the_application_token_once(oauth_fake, connect) -> None:
    connector = connect(oauth_fake)
    token = connector.credentials.values.pop("application_token")
    _, body = oauth_fake.event_body("0", "update")
    install = body.replace(b"ONCRMLEADUPDATE", b"ONAPPINSTALL")

    assert connector.parse_event(install, "application/x-www-form-urlencoded") == []
    assert connector.credentials.get("application_token") == token
    forged = install.replace(token.encode(), b"1" * 32)
    with pytest.raises(CrmAuthError):
        connector.parse_event(forged, "application/x-www-form-urlencoded")
