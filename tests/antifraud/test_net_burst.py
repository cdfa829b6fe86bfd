from __future__ import annotations

from tests.antifraud.helpers import codes, lead


def test_it_fires_on_ten_leads_from_one_slash_24(in_acme, program, alice):
    in_acme.click_ip_mode = "hash"  # each address distinct: only the network repeats
    in_acme.save()
    leads = [lead(program, alice, ip=f"203.0.113.{i}", ua=f"UA {i}") for i in range(10)]
    found = codes(leads[-1])
    assert "net_burst" in found
    assert "ip_burst" not in found


def test_it_does_not_fire_across_networks(in_acme, program, alice):
    in_acme.click_ip_mode = "hash"
    in_acme.save()
    leads = [lead(program, alice, ip=f"203.0.{i}.1", ua=f"UA {i}") for i in range(10)]
    assert "net_burst" not in codes(leads[-1])


def test_ipv6_networks_are_slash_64(in_acme, program, alice):
    leads = [lead(program, alice, ip=f"2001:db8:1:2::{i}", ua=f"UA {i}") for i in range(10)]
    assert leads[0].net == "2001:db8:1:2::/64"
    assert "net_burst" in codes(leads[-1])
