"""The operator side of CRM sync: inbound event URL answers, monitoring thresholds and
their alerts, the management commands, conflicts settled by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from integrations.crm.monitoring import check_alerts, connection_health
from integrations.models import CrmConflict, CrmConnection, CrmOutbox, CrmSyncLog
from integrations.services.connections import conflict_resolve
from programs.models import Lead
from tests.integrations.conftest import connect, make_fake
from tests.integrations.helpers import crm_id_of, new_lead, record

pytestmark = pytest.mark.django_db


@pytest.fixture
def amo() -> Iterator[Any]:
    server = make_fake("amocrm").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def amo_crm(in_acme, amo, program, enrollment) -> CrmConnection:  # type: ignore[no-untyped-def]
    return connect(in_acme, amo, program)


def test_event_url_answers_json_for_unknown_forged_and_paused(
    amo_crm, amo, client_for, django_capture_on_commit_callbacks
):
    client = client_for(None)
    unknown = client.post(
        "/hooks/crm/nope/", data=b"x=1", content_type="application/x-www-form-urlencoded"
    )
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    wrong_method = client.get(f"/hooks/crm/{amo_crm.hook_secret}/")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "method_not_allowed"
    forged = client.post(
        f"/hooks/crm/{amo_crm.hook_secret}/",
        data=b"leads[status][0][id]=1&account[id]=999999",
        content_type="application/x-www-form-urlencoded",
    )
    assert forged.status_code == 403 and forged.json()["error"] == "forbidden"
    assert CrmSyncLog.objects.filter(message__startswith="event refused").exists()
    amo_crm.status = CrmConnection.Status.PAUSED
    amo_crm.save()
    paused = client.post(
        f"/hooks/crm/{amo_crm.hook_secret}/",
        data=b"x=1",
        content_type="application/x-www-form-urlencoded",
    )
    assert paused.status_code == 200 and paused.json()["ignored"] == "paused"
    # The hook of acme is not reachable through another tenant's host.
    other = client_for(None, "globex.localhost").post(
        f"/hooks/crm/{amo_crm.hook_secret}/",
        data=b"x=1",
        content_type="application/x-www-form-urlencoded",
    )
    assert other.status_code == 404


def test_thresholds_are_highlighted_and_alerted_once(
    amo_crm, admin, owner, settings, django_capture_on_commit_callbacks
):
    settings.PRM_JOBS_INLINE = True  # the alert e-mail is a job after commit
    CrmSyncLog.objects.create(
        tenant=amo_crm.tenant,
        connection=amo_crm,
        kind="push",
        records=100,
        failed=6,
        api_calls=100,
        api_errors=2,
    )
    health = connection_health(amo_crm)
    assert health.failure_rate == pytest.approx(0.06)
    assert set(health.crossed) == {"failure_rate", "api_error_rate"}
    with django_capture_on_commit_callbacks(execute=True):
        assert check_alerts(amo_crm) == ["failure_rate", "api_error_rate"]
    # One e-mail to each member who manages CRM connections.
    assert sorted(a for m in mail.outbox for a in m.to) == sorted([admin.email, owner.email])
    with django_capture_on_commit_callbacks(execute=True):
        assert check_alerts(amo_crm) == []  # still crossed: no second e-mail
    assert len(mail.outbox) == 2


def test_queue_depth_and_latency_thresholds(amo_crm, program):
    old = timezone.now() - timedelta(minutes=20)
    leads = Lead.objects.bulk_create(
        [
            Lead(tenant=amo_crm.tenant, program=program, source="console", email=f"q{i}@x.com")
            for i in range(1001)
        ]
    )
    CrmOutbox.objects.bulk_create(
        [
            CrmOutbox(
                tenant=amo_crm.tenant,
                connection=amo_crm,
                lead=lead,
                next_attempt_at=old,
                changed_at=old,
            )
            for lead in leads
        ]
    )
    health = connection_health(amo_crm)
    assert health.queue_depth == 1001
    assert health.latency_seconds > 15 * 60
    assert {"queue_depth", "latency_seconds"} <= set(health.crossed)


def test_conflict_resolved_by_hand_either_way(
    amo_crm, amo, program, alice, admin, run_crm_jobs, django_capture_on_commit_callbacks
):
    lead = new_lead(django_capture_on_commit_callbacks, program, alice, email="a@example.com")
    run_crm_jobs()
    keep_crm = CrmConflict.objects.create(
        tenant=amo_crm.tenant,
        connection=amo_crm,
        lead=lead,
        prm_field="email",
        prm_value="a@example.com",
        crm_value="b@example.com",
    )
    conflict_resolve(keep_crm, keep="crm", actor=admin)
    lead.refresh_from_db()
    assert lead.email == "b@example.com"
    keep_prm = CrmConflict.objects.create(
        tenant=amo_crm.tenant,
        connection=amo_crm,
        lead=lead,
        prm_field="email",
        prm_value="b@example.com",
        crm_value="c@example.com",
    )
    amo.update_record(crm_id_of(amo_crm, lead), email="c@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        conflict_resolve(keep_prm, keep="prm", actor=admin)
    run_crm_jobs()
    # Keeping ours writes it to the CRM even though the CRM is the e-mail's master.
    assert record(amo, crm_id_of(amo_crm, lead))["email"] == "b@example.com"
    assert set(CrmConflict.objects.values_list("state", flat=True)) == {"kept_crm", "kept_prm"}


def test_management_commands(in_acme, amo, program, enrollment, alice):
    acme = in_acme
    config = amo.connection_config()
    out = StringIO()
    args = [
        "--tenant",
        "acme",
        "--provider",
        "amocrm",
        "--auth-kind",
        config["auth_kind"],
        "--base-url",
        config["base_url"],
        "--program",
        "Pro plan",
    ]
    for key, value in config["credentials"].items():
        args += ["--credential", f"{key}={value}"]
    for key, value in config.get("settings", {}).items():
        args += ["--setting", f"{key}={value}"]
    args.append("--subscribe")
    call_command("crm_connect", *args, stdout=out)
    result = json.loads(out.getvalue())
    assert result["ok"] is True and result["provider"] == "amocrm"
    assert result["subscribed"] is True
    assert result["event_url"].endswith(f"/hooks/crm/{result['hook_secret']}/")

    Lead.objects.create(
        tenant=acme, program=program, partner=alice, source="console", email="cli@example.com"
    )
    out = StringIO()
    call_command("crm_sync", "--tenant", "acme", "--provider", "amocrm", "--full", stdout=out)
    result = json.loads(out.getvalue())
    assert result["pushed"] == 1 and result["outbox"]["done"] == 1
    assert [r["email"] for r in amo.records()] == ["cli@example.com"]

    out = StringIO()
    call_command("crm_sync", "--tenant", "acme", "--provider", "amocrm", "--reconcile", stdout=out)
    assert json.loads(out.getvalue())["status"] == "active"

    out = StringIO()
    call_command("crm_health", "--tenant", "acme", "--provider", "amocrm", stdout=out)
    health = json.loads(out.getvalue())
    assert health["records"] == 1 and health["thresholds"]["queue_depth"] == 1000


def test_an_event_whose_record_cannot_be_read_is_logged_retried_and_reconciled(
    amo_crm, amo, program, alice, run_crm_jobs, client_for, django_capture_on_commit_callbacks
):
    from integrations.crm import schedule
    from prm.models import Job
    from programs.models import Conversion
    from tests.integrations.helpers import deliver

    lead = new_lead(django_capture_on_commit_callbacks, program, alice, email="r@example.com")
    run_crm_jobs()
    crm_id = crm_id_of(amo_crm, lead)
    amo.move(crm_id, "won", "300")
    amo.inject("500", times=1000)
    deliver(amo, amo_crm, crm_id, "status", client_for(None), django_capture_on_commit_callbacks)
    run_crm_jobs()
    failed = CrmSyncLog.objects.get(connection=amo_crm, kind="event")
    assert failed.failed == 1 and "500" in failed.message
    assert Job.objects.get(func="integrations.crm.event_queue.drain").status == "failed"
    assert not Conversion.objects.filter(lead=lead).exists()
    amo.inject("500", times=0)
    with django_capture_on_commit_callbacks(execute=True):
        schedule.tick()
    run_crm_jobs()
    assert Conversion.objects.get(lead=lead).amount == 300
