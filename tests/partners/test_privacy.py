"""A partner's personal data: the export holds theirs only; erasure anonymises and
keeps the ledger; money in flight refuses it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from partners.models import PartnerProfile
from partners.privacy import partner_data_export, partner_erase
from prm.models import AuditEntry, User
from prm.tenancy import tenant_scope
from rewards.models import LedgerEntry, PayoutDetails, PayoutRequest
from tests.rewards.console_world import build

pytestmark = pytest.mark.django_db


def sums(partner):  # type: ignore[no-untyped-def]
    return LedgerEntry.objects.filter(partner=partner).aggregate(
        *(Sum(f) for f in ("pending", "available", "processing", "paid"))
    )


def test_export_holds_the_partners_data_masked_and_no_one_elses(acme, owner):
    world = build(acme, owner)
    with tenant_scope(acme):
        data = partner_data_export(partner=world.alice)
    assert data["profile"]["display_name"] == "Alice"
    assert data["user"]["email"] == world.alice.user.email
    assert [e["code"] for e in data["enrollments"]] == ["ALICE"]
    assert data["rewards"] and data["ledger"] and data["payouts"]
    text = str(data)
    assert "4242 4242 4242 4242" not in text and "Bob" not in text and "BOB" not in text
    assert len(data["payout_methods"]) == 2


def test_erase_is_refused_with_a_payout_in_flight(acme, owner):
    world = build(acme, owner)
    with tenant_scope(acme), pytest.raises(ValidationError):
        partner_erase(partner=world.alice, actor=owner, reason="asked")


def test_erase_anonymises_and_keeps_the_ledger(acme, owner):
    world = build(acme, owner)
    with tenant_scope(acme):
        # Settle what is in flight first: the test is about erasure, not payouts.
        PayoutRequest.objects.filter(partner=world.alice).update(status="rejected")
        before = sums(world.alice)
        old_email = world.alice.user.email
        partner_erase(partner=world.alice, actor=owner, reason="GDPR request")
        assert sums(world.alice) == before
        alice = PartnerProfile.objects.get(pk=world.alice.pk)
        assert alice.status == "blocked" and alice.display_name == "" and alice.company == ""
        assert set(
            PayoutDetails.objects.filter(partner=alice).values_list("encrypted", "masked")
        ) == {("", "")}
        entry = AuditEntry.objects.get(action="partner.erase")
        assert old_email not in str(entry.after) and "Alice" not in str(entry.after)
    user = User.objects.get(pk=alice.user_id)
    assert user.email.startswith("erased-") and user.email.endswith("@invalid")
    assert not user.is_active and not user.has_usable_password()
    assert not User.objects.filter(email=old_email).exists()


def test_a_partner_downloads_their_own_data(client_for, acme, owner):
    world = build(acme, owner)
    client = client_for(world.alice.user)
    response = client.get("/account/data.json")
    assert response.status_code == 200
    assert response.json()["user"]["email"] == world.alice.user.email
    assert "attachment" in response["Content-Disposition"]
