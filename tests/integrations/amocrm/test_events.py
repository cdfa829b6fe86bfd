"""amoCRM webhooks: subscribing once, and telling a genuine event from a forged one."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import pytest

from integrations.crm.base import CrmAuthError, CrmRecord


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    """A tiny HTTP server that keeps what is POSTed to it."""
    got: list[tuple[str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # type: ignore[no-untyped-def]
            pass

        def do_POST(self):  # type: ignore[no-untyped-def]
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((self.headers["Content-Type"], body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://hooks.localhost:{server.server_address[1]}/hooks/crm/secret/", got
    server.shutdown()
    server.server_close()


def test_a_genuine_status_event_gives_the_lead_id(amo, connect):
    connector = connect()
    [made] = connector.push([CrmRecord(key="k", title="T", email="t@x.ru")])
    amo.move(made.crm_id, "won", "1500")
    content_type, body = amo.event_body(made.crm_id, "status")
    assert b"leads%5Bstatus%5D%5B0%5D%5Bid%5D" in body
    assert connector.parse_event(body, content_type) == [made.crm_id]
    _, deleted = amo.event_body(made.crm_id, "delete")
    assert connector.parse_event(deleted, content_type) == [made.crm_id]


def test_an_event_from_another_account_is_refused(amo, connect):
    connector = connect()
    forged = urlencode(
        {"leads[status][0][id]": "1", "account[id]": "999", "account[subdomain]": "acme"}
    ).encode()
    with pytest.raises(CrmAuthError):
        connector.parse_event(forged, "application/x-www-form-urlencoded")
    no_account = urlencode({"leads[update][0][id]": "1"}).encode()
    with pytest.raises(CrmAuthError):
        connector.parse_event(no_account, "application/x-www-form-urlencoded")


def test_subscribing_twice_registers_once_and_changes_are_delivered(amo, connect, receiver):
    url, got = receiver
    connector = connect()
    assert connector.subscribe_events(url) is True
    assert connector.subscribe_events(url) is True
    assert [r.method for r in amo.requests if r.path == "/api/v4/webhooks"] == [
        "GET",
        "POST",
        "GET",
    ]
    assert amo.world.webhooks[0]["settings"] == [
        "add_lead",
        "update_lead",
        "status_lead",
        "delete_lead",
        "update_contact",
    ]
    [made] = connector.push([CrmRecord(key="k", title="T", email="t@x.ru")])
    amo.update_record(made.crm_id, email="n@x.ru")  # on the contact: a contact event
    amo.move(made.crm_id, "lost")
    assert len(got) == 2
    parsed = [connector.parse_event(body, ct) for ct, body in got]
    assert parsed == [[f"contact:{made.crm_contact_id}"], [made.crm_id]]
    # The contact's event is read as that contact's leads.
    [record] = connector.fetch(parsed[0])
    assert (record.crm_id, record.values["email"]) == (made.crm_id, "n@x.ru")
    assert amo.send_event(url, made.crm_id, "delete") == 200


def test_a_company_under_contacts_is_not_taken_for_a_contact(amo, connect):
    connector = connect()
    body = urlencode(
        {
            "contacts[update][0][id]": "77",
            "contacts[update][0][type]": "company",
            "contacts[update][1][id]": "78",
            "contacts[update][1][type]": "contact",
            "account[id]": str(amo.account_id),
            "account[subdomain]": amo.subdomain,
        }
    ).encode()
    assert connector.parse_event(body, "application/x-www-form-urlencoded") == ["contact:78"]
