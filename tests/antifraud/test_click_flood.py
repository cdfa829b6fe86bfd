from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tests.antifraud.helpers import click, codes, lead


def test_it_fires_when_one_visitor_clicked_twenty_times_in_the_hour(program, alice):
    now = timezone.now()
    for i in range(20):
        click(program, alice, visitor="flooder-0001", at=now - timedelta(minutes=i + 1))
    assert "click_flood" in codes(lead(program, alice, visitor="flooder-0001"))


def test_it_fires_when_one_ip_clicked_a_hundred_times(program, alice):
    now = timezone.now()
    for i in range(100):
        click(
            program, alice, visitor=f"v-{i:08d}", ip="192.0.2.0", at=now - timedelta(seconds=i + 5)
        )
    assert "click_flood" in codes(lead(program, alice, visitor="v-00000000"))


def test_a_few_clicks_are_a_person(program, alice):
    now = timezone.now()
    for i in range(5):
        click(program, alice, visitor="reader-0001", at=now - timedelta(minutes=i + 1))
    assert "click_flood" not in codes(lead(program, alice, visitor="reader-0001"))
