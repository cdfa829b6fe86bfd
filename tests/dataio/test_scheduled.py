"""Scheduled exports: the page (admins write, the analyst reads), the SSRF guard on the
URL, and deliveries by e-mail (attached or linked) and to a URL (a real HTTP server
here), each period once, by the periodic tick and a real burst worker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail

from prm.dataio.models import ExportFile, ScheduledExport, ScheduledRun
from prm.dataio.scheduled import period_of, scheduled_deliver, scheduled_tick
from prm.models import AuditEntry, Membership, Role
from prm.tenancy import tenant_scope
from tests.dataio.conftest import MARK, content_of, parse

MONDAY = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


@dataclass
class Receiver:
    url: str
    answer: int = 200
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append((dict(self.headers), body))
            self.send_response(state.answer)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def schedule(tenant, owner, **fields) -> ScheduledExport:  # type: ignore[no-untyped-def]
    values = {
        "name": "Qualified leads",
        "source": "leads",
        "params": "status=qualified",
        "format": "csv",
        "frequency": "daily",
        "delivery": "email_attachment",
        "recipients": "boss@acme.test, sales@acme.test",
        **fields,
    }
    return ScheduledExport.all_tenants_unscoped.create(tenant=tenant, created_by=owner, **values)


def tick(now, django_capture_on_commit_callbacks, run_jobs) -> int:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        started = scheduled_tick(now)
    run_jobs()
    return started


FORM = {
    "name": "Weekly leads",
    "source": "leads",
    "params": "status=qualified",
    "format": "xlsx",
    "frequency": "weekly",
    "delivery": "webhook",
    "recipients": "",
}


def test_an_admin_schedules_an_export_and_it_is_audited(client_for, acme, admin, receiver):
    response = client_for(admin).post(
        "/manage/exports/scheduled/new/", {**FORM, "url": receiver.url}
    )
    assert response.status_code == 302
    with tenant_scope(acme):
        created = ScheduledExport.objects.get()
        assert (created.source, created.params, created.url) == (
            "leads",
            "status=qualified",
            receiver.url,
        )
        assert AuditEntry.objects.filter(action="scheduled_export.create").count() == 1
    page = client_for(admin).get("/manage/exports/scheduled/").content.decode()
    assert "Weekly leads" in page and 'id="schedule-form"' in page


def test_a_url_that_resolves_to_a_private_address_is_a_form_error(
    client_for, acme, admin, settings
):
    settings.PRM_HTTP_ALLOW_PRIVATE = False
    for url in ("http://127.0.0.1:8080/hook", "http://10.0.0.5/hook", "http://localhost/hook"):
        response = client_for(admin).post("/manage/exports/scheduled/new/", {**FORM, "url": url})
        assert response.status_code == 200
        assert "private or reserved address" in response.content.decode()
    assert not ScheduledExport.all_tenants_unscoped.exists()


def test_e_mail_delivery_needs_recipients_and_webhook_a_url(client_for, acme, admin):
    client = client_for(admin)
    assert "Give the URL" in client.post("/manage/exports/scheduled/new/", FORM).content.decode()
    email = {**FORM, "delivery": "email_link", "recipients": "not an address"}
    assert (
        "is not an e-mail address"
        in client.post("/manage/exports/scheduled/new/", email).content.decode()
    )


def test_the_analyst_reads_the_page_and_others_may_not(
    client_for, acme, owner, analyst, manager, finance
):
    schedule(acme, owner)
    page = client_for(analyst).get("/manage/exports/scheduled/")
    assert page.status_code == 200
    assert (
        "Qualified leads" in page.content.decode() and "schedule-form" not in page.content.decode()
    )
    assert client_for(analyst).post("/manage/exports/scheduled/new/", FORM).status_code == 403
    assert client_for(manager).get("/manage/exports/scheduled/").status_code == 403
    assert client_for(finance).get("/manage/exports/scheduled/").status_code == 403


def test_each_period_is_delivered_once_by_e_mail_with_the_lists_filtered_rows(
    money, globex_rows, owner, django_capture_on_commit_callbacks, run_jobs
):
    created = schedule(money.tenant, owner)
    assert tick(MONDAY, django_capture_on_commit_callbacks, run_jobs) == 1
    assert tick(MONDAY.replace(hour=20), django_capture_on_commit_callbacks, run_jobs) == 0
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["boss@acme.test", "sales@acme.test"]
    assert "2026-11-30" in message.subject
    (name, body, mimetype) = message.attachments[0]
    assert name == "leads-2026-11-30.csv" and mimetype.startswith("text/csv")
    rows = parse(body if isinstance(body, bytes) else body.encode(), "csv")
    assert [r["name"] for r in rows] == ["Ben Customer"]
    assert MARK not in str(body)
    run = ScheduledRun.all_tenants_unscoped.get(schedule=created)
    assert (run.status, run.rows, run.period) == ("sent", 1, "2026-11-30")
    # the next day is another period
    assert tick(MONDAY.replace(day=1, month=12), django_capture_on_commit_callbacks, run_jobs) == 1
    assert len(mail.outbox) == 2


def test_periods_are_days_iso_weeks_and_months():
    assert period_of("daily", MONDAY) == "2026-11-30"
    assert period_of("weekly", MONDAY) == "2026-W49"
    assert period_of("monthly", MONDAY) == "2026-11"


def test_a_link_delivery_stores_the_file_for_those_who_may_read_the_list(
    client_for, money, owner, manager, django_capture_on_commit_callbacks, run_jobs
):
    schedule(money.tenant, owner, source="rewards", params="", delivery="email_link", format="xlsx")
    tick(MONDAY, django_capture_on_commit_callbacks, run_jobs)
    body = mail.outbox[0].body
    assert not mail.outbox[0].attachments
    path = body[body.index("/manage/exports/") :].split()[0]
    path = path[path.index("/manage/") :]
    with tenant_scope(money.tenant):
        stored = ExportFile.objects.get()
    assert path == f"/manage/exports/{stored.pk}/download/"
    rows = parse(content_of(client_for(owner).get(path)), "xlsx")
    assert len(rows) == stored.total > 0
    assert client_for(manager).get(path).status_code == 403  # no money rights


def test_a_webhook_delivery_posts_the_file_and_a_failure_is_retried_until_sent(
    money, owner, receiver, django_capture_on_commit_callbacks, run_jobs
):
    created = schedule(money.tenant, owner, delivery="webhook", url=receiver.url, format="json")
    receiver.answer = 500
    tick(MONDAY, django_capture_on_commit_callbacks, run_jobs)
    run = ScheduledRun.all_tenants_unscoped.get(schedule=created)
    assert run.status == "failed" and "500" in run.error
    receiver.answer = 204
    with tenant_scope(money.tenant):
        scheduled_deliver(run_id=run.pk)  # what RQ's retry does
        scheduled_deliver(run_id=run.pk)  # and a duplicate delivery of it: no second POST
    run.refresh_from_db()
    assert run.status == "sent"
    assert len(receiver.received) == 2  # the failed attempt and the one that went through
    headers, body = receiver.received[-1]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-PRM-Period"] == "2026-11-30"
    assert [row["name"] for row in parse(body, "json")] == ["Ben Customer"]


def test_nothing_is_sent_once_its_creator_may_no_longer_read_the_list(
    money, owner, django_capture_on_commit_callbacks, run_jobs
):
    created = schedule(money.tenant, owner, source="rewards", params="")
    with tenant_scope(money.tenant):
        Membership.objects.filter(user=owner).update(role=Role.MANAGER)
    tick(MONDAY, django_capture_on_commit_callbacks, run_jobs)
    assert not mail.outbox
    run = ScheduledRun.all_tenants_unscoped.get(schedule=created)
    assert run.status == "failed" and "no longer" in run.error
