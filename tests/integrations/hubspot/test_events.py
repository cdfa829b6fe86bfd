"""HubSpot app webhooks at our event URL: a delivery signed (v3) with the app's secret
for the connected portal starts a re-read of the deal; a forged signature, a replayed
one, or a delivery for another portal is refused and changes nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from integrations.services.connections import event_url
from programs.models import Conversion
from tests.fakes.hubspot import FakeHubSpot, signature_v3
from tests.integrations.helpers import crm_id_of, new_lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    server = FakeHubSpot().start()
    try:
        yield server
    finally:
        server.stop()


def _post(client, crm, body: bytes, *, secret: str, at_ms: int | None = None):  # type: ignore[no-untyped-def]
    url = event_url(crm)
    stamp = str(at_ms or int(time.time() * 1000))
    return client.post(
        f"/hooks/crm/{crm.hook_secret}/",
        data=body,
        content_type="application/json",
        HTTP_X_HUBSPOT_SIGNATURE_V3=signature_v3(secret, "POST", url, body, stamp),
        HTTP_X_HUBSPOT_REQUEST_TIMESTAMP=stamp,
    )


def test_signed_deal_event_records_the_win_and_forgeries_are_refused(
    crm, fake, alice, program, client_for, run_crm_jobs, django_capture_on_commit_callbacks
):
    lead = new_lead(django_capture_on_commit_callbacks, program, alice, email="hook@example.com")
    run_crm_jobs()
    crm_id = crm_id_of(crm, lead)
    fake.move(crm_id, "won", "2000")
    body = fake.webhook_events(crm_id, "status")
    client = client_for(None)

    forged = _post(client, crm, body, secret="not-the-app-secret")
    old = _post(client, crm, body, secret=fake.client_secret, at_ms=1_700_000_000_000)
    events = json.loads(body)
    events[0]["portalId"] = 1  # another portal the same app is installed in
    other = _post(client, crm, json.dumps(events).encode(), secret=fake.client_secret)
    assert [r.status_code for r in (forged, old, other)] == [403, 403, 403]
    run_crm_jobs()
    assert not Conversion.objects.filter(lead=lead).exists()

    with django_capture_on_commit_callbacks(execute=True):
        good = _post(client, crm, body, secret=fake.client_secret)
    assert good.status_code == 200 and good.json()["records"] == 1
    run_crm_jobs()
    assert Conversion.objects.get(lead=lead).amount == Decimal("2000.00")


def test_a_signed_contact_event_brings_the_contacts_edit_to_its_lead(
    crm, fake, alice, program, client_for, run_crm_jobs, django_capture_on_commit_callbacks
):
    """A contact edit does not touch its deal: the contact's own event is followed to
    the deals it is on (no waiting for the next poll)."""
    from programs.models import Lead

    lead = new_lead(django_capture_on_commit_callbacks, program, alice, email="who@example.com")
    run_crm_jobs()
    contact_id = fake.update_contact(crm_id_of(crm, lead), phone="+1 202 555 0147")
    body = fake.contact_webhook_events(contact_id, "phone")
    with django_capture_on_commit_callbacks(execute=True):
        answer = _post(client_for(None), crm, body, secret=fake.client_secret)
    assert answer.status_code == 200 and answer.json()["records"] == 1
    run_crm_jobs()
    assert Lead.objects.get(pk=lead.pk).phone.replace(" ", "").endswith("2025550147")
