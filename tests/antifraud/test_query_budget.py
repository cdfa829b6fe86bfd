"""Scoring one lead or one conversion takes a fixed number of queries, whatever the
size of the tenant (the signals are set-based look-ups, never scans in Python)."""

from __future__ import annotations

from datetime import timedelta

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from antifraud.config import settings_for
from antifraud.services.fingerprints import record_sign_in
from antifraud.services.scoring import score_conversions, score_leads
from tests.antifraud.helpers import click, lead, sale
from tests.rewards.helpers import make_partner

BUDGET = 30


def grow(program, partner, n):  # type: ignore[no-untyped-def]
    now = timezone.now()
    for i in range(n):
        lead(program, partner, ip=f"198.51.{i % 200}.{i % 250}", visitor=f"grow-{i:08d}")
        sale(program, partner, ip=f"198.51.{i % 200}.{i % 250}", at=now - timedelta(hours=i))
        click(program, partner, visitor=f"grow-{i:08d}", at=now - timedelta(minutes=i))


def measure(program, alice, n):  # type: ignore[no-untyped-def]
    cache.clear()
    ip = f"203.0.{100 + n}.5"  # nothing ties the two measurements together
    new_lead = lead(program, alice, ip=ip, visitor=f"measure-{n:04d}")
    new_sale = sale(program, alice, ip=ip, visitor=f"measure-{n:04d}")
    with CaptureQueriesContext(connection) as lead_queries:
        score_leads([new_lead.pk])
    with CaptureQueriesContext(connection) as sale_queries:
        score_conversions([new_sale.pk])
    return len(lead_queries), len(sale_queries)


def test_scoring_one_lead_and_one_conversion_costs_the_same_in_a_larger_tenant(
    in_acme, program, alice
):
    settings_for(in_acme)
    record_sign_in(alice, ip="192.0.2.1", user_agent="x")
    now = timezone.now()
    for i in range(60):  # enough clicks for the conversion-rate comparison to run
        click(program, alice, visitor=f"alice-{i:08d}", at=now - timedelta(hours=i + 1))
    small = measure(program, alice, 1)
    # Ten times the rows around her: other partners' leads, sales and clicks.
    grow(program, make_partner(in_acme, program, "BOB"), 300)
    large = measure(program, alice, 2)
    assert small == large, (small, large)
    assert max(large) <= BUDGET, large
