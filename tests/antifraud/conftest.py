from __future__ import annotations

import pytest

from tests.antifraud.helpers import make_world


@pytest.fixture
def world(in_acme):  # type: ignore[no-untyped-def]
    return make_world(in_acme)


@pytest.fixture
def program(world):  # type: ignore[no-untyped-def]
    return world[0]


@pytest.fixture
def alice(world):  # type: ignore[no-untyped-def]
    return world[1]
