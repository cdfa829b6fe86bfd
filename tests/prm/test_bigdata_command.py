"""manage.py prm_bigdata: the benchmark tenant, at a thousandth of its size."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from partners.models import PartnerProfile
from prm.models import Membership, Role, Tenant, User
from prm.tenancy import tenant_scope
from programs.models import Click, Conversion, Enrollment, Lead, Program
from rewards.models import LedgerEntry, Reward
from rewards.services.verify import verify


def test_it_builds_the_big_tenant_and_a_small_one_with_a_sound_ledger(db):
    call_command("prm_bigdata", scale=0.001, tenant_slug="huge", verbosity=0)
    huge = Tenant.objects.get(slug="huge")
    assert Tenant.objects.filter(slug="huge-small-00").exists()
    with tenant_scope(huge):
        counts = (
            PartnerProfile.objects.count(),
            Click.objects.count(),
            Lead.objects.count(),
            Conversion.objects.count(),
        )
        assert counts == (10, 1000, 100, 30)
        main = Program.objects.get(name="Main")
        assert Enrollment.objects.filter(program=main).count() == 10
        busy = PartnerProfile.objects.get(recruit_code="r1")
        assert Click.objects.filter(partner=busy).count() >= 100  # every tenth click
        rewards, entries = Reward.objects.count(), LedgerEntry.objects.count()
        decided = Reward.objects.exclude(status=Reward.Status.PENDING).count()
        assert rewards == 30 + Lead.objects.exclude(partner=None).count()
        assert entries == rewards + decided
        assert verify() == []
        owner = Membership.objects.get(role=Role.OWNER).user
    assert owner.email == "owner@huge.bench.test"
    assert owner.check_password("bench-password")
    assert User.objects.get(email="p00001@huge.bench.test").check_password("bench-password")


def test_it_refuses_a_tenant_that_exists(db):
    call_command("prm_bigdata", scale=0.0001, tenant_slug="taken", small_tenants=0, verbosity=0)
    with pytest.raises(CommandError, match="taken exist already"):
        call_command("prm_bigdata", scale=0.0001, tenant_slug="taken", small_tenants=0)
    assert Tenant.objects.filter(slug="taken").count() == 1
