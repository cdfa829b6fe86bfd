"""SECRET_KEY changed without PRM_ENCRYPTION_KEY: the stored CRM credentials no longer
decrypt. Every page answers, says what happened and how to fix it; the connection is
shown broken, jobs and events end cleanly with that reason; entering the credentials
again reconnects. Also the startup check that warns before it happens."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core.checks import run_checks

from integrations.crm import engine, inbound
from integrations.models import CrmConnection, CrmSyncLog
from integrations.services.connections import connection_save, connection_test
from tests.integrations.conftest import connect

pytestmark = pytest.mark.django_db

SAYS = "can no longer be read: the encryption key changed"
PAGES = ["", "connect/", "fields/", "stages/", "conflicts/", "dead-letters/"]


@pytest.fixture
def rekeyed(in_acme, fake, settings) -> CrmConnection:  # type: ignore[no-untyped-def]
    crm = connect(in_acme, fake)
    settings.SECRET_KEY = "a-new-secret-key-" + "n" * 48
    return crm


def _said(response: Any) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def test_every_page_answers_and_says_why(client_for, admin, fake, rekeyed):
    client = client_for(admin)
    assert client.get("/manage/integrations/").status_code == 200
    for page in PAGES:
        response = client.get(f"/manage/integrations/{fake.provider}/{page}")
        assert response.status_code == 200, page
    for page in ("", "connect/"):
        response = client.get(f"/manage/integrations/{fake.provider}/{page}")
        assert SAYS in response.content.decode(), page


def test_the_test_button_marks_the_connection_for_reconnection(client_for, admin, fake, rekeyed):
    response = client_for(admin).post(f"/manage/integrations/{fake.provider}/do/test/")
    assert response.status_code == 302 and SAYS in _said(response)
    rekeyed.refresh_from_db()
    assert rekeyed.status == CrmConnection.Status.BROKEN and SAYS in rekeyed.status_reason
    for action in ("subscribe", "push_all", "reconcile"):
        response = client_for(admin).post(f"/manage/integrations/{fake.provider}/do/{action}/")
        assert response.status_code == 302, action


def test_oauth_start_and_callback_send_back_to_the_form(client_for, admin, fake, rekeyed):
    client = client_for(admin)
    start = client.get(f"/manage/integrations/{fake.provider}/oauth/start/")
    assert start.status_code == 302 and start["Location"].endswith("/connect/")
    session = client.client.session
    session[f"crm_oauth_{fake.provider}"] = "st4te"
    session.save()
    back = client.get(f"/manage/integrations/{fake.provider}/oauth/callback/?code=c&state=st4te")
    assert back.status_code == 302 and SAYS in _said(back)


def test_jobs_and_events_end_with_the_reason_not_a_traceback(client_for, fake, rekeyed):
    assert engine.push_connection(str(rekeyed.pk)) == 0
    rekeyed.refresh_from_db()
    assert rekeyed.status == CrmConnection.Status.BROKEN and SAYS in rekeyed.status_reason
    log = CrmSyncLog.objects.filter(connection=rekeyed, kind=CrmSyncLog.Kind.AUTH).first()
    assert log is not None and SAYS in log.message

    CrmConnection.objects.filter(pk=rekeyed.pk).update(status=CrmConnection.Status.ACTIVE)
    assert inbound.poll(str(rekeyed.pk)) == 0
    rekeyed.refresh_from_db()
    assert rekeyed.status == CrmConnection.Status.BROKEN

    CrmConnection.objects.filter(pk=rekeyed.pk).update(status=CrmConnection.Status.ACTIVE)
    event = fake.event_body(fake.create_record("Deal", email="d@example.com"), "update")
    if event is not None:
        content_type, body = event
        response = client_for(None).post(
            f"/hooks/crm/{rekeyed.hook_secret}/", data=body, content_type=content_type
        )
        assert response.status_code == 200 and response.json()["ignored"] == "broken"


def test_entering_the_credentials_again_reconnects(fake, rekeyed):
    config = fake.connection_config()
    crm = connection_save(
        tenant=rekeyed.tenant,
        provider=fake.provider,
        auth_kind=config["auth_kind"],
        base_url=config["base_url"],
        auth_url=config.get("auth_url", ""),
        credentials=config["credentials"],
    )
    assert crm.credentials_readable
    ok, message = connection_test(crm)
    assert ok, message


@pytest.mark.parametrize(
    ("debug", "key", "warned"),
    [(False, "", True), (False, "k" * 43 + "=", False), (True, "", False)],
)
def test_startup_warns_when_production_has_no_encryption_key(
    settings, monkeypatch, debug, key, warned
):
    settings.DEBUG = debug
    monkeypatch.setenv("PRM_ENCRYPTION_KEY", key)
    ids = [m.id for m in run_checks()]
    assert ("prm.W001" in ids) is warned
