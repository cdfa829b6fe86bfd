from __future__ import annotations

from antifraud.models import BlockEntry
from tests.antifraud.helpers import codes, lead


def block(tenant, kind, value):  # type: ignore[no-untyped-def]
    BlockEntry.objects.create(tenant=tenant, kind=kind, value=value)


def test_it_fires_on_a_blocked_network_email_domain_and_partner(in_acme, program, alice):
    block(in_acme, "ip", "203.0.113.0/24")
    block(in_acme, "email", "fraud@example.com")
    block(in_acme, "domain", "spam.example")
    assert "blocklist" in codes(lead(program, None, ip="203.0.113.9", email="a@example.com"))
    assert "blocklist" in codes(lead(program, None, email="Fraud+1@example.com"))
    assert "blocklist" in codes(lead(program, None, email="x@mail.spam.example"))
    block(in_acme, "partner", str(alice.pk))
    assert "blocklist" in codes(lead(program, alice, email="z@example.com"))


def test_near_misses_do_not_match(in_acme, program, alice):
    block(in_acme, "ip", "203.0.113.0/24")
    block(in_acme, "domain", "spam.example")
    assert "blocklist" not in codes(
        lead(program, alice, ip="203.0.114.9", email="a@notspam.example")
    )


def test_under_hashed_ips_a_single_blocked_address_still_matches(in_acme, program, alice):
    in_acme.click_ip_mode = "hash"
    in_acme.save()
    block(in_acme, "ip", "203.0.113.9")
    assert "blocklist" in codes(lead(program, None, ip="203.0.113.9"))
    assert "blocklist" not in codes(lead(program, None, ip="203.0.113.10"))
