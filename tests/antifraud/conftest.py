from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.antifraud.helpers import make_world
from tests.antifraud.world import registered


@pytest.fixture(autouse=True)
def test_signals() -> Iterator[None]:
    """The console tests' own signals (tests.antifraud.world), beside the real ones."""
    yield from registered()


@pytest.fixture
def world(in_acme):  # type: ignore[no-untyped-def]
    return make_world(in_acme)


@pytest.fixture
def program(world):  # type: ignore[no-untyped-def]
    return world[0]


@pytest.fixture
def alice(world):  # type: ignore[no-untyped-def]
    return world[1]
