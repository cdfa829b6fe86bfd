from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tests.antifraud.helpers import click, codes, lead


def test_it_fires_when_the_lead_follows_the_click_within_a_second(program, alice):
    click(program, alice, visitor="stuffed-0001", at=timezone.now() - timedelta(seconds=0.5))
    assert "fast_click" in codes(lead(program, alice, visitor="stuffed-0001"))


def test_a_minute_is_a_person_reading(program, alice):
    click(program, alice, visitor="reader-0001", at=timezone.now() - timedelta(minutes=1))
    assert "fast_click" not in codes(lead(program, alice, visitor="reader-0001"))
