"""The console's OAuth round trip, as an admin goes through it: save the connected
app's key and secret, be sent to the CRM's consent page, come back with a code, and
find the connection active (tokens stored encrypted, instance URL learned)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from integrations.models import CrmConnection
from tests.integrations.conftest import make_fake

pytestmark = pytest.mark.django_db


@pytest.fixture
def sf() -> Iterator[Any]:
    server = make_fake("salesforce").start()
    try:
        yield server
    finally:
        server.stop()


def test_salesforce_oauth_through_the_console(client_for, admin, in_acme, sf):
    client = client_for(admin)
    form = {
        "auth_kind": "oauth",
        "auth_url": sf.url,
        "base_url": "",
        "client_id": sf.client_id,
        "client_secret": sf.client_secret,
        "api_version": "v62.0",
        "key_field": "PRM_Lead_Id__c",
        "api_reserve": "0.05",
    }
    saved = client.post("/manage/integrations/salesforce/connect/", form)
    assert saved.status_code == 302
    # Back on the form, which now links to the consent page (a form may not redirect
    # to another host under our Content-Security-Policy).
    page = client.get(saved["Location"]).content.decode()
    assert "/manage/integrations/salesforce/oauth/start/" in page

    start = client.get("/manage/integrations/salesforce/oauth/start/")
    assert start.status_code == 302 and start["Location"].startswith(sf.url)
    consent = httpx.get(start["Location"])  # the fake's consent page approves at once
    assert consent.status_code == 302
    back = urlsplit(consent.headers["location"])
    assert back.path == "/manage/integrations/salesforce/oauth/callback/"

    done = client.get(f"{back.path}?{back.query}")
    assert done.status_code == 302
    crm = CrmConnection.objects.get(provider="salesforce")
    assert crm.status == CrmConnection.Status.ACTIVE
    assert crm.base_url == sf.url  # the instance_url of the token answer
    assert crm.credentials["refresh_token"] and crm.account_name
    assert sf.client_secret not in crm.secrets_encrypted  # encrypted at rest
    page = client.get("/manage/integrations/salesforce/")
    assert crm.account_name in page.content.decode()

    # A replayed callback (wrong or used state) changes nothing and says why.
    replay = client.get(f"{back.path}?{back.query}")
    assert replay.status_code == 302
    crm.refresh_from_db()
    assert crm.status == CrmConnection.Status.ACTIVE
