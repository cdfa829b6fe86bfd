"""Keeping ActivityDay current: changes drained by a real RQ worker, recomputation in
any order and any number of times, and the rebuild command."""

from __future__ import annotations

import django_rq
import pytest
from django.core.management import CommandError, call_command
from django.db.models import F
from rq import SimpleWorker

from prm.models import Job
from prm.tenancy import tenant_scope
from programs.analytics.refresh import activity_recompute, rollup_drain, rollups_rebuild
from programs.models import (
    ActivityDay,
    AnalyticsChange,
    ChannelDay,
    ClickDay,
    PartnerActivity,
    PartnerPeriod,
    ProgramDay,
)
from tests.analytics.world import build
from tests.rewards.helpers import make_partner, make_program, rule, sale


def snapshot(model):  # type: ignore[no-untyped-def]
    fields = [f.attname for f in model._meta.fields if f.attname != "id"]
    return sorted(tuple(str(v) for v in row) for row in model.objects.values_list(*fields))


@pytest.fixture
def world(acme, owner, settings):  # type: ignore[no-untyped-def]
    settings.PRM_JOBS_INLINE = True
    return build(acme, owner)


def test_recomputing_buckets_in_any_order_and_twice_gives_the_same_rows(world):
    with tenant_scope(world.tenant):
        kept, programs = snapshot(ActivityDay), snapshot(ProgramDay)
        periods, channels = snapshot(PartnerPeriod), snapshot(ChannelDay)
        active = snapshot(PartnerActivity)
        buckets = set(ActivityDay.objects.values_list("day", "partner_id"))
        # Wrong activity bits (each bucket's day flipped, and a day without activity
        # set): the recomputation puts back exactly what the rows say.
        row = PartnerActivity.objects.first()
        quiet = next(
            d for d in range(1, 29) if (row.month.replace(day=d), row.partner_id) not in buckets
        )
        buckets.add((row.month.replace(day=quiet), row.partner_id))
        for day, partner in buckets:
            if partner:
                PartnerActivity.objects.filter(month=day.replace(day=1), partner_id=partner).update(
                    activity_days=F("activity_days").bitxor(1 << (day.day - 1))
                )
        for bucket in sorted(buckets, key=str, reverse=True):
            activity_recompute(world.tenant, {bucket})
        activity_recompute(world.tenant, buckets)
        assert snapshot(ActivityDay) == kept
        assert snapshot(ProgramDay) == programs
        assert snapshot(PartnerPeriod) == periods
        assert snapshot(ChannelDay) == channels
        assert snapshot(PartnerActivity) == active


def test_the_rebuild_command_gives_the_rows_kept_incrementally(world, capsys):
    with tenant_scope(world.tenant):
        clicks, activity = snapshot(ClickDay), snapshot(ActivityDay)
        programs, channels = snapshot(ProgramDay), snapshot(ChannelDay)
        ActivityDay.objects.all().delete()
        ClickDay.objects.all().delete()
    call_command("analytics_rebuild", "--tenant", "acme")
    assert "acme:" in capsys.readouterr().out
    with tenant_scope(world.tenant):
        assert snapshot(ClickDay) == clicks
        assert snapshot(ActivityDay) == activity
        assert snapshot(ProgramDay) == programs
        assert snapshot(ChannelDay) == channels
    call_command("analytics_rebuild", "--all-tenants", "--since", "2020-01-01")
    with tenant_scope(world.tenant):
        assert snapshot(ActivityDay) == activity


def test_the_rebuild_command_wants_a_tenant(db):
    with pytest.raises(CommandError):
        call_command("analytics_rebuild")
    with pytest.raises(CommandError):
        call_command("analytics_rebuild", "--tenant", "nope")


@pytest.mark.django_db(transaction=True)
def test_a_sale_reaches_the_rollups_through_a_real_worker_after_commit(acme, settings):
    settings.PRM_JOBS_INLINE = False
    with tenant_scope(acme):
        program = make_program(acme, hold_days=0)
        rule(program)
        partner = make_partner(acme, program, "ALICE")
        sale(program, partner, "250.00")
        assert AnalyticsChange.objects.exists()
        assert Job.objects.filter(func="programs.analytics.refresh.rollup_drain").exists()
    queue = django_rq.get_queue("default")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    with tenant_scope(acme):
        assert not AnalyticsChange.objects.exists()
        row = ActivityDay.objects.get(currency="USD", partner=partner)
        assert (row.conversions, row.revenue, row.accrued) == (1, 250, 50)
        kept = snapshot(ActivityDay)
        rollups_rebuild(acme)
        assert snapshot(ActivityDay) == kept
        assert rollup_drain() == 0
