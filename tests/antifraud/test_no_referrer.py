from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tests.antifraud.helpers import click, codes, lead

EARLIER = timedelta(minutes=5)


def test_it_fires_on_a_click_without_referrer_when_the_program_requires_one(program, alice):
    program.forbid_no_referrer = True
    program.save()
    click(program, alice, visitor="direct-0001", referrer="", at=timezone.now() - EARLIER)
    assert "no_referrer" in codes(lead(program, alice, visitor="direct-0001"))


def test_it_does_not_fire_with_a_referrer_or_when_the_program_allows_it(program, alice):
    click(program, alice, visitor="direct-0002", referrer="", at=timezone.now() - EARLIER)
    assert "no_referrer" not in codes(lead(program, alice, visitor="direct-0002"))
    program.forbid_no_referrer = True
    program.save()
    click(program, alice, visitor="linked-0001", at=timezone.now() - EARLIER)
    assert "no_referrer" not in codes(lead(program, alice, visitor="linked-0001"))
