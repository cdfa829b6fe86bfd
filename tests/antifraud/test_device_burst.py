from __future__ import annotations

from tests.antifraud.helpers import UA, codes, lead


def test_it_fires_on_three_leads_from_one_address_and_browser(program, alice):
    leads = [lead(program, alice, ip="203.0.113.7", ua=UA) for _ in range(3)]
    assert len({x.device for x in leads}) == 1
    assert "device_burst" in codes(leads[-1])


def test_another_browser_on_the_same_address_is_another_device(program, alice):
    leads = [lead(program, alice, ip="203.0.113.7", ua=f"{UA} {i}") for i in range(3)]
    assert "device_burst" not in codes(leads[-1])
