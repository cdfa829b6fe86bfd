from __future__ import annotations

from tests.antifraud.helpers import codes, lead


def test_it_fires_on_a_listed_domain_and_its_subdomains(program, alice):
    assert "disposable_email" in codes(lead(program, alice, email="x@mailinator.com"))
    assert "disposable_email" in codes(lead(program, alice, email="y@eu.mailinator.com"))


def test_it_does_not_fire_on_an_ordinary_mailbox(program, alice):
    assert "disposable_email" not in codes(lead(program, alice, email="x@gmail.com"))
