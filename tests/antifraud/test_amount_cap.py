from __future__ import annotations

from antifraud.config import settings_for
from rewards.models import ExchangeRate
from tests.antifraud.helpers import D, codes, sale


def test_it_fires_above_the_default_cap_of_a_million_dollars(program, alice):
    assert "amount_cap" in codes(sale(program, alice, "99999999.99"))
    assert "amount_cap" not in codes(sale(program, alice, "999999.00"))


def test_the_tenants_cap_is_converted_through_the_rate_book(in_acme, program, alice):
    from datetime import date

    row = settings_for(in_acme)
    row.amount_cap, row.amount_cap_currency = D("1000"), "EUR"
    row.save()
    ExchangeRate.objects.create(
        tenant=in_acme, base="USD", quote="EUR", rate=D("0.5"), valid_from=date(2020, 1, 1)
    )
    assert "amount_cap" not in codes(sale(program, alice, "1900.00"))  # 950 EUR
    assert "amount_cap" in codes(sale(program, alice, "2100.00"))  # 1050 EUR
