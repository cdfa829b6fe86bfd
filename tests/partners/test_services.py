from __future__ import annotations

import pytest

from partners.models import PartnerProfile
from partners.services import partner_join, partner_set_status
from prm.models import AuditEntry
from tests.factories import PartnerFactory, UserFactory


def test_joining_an_open_program_makes_an_active_partner_named_after_the_user(in_acme):
    user = UserFactory(first_name="Nina", last_name="New")
    profile = partner_join(tenant=in_acme, user=user)
    assert (profile.tenant, profile.user, profile.status) == (in_acme, user, "active")
    assert profile.display_name == "Nina New"


def test_joining_a_closed_program_makes_a_pending_application(in_acme):
    in_acme.partner_signup_open = False
    profile = partner_join(tenant=in_acme, user=UserFactory(), display_name="Nina's Deals")
    assert profile.status == PartnerProfile.Status.PENDING
    assert profile.display_name == "Nina's Deals"


def test_joining_again_returns_the_existing_profile_unchanged(in_acme):
    existing = PartnerFactory(tenant=in_acme, status=PartnerProfile.Status.BLOCKED)
    profile = partner_join(tenant=in_acme, user=existing.user, display_name="New name")
    assert profile.pk == existing.pk
    assert profile.status == PartnerProfile.Status.BLOCKED
    assert PartnerProfile.objects.count() == 1


def test_joining_writes_no_audit_row(in_acme):
    partner_join(tenant=in_acme, user=UserFactory())
    assert not AuditEntry.objects.exists()


def test_it_changes_a_partners_status_with_an_audit_row(in_acme, owner):
    profile = PartnerFactory(tenant=in_acme, status=PartnerProfile.Status.PENDING)
    changed = partner_set_status(tenant=in_acme, actor=owner, partner=profile, status="active")
    assert changed.status == PartnerProfile.Status.ACTIVE
    profile.refresh_from_db()
    assert profile.status == PartnerProfile.Status.ACTIVE
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.object_id) == (
        "partner.status",
        owner,
        str(profile.pk),
    )
    assert (entry.before, entry.after) == ({"status": "pending"}, {"status": "active"})


def test_the_same_status_again_writes_nothing(in_acme, owner):
    profile = PartnerFactory(tenant=in_acme)
    partner_set_status(tenant=in_acme, actor=owner, partner=profile, status="active")
    assert not AuditEntry.objects.exists()


def test_it_refuses_an_unknown_status(in_acme, owner):
    profile = PartnerFactory(tenant=in_acme)
    with pytest.raises(ValueError):
        partner_set_status(tenant=in_acme, actor=owner, partner=profile, status="deleted")
    profile.refresh_from_db()
    assert profile.status == PartnerProfile.Status.ACTIVE
    assert not AuditEntry.objects.exists()
