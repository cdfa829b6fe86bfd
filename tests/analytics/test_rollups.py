"""The rollups equal sums of the raw rows, whether kept incrementally or rebuilt."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Q, Sum
from django.utils import timezone

from prm.tenancy import tenant_scope
from programs.analytics.periods import period_of
from programs.analytics.refresh import rollups_rebuild
from programs.analytics.rollup_read import Filters, Rates, active_partners, money_of, totals
from programs.models import (
    ActivityDay,
    ChannelDay,
    Click,
    ClickDay,
    Conversion,
    Lead,
    PartnerActivity,
    PartnerPeriod,
    ProgramDay,
)
from rewards.models import LedgerEntry
from tests.analytics.world import build

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(acme, owner, settings):
    settings.PRM_JOBS_INLINE = True
    return build(acme, owner)


def snapshot(model):  # type: ignore[no-untyped-def]
    fields = [f.attname for f in model._meta.fields if f.attname not in ("id",)]
    return sorted(tuple(str(v) for v in row) for row in model.objects.values_list(*fields))


def test_it_counts_what_the_raw_rows_hold(world):
    with tenant_scope(world.tenant):
        period = period_of("30d", timezone.localdate())
        filters = Filters(period.start, period.end)
        figures = totals(world.tenant, filters, Rates.on(world.tenant, period.end))
        accepted = Click.objects.filter(status="accepted")
        assert figures["clicks"] == accepted.count() == 5  # repeats within 30 s are dropped
        assert (
            figures["visitors"]
            == accepted.values("partner", "program", "visitor_id").distinct().count()
        )
        assert figures["leads"] == Lead.objects.count() == 4
        assert figures["leads_rejected"] == 1 and figures["leads_duplicate"] == 2
        assert figures["leads_flagged"] == 1
        assert figures["leads_converted"] == Lead.objects.filter(status="converted").count() == 1
        assert figures["conversions"] == Conversion.objects.count() == 4
        assert figures["conversions_refunded"] == 1
        money = money_of(world.tenant, filters, "all")[""]
        raw = Conversion.objects.values("currency").annotate(
            a=Sum("amount"), r=Sum("refunded_amount")
        )
        for row in raw:
            assert money[row["currency"]]["revenue"] == row["a"] - row["r"]
            assert money[row["currency"]]["refunded"] == row["r"]
        ledger = LedgerEntry.objects.values("currency").annotate(
            accrued=Sum("pending", filter=Q(kind="accrual")),
            approved=Sum("available", filter=Q(kind="approval")),
            paid=Sum("paid", filter=Q(kind="payout_paid")),
            clawed=Sum("pending", filter=Q(kind="clawback")),
        )
        for row in ledger:
            assert money[row["currency"]]["accrued"] == row["accrued"]
            assert money[row["currency"]]["approved"] == (row["approved"] or 0)
            assert money[row["currency"]]["paid"] == (row["paid"] or 0)
            assert money[row["currency"]]["clawed_back"] == -(row["clawed"] or 0)
        # Net revenue in USD: USD as is, EUR at 1.10.
        usd = Conversion.objects.filter(currency="USD").aggregate(
            n=Sum("amount") - Sum("refunded_amount")
        )["n"]
        eur = Conversion.objects.filter(currency="EUR").aggregate(n=Sum("amount"))["n"]
        assert figures["revenue_total"] == (usd + eur * Decimal("1.10")).quantize(Decimal("0.01"))
        # Active partners: a click, a lead (theirs or registered by them), a conversion or
        # a money movement in the period (all of the world's rows are in it).
        active = (
            set(accepted.values_list("partner_id", flat=True))
            | set(Lead.objects.values_list("partner_id", flat=True))
            | set(Lead.objects.values_list("registered_by_id", flat=True))
            | set(Conversion.objects.values_list("partner_id", flat=True))
            | set(LedgerEntry.objects.values_list("partner_id", flat=True))
        ) - {None}
        assert active_partners(world.tenant, filters) == len(active) > 0


def test_a_rebuild_gives_the_rows_kept_incrementally(world):
    with tenant_scope(world.tenant):
        clicks, activity = snapshot(ClickDay), snapshot(ActivityDay)
        programs, channels = snapshot(ProgramDay), snapshot(ChannelDay)
        periods, active = snapshot(PartnerPeriod), snapshot(PartnerActivity)
        assert clicks and activity and programs and periods and channels and active
        rollups_rebuild(world.tenant)
        assert snapshot(PartnerActivity) == active
        rollups_rebuild(world.tenant, since=timezone.localdate())  # from mid-month on
        assert snapshot(PartnerActivity) == active
        assert snapshot(PartnerPeriod) == periods
        assert snapshot(ClickDay) == clicks
        assert snapshot(ActivityDay) == activity
        assert snapshot(ProgramDay) == programs
        assert snapshot(ChannelDay) == channels


def test_channels_are_stored_on_clicks_and_copied_to_the_leads_they_bring(world):
    with tenant_scope(world.tenant):
        lead = Lead.objects.get(email="c1@example.test", duplicate_of=None)
        assert (lead.utm_source, lead.sub_id) == ("newsletter", "s1")
        row = ClickDay.objects.get(partner=world.bob)
        assert (row.utm_source, row.referrer_domain, row.clicks) == ("blog", "blog.example", 1)
        assert Click.objects.filter(utm_source="newsletter").count() == 3
        assert (
            ClickDay.objects.filter(partner=world.alice, program=world.usd).aggregate(
                v=Sum("visitors")
            )["v"]
            == 3
        )
