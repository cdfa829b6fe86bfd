"""A fake amoCRM account per test and connectors to it, over real sockets. No database:
connectors never touch it (rotated tokens land in a plain dict here)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from integrations.crm.amocrm.sync import AmoConnector
from integrations.crm.base import Credentials
from tests.fakes.amocrm import FakeAmo


@pytest.fixture(autouse=True)
def _fast_throttle(settings: Any) -> None:
    # The fake's limiter is off unless a test turns it on; so is most of our throttle.
    settings.PRM_CRM_RATE_SCALE = 100.0


@pytest.fixture
def amo() -> Iterator[FakeAmo]:
    server = FakeAmo().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def saved() -> list[dict[str, Any]]:
    """Every credentials dict a connector asked us to store."""
    return []


@pytest.fixture
def connect(amo: FakeAmo, saved: list[dict[str, Any]]) -> Iterator[Callable[..., AmoConnector]]:
    made: list[AmoConnector] = []

    def build(*, test: bool = True, **overrides: Any) -> AmoConnector:
        config = {**amo.connection_config(), **overrides}
        connector = AmoConnector(
            base_url=config["base_url"],
            auth_url=config["auth_url"],
            auth_kind=config["auth_kind"],
            credentials=Credentials(dict(config["credentials"]), saved.append),
            settings=dict(config["settings"]),
            throttle_key=f"test-{uuid.uuid4()}",
        )
        made.append(connector)
        if test:
            connector.test_connection()
        return connector

    yield build
    for connector in made:
        connector.close()
