from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from programs.services.clicks import paid_click_id
from tests.antifraud.helpers import click, codes, lead

EARLIER = timedelta(minutes=5)


@pytest.mark.parametrize("param", ["gclid", "yclid", "fbclid", "msclkid"])
def test_the_click_keeps_which_ad_network_it_came_from(param):
    assert paid_click_id(f"https://shop.example.com/?utm=x&{param}=abc") == param
    assert paid_click_id("https://shop.example.com/?clid=1&q=gclid") == ""


def test_it_fires_on_an_ad_click_when_the_program_forbids_paid_search(program, alice):
    program.forbid_paid_search = True
    program.save()
    url = "https://shop.example.com/?gclid=Cj0KCQ"
    click(program, alice, visitor="ad-click-01", url=url, at=timezone.now() - EARLIER)
    assert "paid_search" in codes(lead(program, alice, visitor="ad-click-01"))


def test_it_does_not_fire_on_organic_clicks_or_where_ads_are_allowed(program, alice):
    url = "https://shop.example.com/?gclid=Cj0KCQ"
    click(program, alice, visitor="ad-click-02", url=url, at=timezone.now() - EARLIER)
    assert "paid_search" not in codes(lead(program, alice, visitor="ad-click-02"))
    program.forbid_paid_search = True
    program.save()
    click(program, alice, visitor="organic-001", at=timezone.now() - EARLIER)
    assert "paid_search" not in codes(lead(program, alice, visitor="organic-001"))
