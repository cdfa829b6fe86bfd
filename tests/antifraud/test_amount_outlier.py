from __future__ import annotations

from django.core.cache import cache

from antifraud.signals.amount_outlier import percentile
from tests.antifraud.helpers import D, codes, sale


def test_the_percentile_interpolates_as_postgresql_does():
    assert percentile([D(x) for x in range(1, 101)], 0.95) == D("95.05")


def test_it_fires_above_ten_times_the_programs_95th_percentile(program, alice):
    for i in range(20):
        sale(program, None, str(100 + i))
    cache.clear()
    assert "amount_outlier" in codes(sale(program, alice, "1200.00"))


def test_nine_times_is_still_usual_and_a_new_program_has_no_usual(program, alice):
    assert "amount_outlier" not in codes(sale(program, alice, "5000.00"))  # no history
    for i in range(20):
        sale(program, None, str(100 + i))
    cache.clear()
    assert "amount_outlier" not in codes(sale(program, alice, "1000.00"))
