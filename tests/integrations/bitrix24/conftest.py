"""A fake Bitrix24 portal per test and connectors pointed at it over real sockets."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from integrations.crm.base import Credentials, CrmRecord
from integrations.crm.bitrix24.sync import BitrixConnector
from tests.fakes.bitrix24 import FakeBitrix


@pytest.fixture
def fake() -> Iterator[FakeBitrix]:
    server = FakeBitrix().start()
    yield server
    server.stop()


@pytest.fixture
def oauth_fake() -> Iterator[FakeBitrix]:
    server = FakeBitrix(auth_kind="oauth").start()
    yield server
    server.stop()


@pytest.fixture
def deal_fake() -> Iterator[FakeBitrix]:
    server = FakeBitrix(entity="deal").start()
    yield server
    server.stop()


Build = Callable[..., BitrixConnector]


@pytest.fixture
def connect() -> Iterator[Build]:
    """connect(fake) -> a connector for the fake's connection; ``saved`` collects what
    the connector asked to persist (rotated tokens)."""
    made: list[BitrixConnector] = []

    def build(
        server: FakeBitrix, saved: list[dict[str, Any]] | None = None, **settings: Any
    ) -> BitrixConnector:
        config = server.connection_config()
        connector = BitrixConnector(
            base_url=config["base_url"],
            auth_url=config["auth_url"],
            auth_kind=config["auth_kind"],
            credentials=Credentials(
                config["credentials"], saved.append if saved is not None else lambda v: None
            ),
            settings={**config["settings"], **settings},
            throttle_key=f"test-{uuid.uuid4()}",
        )
        made.append(connector)
        return connector

    yield build
    for connector in made:
        connector.close()


def lead(n: int, **overrides: Any) -> CrmRecord:
    values = {
        "name": f"Person {n}",
        "company": f"Company {n}",
        "UF_CRM_PRM_PARTNER": "Partner A",
        "UF_CRM_PRM_LEAD_ID": f"lead-{n}",
    }
    values.update(overrides.pop("values", {}))
    return CrmRecord(
        key=f"lead-{n}",
        title=f"Person {n} · Program",
        email=overrides.pop("email", f"person{n}@example.test"),
        phone=overrides.pop("phone", f"+7 900 {n:07d}"),
        values=values,
        **overrides,
    )
