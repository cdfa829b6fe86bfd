"""A fake Salesforce org over real HTTP and connectors pointed at it. Nothing here needs
the database: the connector only talks HTTP (and Redis, for the shared throttle)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from integrations.crm.base import Credentials, CrmRecord
from integrations.crm.salesforce.sync import SalesforceConnector
from tests.fakes.salesforce import FakeSalesforce


@pytest.fixture
def sf() -> Iterator[FakeSalesforce]:
    server = FakeSalesforce().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def saved() -> list[dict[str, Any]]:
    """Every credentials dict the connector asked to persist (after a refresh)."""
    return []


@pytest.fixture
def make_connector(
    sf: FakeSalesforce, saved: list[dict[str, Any]]
) -> Iterator[Callable[..., SalesforceConnector]]:
    made: list[SalesforceConnector] = []

    def make(fake: FakeSalesforce | None = None, **settings: Any) -> SalesforceConnector:
        config = (fake or sf).connection_config()
        connector = SalesforceConnector(
            base_url=config["base_url"],
            auth_url=config["auth_url"],
            auth_kind=config["auth_kind"],
            credentials=Credentials(dict(config["credentials"]), saved.append),
            settings={**config["settings"], **settings},
            throttle_key=f"test-{uuid.uuid4()}",
        )
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()


@pytest.fixture
def connector(make_connector: Callable[..., SalesforceConnector]) -> SalesforceConnector:
    return make_connector()


def lead(n: int | str = 1, **kwargs: Any) -> CrmRecord:
    """A PRM lead as the engine hands it over (values by CRM field key)."""
    key = kwargs.pop("key", None) or str(uuid.uuid4())
    email = kwargs.pop("email", f"lead{n}@example.com")
    phone = kwargs.pop("phone", "")
    values = {"name": f"Lead Number{n}", "email": email, "phone": phone, "company": "ACME"}
    values |= {"PRM_Lead_Id__c": key, "PRM_Partner__c": "Alice Agency"}
    values |= kwargs.pop("values", {})
    return CrmRecord(key=key, title=f"Lead {n}", email=email, phone=phone, values=values, **kwargs)
