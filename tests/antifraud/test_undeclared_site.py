from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tests.antifraud.helpers import click, codes, lead

EARLIER = timedelta(minutes=5)


def test_it_fires_on_a_referrer_outside_the_declared_sites(program, alice):
    program.require_declared_sites = True
    program.save()
    alice.websites = ["alice-reviews.example"]
    alice.save()
    click(
        program,
        alice,
        visitor="elsewhere-01",
        referrer="https://coupons.example/x",
        at=timezone.now() - EARLIER,
    )
    assert "undeclared_site" in codes(lead(program, alice, visitor="elsewhere-01"))


def test_a_declared_site_or_its_subdomain_passes(program, alice):
    program.require_declared_sites = True
    program.save()
    alice.websites = ["https://www.alice-reviews.example/"]
    alice.save()
    click(
        program,
        alice,
        visitor="declared-01",
        referrer="https://blog.alice-reviews.example/p",
        at=timezone.now() - EARLIER,
    )
    assert "undeclared_site" not in codes(lead(program, alice, visitor="declared-01"))
