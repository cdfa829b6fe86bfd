"""A fake HubSpot portal over real HTTP and connectors pointed at it. Nothing here needs
the database: the connector only talks HTTP (and Redis, for the shared throttle)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from integrations.crm.base import Credentials
from integrations.crm.hubspot.sync import HubSpotConnector
from tests.fakes.hubspot import FakeHubSpot


@pytest.fixture
def hs() -> Iterator[FakeHubSpot]:
    server = FakeHubSpot().start()
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
    hs: FakeHubSpot, saved: list[dict[str, Any]]
) -> Iterator[Callable[..., HubSpotConnector]]:
    made: list[HubSpotConnector] = []

    def make(fake: FakeHubSpot | None = None, **settings: Any) -> HubSpotConnector:
        config = (fake or hs).connection_config()
        connector = HubSpotConnector(
            base_url=config["base_url"],
            auth_url=config["auth_url"],
            auth_kind=config["auth_kind"],
            credentials=Credentials(dict(config["credentials"]), saved.append),
            settings={"portal_id": "24681357", **config["settings"], **settings},
            throttle_key=f"test-{uuid.uuid4()}",
        )
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()


@pytest.fixture
def connector(make_connector: Callable[..., HubSpotConnector]) -> HubSpotConnector:
    return make_connector()
