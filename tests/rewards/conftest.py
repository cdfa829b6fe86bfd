"""The fake PayPal Payouts server (tests/fakes/paypal.py), one per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.paypal import FakePayPal


@pytest.fixture
def paypal_fake() -> Iterator[FakePayPal]:
    fake = FakePayPal().start()
    try:
        yield fake
    finally:
        fake.stop()
