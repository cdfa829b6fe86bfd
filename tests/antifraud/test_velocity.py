from __future__ import annotations

from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone

from tests.antifraud.helpers import click, codes, sale


def test_it_fires_on_ten_sales_in_a_day_from_a_partner_who_made_none(program, alice):
    sales = [sale(program, alice) for _ in range(10)]
    assert "velocity" in codes(sales[-1])


def test_it_does_not_fire_at_a_partners_usual_pace(program, alice):
    now = timezone.now()
    for day in range(2, 30):  # three a day for four weeks
        for i in range(3):
            sale(program, alice, at=now - timedelta(days=day, minutes=i))
    sales = [sale(program, alice) for _ in range(10)]
    assert "velocity" not in codes(sales[-1])


def test_it_fires_on_a_conversion_rate_far_above_the_programs(program, alice):
    from tests.rewards.helpers import make_partner

    bob = make_partner(program.tenant, program, "BOB")
    now = timezone.now()
    for i in range(100):
        click(program, bob, visitor=f"bob-{i:08d}", at=now - timedelta(hours=i + 1))
        click(program, alice, visitor=f"alice-{i:08d}", at=now - timedelta(hours=i + 1))
    for i in range(2):
        sale(program, bob, at=now - timedelta(days=2, hours=i))
    alices = [sale(program, alice, at=now - timedelta(days=3 - i)) for i in range(3)]
    assert "velocity" not in codes(alices[0])  # 1 in 100 is bob's rate too
    alices += [sale(program, alice, at=now - timedelta(days=2, hours=i)) for i in range(9)]
    cache.clear()  # the program's totals are cached for ten minutes
    assert "velocity" in codes(alices[-1])  # 12 in 100 is 6× the program's
