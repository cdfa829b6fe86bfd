"""A partner's personal data: the export holds theirs only; erasure anonymises and
keeps the ledger; money in flight refuses it; an erased partner stays erased."""

from __future__ import annotations

import json
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone

from partners.models import PartnerProfile
from partners.privacy import (
    ERASED_DETAILS,
    ERASED_IS_FINAL,
    PAYOUT_IN_FLIGHT,
    partner_data_export,
    partner_erase,
)
from partners.services import partner_set_status
from prm.models import AuditEntry, Role, User
from prm.tenancy import tenant_scope
from rewards.models import LedgerEntry, PayoutDetails, PayoutRequest, StatementFile
from rewards.services.payouts import payout_mark_paid, payout_reject
from rewards.statements import month_of, monthly_statement
from tests.factories import PASSWORD, MembershipFactory
from tests.rewards.console_world import World, build

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


def settle(world: World, owner: User) -> None:
    """Pay the approved payout and reject the requested one, through the services."""
    payout_mark_paid(payout=world.approved, actor=owner)
    payout_reject(payout=world.requested, actor=owner, reason="changed their mind")


def test_erase_is_refused_with_a_payout_in_flight(acme, owner):
    world = build(acme, owner)
    with tenant_scope(acme), pytest.raises(ValidationError) as refused:
        partner_erase(partner=world.alice, actor=owner, reason="asked")
    assert refused.value.messages == [str(PAYOUT_IN_FLIGHT)]
    with tenant_scope(acme):
        alice = PartnerProfile.objects.get(pk=world.alice.pk)
        assert alice.erased_at is None and alice.display_name == "Alice"
        assert not AuditEntry.objects.filter(action="partner.erase").exists()


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
        assert alice.erased_at is not None
        assert not PayoutDetails.objects.filter(partner=alice).exists()
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


def test_a_signed_in_erased_partner_cannot_sign_in_again(acme, owner):
    world = build(acme, owner)
    old_email = world.alice.user.email
    with tenant_scope(acme):
        settle(world, owner)
        partner_erase(partner=world.alice, actor=owner, reason="asked")
        erased = PartnerProfile.objects.select_related("user").get(pk=world.alice.pk).user.email
    assert not Client().login(email=old_email, password=PASSWORD)
    assert not Client().login(email=erased, password=PASSWORD)


def test_erase_wipes_payout_accounts_and_statements_and_keeps_the_money(acme, owner):
    world = build(acme, owner)
    last = timezone.localtime().replace(day=1) - timezone.timedelta(days=1)
    with tenant_scope(acme):
        settle(world, owner)
        StatementFile.objects.create(
            tenant=acme, partner=world.alice, month=date(last.year, last.month, 1),
            language="en", pdf=b"%PDF-1.7 Alice alice@example.test",
        )  # fmt: skip
        payouts = {
            p.pk: (p.amount, p.fee, p.status, p.paid_at, p.batch_id)
            for p in PayoutRequest.objects.filter(partner=world.alice)
        }
        before = sums(world.alice)
        partner_erase(partner=world.alice, actor=owner, reason="asked")
        assert sums(world.alice) == before
        assert not PayoutDetails.objects.filter(partner=world.alice).exists()
        assert not StatementFile.objects.filter(partner=world.alice).exists()
        after = PayoutRequest.objects.filter(partner=world.alice)
        assert {p.pk: (p.amount, p.fee, p.status, p.paid_at, p.batch_id) for p in after} == payouts
        assert {(p.details_masked, p.details_encrypted) for p in after} == {(ERASED_DETAILS, "")}
        # A statement asked for again is rebuilt from the ledger, without the name.
        alice = PartnerProfile.objects.select_related("user", "tenant").get(pk=world.alice.pk)
        now = timezone.localtime()
        statement = monthly_statement(alice, month_of(now.year, now.month))
        html = render_to_string(
            "cabinet/money/statement_pdf.html",
            {"statement": statement, "tenant": acme, "generated_at": timezone.now()},
        )
    assert alice.user.email in html and ERASED_DETAILS in html
    assert "Alice" not in html and "alice@example.test" not in html
    assert "4242" not in html and "DE89" not in html


def test_erasing_twice_changes_nothing(acme, owner):
    world = build(acme, owner)
    with tenant_scope(acme):
        settle(world, owner)
        first = partner_erase(partner=world.alice, actor=owner, reason="asked")
        again = partner_erase(partner=world.alice, actor=owner, reason="asked twice")
        assert again.erased_at == first.erased_at
        assert again.user_id == first.user_id
        assert AuditEntry.objects.filter(action="partner.erase").count() == 1


@pytest.mark.parametrize("status", ["active", "pending"])
def test_an_erased_partner_cannot_be_approved_or_unblocked(acme, owner, status):
    world = build(acme, owner)
    with tenant_scope(acme):
        settle(world, owner)
        partner_erase(partner=world.alice, actor=owner, reason="asked")
        with pytest.raises(ValidationError) as refused:
            partner_set_status(tenant=acme, actor=owner, partner=world.alice, status=status)
        assert refused.value.messages == [str(ERASED_IS_FINAL)]
        # Blocking it again is what it already is: nothing to refuse, nothing recorded.
        partner_set_status(tenant=acme, actor=owner, partner=world.alice, status="blocked")
        assert PartnerProfile.objects.get(pk=world.alice.pk).status == "blocked"
        assert not AuditEntry.objects.filter(action="partner.status").exists()


def test_erase_takes_the_partner_out_of_the_audit_log_and_leaves_others(client_for, acme, owner):
    world = build(acme, owner)
    alice_user = world.alice.user
    # Alice saves an account in her cabinet (audited with her e-mail and IP), and
    # the owner blocks and unblocks her and Bob.
    method = world.card.pk
    response = client_for(alice_user).post(
        f"/payouts/details/{method}/",
        {f"details-{method}-account": "4000 0566 5566 5556", f"details-{method}-holder": "A L"},
    )
    assert response.status_code == 302
    with tenant_scope(acme):
        for partner in (world.alice, world.bob):
            partner_set_status(tenant=acme, actor=owner, partner=partner, status="blocked")
            partner_set_status(tenant=acme, actor=owner, partner=partner, status="active")
        settle(world, owner)
        mine = AuditEntry.objects.filter(actor=alice_user)
        assert mine.exists() and all(e.ip for e in mine)
        named = AuditEntry.objects.filter(object_repr="Alice", object_id=str(world.alice.pk))
        assert named.count() == 2
        partner_erase(partner=world.alice, actor=owner, reason="asked")
        label = PartnerProfile.objects.select_related("user").get(pk=world.alice.pk).user.email
        log = list(AuditEntry.objects.all())
    text = json.dumps(
        [[e.actor_email, e.object_repr, e.before, e.after] for e in log], ensure_ascii=False
    )
    assert "alice@example.test" not in text and "Alice" not in text
    by_alice = [e for e in log if e.action == "payout_details.set"]
    assert by_alice and all(e.actor_email == label and e.ip is None for e in by_alice)
    about_alice = [e for e in log if e.object_id == str(world.alice.pk)]
    assert {e.action for e in about_alice} == {"partner.status", "partner.erase"}
    assert all(e.object_repr == label and e.actor_email == owner.email for e in about_alice)
    about_bob = [e for e in log if e.object_id == str(world.bob.pk)]
    assert len(about_bob) == 2 and all(e.object_repr == "Bob" for e in about_bob)


def test_a_user_who_is_staff_elsewhere_keeps_their_account(acme, globex, owner):
    world = build(acme, owner)
    user = world.alice.user
    MembershipFactory(tenant=globex, role=Role.ANALYST, user=user)
    with tenant_scope(acme):
        settle(world, owner)
        partner_erase(partner=world.alice, actor=owner, reason="asked")
        alice = PartnerProfile.objects.select_related("user").get(pk=world.alice.pk)
    user.refresh_from_db()
    assert user.is_active and user.email == "alice@example.test"
    assert alice.user_id != user.pk and alice.user.email.startswith("erased-")
    assert not alice.user.is_active and not alice.user.has_usable_password()
