"""The CRM status page shows the event URL the CRM actually holds (recorded when we
subscribed) and warns when it differs from the URL we would register now, e.g. after
`PORT=... make run` moved the platform; subscribing again fixes it. Against the fake
amoCRM over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from integrations.models import CrmConnection
from integrations.services.connections import connection_save
from prm.models import Tenant, User
from prm.tenancy import tenant_scope
from tests.fakes.amocrm import FakeAmo


@pytest.fixture
def amo(settings) -> Iterator[FakeAmo]:
    settings.PRM_CRM_RATE_SCALE = 100.0
    server = FakeAmo().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def crm(acme: Tenant, amo: FakeAmo) -> CrmConnection:
    config = amo.connection_config()
    with tenant_scope(acme):
        return connection_save(
            tenant=acme,
            provider="amocrm",
            auth_kind=config["auth_kind"],
            base_url=config["base_url"],
            credentials=config["credentials"],
            settings=config["settings"],
        )


def _page(client: Client) -> str:
    response = client.get("/manage/integrations/amocrm/")
    assert response.status_code == 200
    return response.content.decode()


def _held(amo: FakeAmo) -> list[str]:
    return [hook["destination"] for hook in amo.world.webhooks]


def test_the_page_shows_the_held_url_and_warns_when_the_port_moved(
    settings, acme, owner: User, amo: FakeAmo, crm: CrmConnection
) -> None:
    settings.PRM_PUBLIC_PORT = "8000"
    url_8000 = f"http://acme.localhost:8000/hooks/crm/{crm.hook_secret}/"
    client = Client(HTTP_HOST="acme.localhost:8000")
    client.force_login(owner)
    assert 'id="hook-held"' not in _page(client)  # not subscribed yet

    response = client.post("/manage/integrations/amocrm/do/subscribe/")
    assert response.status_code == 302
    assert _held(amo) == [url_8000]
    crm.refresh_from_db()
    assert (crm.events_subscribed, crm.events_url) == (True, url_8000)
    page = _page(client)
    assert f'<code id="hook-held">{url_8000}</code>' in page
    assert 'id="hook-stale"' not in page

    # The platform now runs on another port (PORT=8101 make run): amo still holds 8000.
    settings.PRM_PUBLIC_PORT = "8101"
    url_8101 = url_8000.replace(":8000", ":8101")
    client = Client(HTTP_HOST="acme.localhost:8101")
    client.force_login(owner)
    page = _page(client)
    assert f'<code id="hook-url">{url_8101}</code>' in page
    assert f'<code id="hook-held">{url_8000}</code>' in page
    assert 'id="hook-stale"' in page
    assert "Subscribe again" in page

    client.post("/manage/integrations/amocrm/do/subscribe/")
    assert url_8101 in _held(amo)
    page = _page(client)
    assert f'<code id="hook-held">{url_8101}</code>' in page
    assert 'id="hook-stale"' not in page


def test_a_subscription_with_no_recorded_url_is_flagged(
    acme, owner: User, crm: CrmConnection
) -> None:
    # Subscribed before the URL was recorded: what amo holds is unknown.
    CrmConnection.all_tenants_unscoped.filter(pk=crm.pk).update(events_subscribed=True)
    client = Client(HTTP_HOST="acme.localhost")
    client.force_login(owner)
    page = _page(client)
    assert 'id="hook-stale"' in page
    assert "not recorded" in page


def test_crm_connect_subscribes_the_configured_url_and_records_it(
    settings, acme, amo: FakeAmo
) -> None:
    settings.PRM_PUBLIC_PORT = "8101"
    out = StringIO()
    call_command(
        "crm_connect",
        "--tenant=acme",
        "--provider=amocrm",
        "--auth-kind=token",
        f"--base-url={amo.base_url}",
        f"--credential=access_token={amo.token}",
        "--subscribe",
        stdout=out,
    )
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    crm = CrmConnection.all_tenants_unscoped.get(tenant=acme)
    expected = f"http://acme.localhost:8101/hooks/crm/{crm.hook_secret}/"
    assert result["event_url"] == expected
    assert _held(amo) == [expected]
    assert crm.events_url == expected


def test_the_page_shows_token_expiry_last_refresh_and_the_rate_against_the_bound(
    acme, owner: User, amo: FakeAmo, crm: CrmConnection
) -> None:
    client = Client(HTTP_HOST="acme.localhost")
    client.force_login(owner)
    page = _page(client)
    assert 'id="crm-token-expires"' in page and " UTC" in page  # amo tokens carry expires_at
    assert 'id="crm-token-refreshed"' in page
    assert "25200" in page  # 7 requests/s for an hour
