"""A CRM address that is blocked (private) or does not resolve is a clear answer on
every path that calls the CRM from the console: the connect form (an error on the
field, nothing saved), the "Test connection" button and the OAuth callback (a message
on the status page). Never a 500. Run with PRM_HTTP_ALLOW_PRIVATE off, as production."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages

from integrations.models import CrmConnection
from integrations.services.connections import connection_save
from tests.integrations.conftest import FAKES, connect

pytestmark = pytest.mark.django_db

BLOCKED = "https://127.0.0.1:9"
UNRESOLVABLE = "https://crm.invalid"
ADDRESSES = {"blocked": BLOCKED, "unresolvable": UNRESOLVABLE}
SAYS = {"blocked": "private or reserved address", "unresolvable": "cannot be found"}


def form_data(provider: str, url: str) -> dict[str, str]:
    """A connect form that is valid in every way but its address."""
    if provider == "amocrm":
        return {"auth_kind": "token", "base_url": url, "token": "t0ken", "currency": "RUB"}
    if provider == "bitrix24":
        return {
            "auth_kind": "oauth",
            "base_url": f"{url}/rest",
            "auth_url": url,
            "client_id": "app.1",
            "client_secret": "s3cret",
            "entity": "lead",
            "currency": "RUB",
        }
    return {
        "auth_kind": "oauth",
        "auth_url": url,
        "base_url": "",
        "client_id": "3MVG9key",
        "client_secret": "s3cret",
        "api_version": "v62.0",
        "key_field": "PRM_Lead_Id__c",
        "api_reserve": "0.05",
    }


@pytest.fixture
def production(settings: Any) -> None:
    settings.PRM_HTTP_ALLOW_PRIVATE = False


def _messages(response: Any) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


@pytest.mark.parametrize("kind", list(ADDRESSES))
@pytest.mark.parametrize("provider", list(FAKES))
def test_the_connect_form_says_the_address_cannot_be_called(
    client_for, admin, in_acme, production, provider, kind
):
    response = client_for(admin).post(
        f"/manage/integrations/{provider}/connect/", form_data(provider, ADDRESSES[kind])
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert SAYS[kind] in str(form.errors), form.errors
    assert not CrmConnection.objects.exists()


@pytest.mark.parametrize("kind", list(ADDRESSES))
def test_the_test_button_reports_the_address(client_for, admin, in_acme, fake, settings, kind):
    crm = connect(in_acme, fake)  # reachable while private addresses are allowed
    settings.PRM_HTTP_ALLOW_PRIVATE = False
    if kind == "unresolvable":
        # Every address the connection holds, the Bitrix24 webhook URL included.
        creds = crm.credentials
        if creds.get("webhook_url"):
            creds["webhook_url"] = creds["webhook_url"].replace(crm.base_url, UNRESOLVABLE)
        crm.set_credentials(creds)
        crm.base_url = crm.auth_url = UNRESOLVABLE
        crm.save()
    response = client_for(admin).post(f"/manage/integrations/{fake.provider}/do/test/")
    assert response.status_code == 302
    said = _messages(response)
    assert "The CRM refused the connection" in said
    assert ("non-public address" if kind == "blocked" else "cannot resolve") in said
    page = client_for(admin).get(f"/manage/integrations/{fake.provider}/")
    assert page.status_code == 200


@pytest.mark.parametrize("kind", list(ADDRESSES))
@pytest.mark.parametrize("provider", list(FAKES))
def test_the_oauth_callback_reports_the_address(
    client_for, admin, in_acme, production, provider, kind
):
    url = ADDRESSES[kind]
    connection_save(
        tenant=in_acme,
        provider=provider,
        auth_kind="oauth",
        base_url=url,
        auth_url=url,
        credentials={"client_id": "app", "client_secret": "s3cret"},
    )
    client = client_for(admin)
    session = client.client.session
    session[f"crm_oauth_{provider}"] = "st4te"
    session.save()
    response = client.get(f"/manage/integrations/{provider}/oauth/callback/?code=c0de&state=st4te")
    assert response.status_code == 302
    said = _messages(response)
    assert "The CRM refused the authorization code" in said
    assert ("non-public address" if kind == "blocked" else "cannot resolve") in said
    crm = CrmConnection.objects.get(provider=provider)
    assert "access_token" not in crm.credentials
