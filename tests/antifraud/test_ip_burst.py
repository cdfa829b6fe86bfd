from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tests.antifraud.helpers import codes, lead


def test_it_fires_on_five_leads_from_one_ip_within_the_hour(program, alice):
    leads = [lead(program, alice, ip="203.0.113.7", ua=f"UA {i}") for i in range(5)]
    assert "ip_burst" in codes(leads[-1])
    assert "ip_burst" in codes(leads[0])  # the window reaches both ways


def test_it_does_not_fire_on_four_or_when_spread_over_hours(program, alice):
    now = timezone.now()
    spread = [
        lead(program, alice, ip="203.0.113.7", ua=f"UA {i}", at=now - timedelta(hours=2 * i))
        for i in range(5)
    ]
    assert "ip_burst" not in codes(spread[2])
    few = [lead(program, alice, ip="198.51.100.9", ua=f"UA {i}") for i in range(4)]
    assert "ip_burst" not in codes(few[-1])
