"""A small money world in acme for the console pages' tests: a program with rules, two
partners with rewards in every state, payout methods, a requested and an approved
payout, and a batch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.messages import get_messages

from partners.models import PartnerProfile
from prm.crypto import encrypt
from prm.models import AuditEntry, Tenant, User
from prm.tenancy import tenant_scope
from programs.models import Program
from rewards.models import (
    BonusRule,
    CorrectionRequest,
    ExchangeRate,
    LedgerCheck,
    LedgerEntry,
    PartnerGroup,
    PayoutBatch,
    PayoutDetails,
    PayoutMethod,
    PayoutRequest,
    Reward,
    RewardRule,
)
from rewards.payout_details import clean_details
from rewards.services.approvals import reward_approve
from rewards.services.payouts import batch_create, payout_approve, payout_request
from tests.rewards.helpers import D, make_partner, make_program, rule, sale

IBAN = "DE89370400440532013000"


@dataclass
class World:
    tenant: Tenant
    program: Program
    rule: RewardRule
    bonus: BonusRule
    group: PartnerGroup
    alice: PartnerProfile
    bob: PartnerProfile
    pending: list[Reward]
    card: PayoutMethod
    bank: PayoutMethod
    requested: PayoutRequest
    approved: PayoutRequest
    batch: PayoutBatch

    def ids(self) -> dict[str, str]:
        return {
            "program": str(self.program.pk),
            "rule": str(self.rule.pk),
            "bonus": str(self.bonus.pk),
            "group": str(self.group.pk),
            "alice": str(self.alice.pk),
            "bob": str(self.bob.pk),
            "reward": str(self.pending[0].pk),
            "card": str(self.card.pk),
            "bank": str(self.bank.pk),
            "requested": str(self.requested.pk),
            "approved": str(self.approved.pk),
            "batch": str(self.batch.pk),
        }


def details(tenant: Tenant, partner: PartnerProfile, method: PayoutMethod, raw: str) -> None:
    value, masked = clean_details(method.kind, raw)
    PayoutDetails.objects.create(
        tenant=tenant,
        partner=partner,
        method=method,
        encrypted=encrypt(value),
        masked=masked,
        holder=str(partner),
    )


def build(tenant: Tenant, actor: User) -> World:
    """The world, made in ``tenant``'s scope (the caller need not be in one)."""
    with tenant_scope(tenant):
        program = make_program(tenant, name="Pro", hold_days=30)
        program_rule = rule(program, value=D("10"))
        group = PartnerGroup.objects.create(tenant=tenant, name="Gold")
        bonus = BonusRule.objects.create(
            tenant=tenant, program=program, metric="conversions", threshold=D("5"), amount=D("50")
        )
        alice = make_partner(tenant, program, "ALICE", display_name="Alice")
        bob = make_partner(tenant, program, "BOB", display_name="Bob")
        for amount in ("1000.00", "2000.00", "500.00"):
            sale(program, alice, amount)
        sale(program, bob, "300.00")
        rewards = list(Reward.objects.filter(partner=alice).order_by("amount"))
        # alice's biggest reward (200) is approved: available money for two payouts.
        reward_approve(reward=rewards[-1], actor=actor)
        card = PayoutMethod.objects.create(
            tenant=tenant, kind="card", name="Card", currency="USD", fee_fixed=D("1.00")
        )
        bank = PayoutMethod.objects.create(
            tenant=tenant, kind="bank", name="Bank", currency="USD", minimum=D("10")
        )
        details(tenant, alice, card, "4242 4242 4242 4242")
        details(tenant, alice, bank, IBAN)
        requested = payout_request(tenant=tenant, partner=alice, method=card, amount=D("50"))
        approved = payout_request(tenant=tenant, partner=alice, method=bank, amount=D("100"))
        payout_approve(payout=approved, actor=actor)
        batch = batch_create(tenant=tenant, method=bank, actor=actor)
        assert batch is not None
        approved.refresh_from_db()
        pending = list(Reward.objects.filter(status=Reward.Status.PENDING).order_by("created_at"))
        return World(
            tenant=tenant,
            program=program,
            rule=program_rule,
            bonus=bonus,
            group=group,
            alice=alice,
            bob=bob,
            pending=pending,
            card=card,
            bank=bank,
            requested=requested,
            approved=approved,
            batch=batch,
        )


def state(tenant: Tenant) -> dict[str, Any]:
    """Everything the money pages could change in ``tenant``."""
    with tenant_scope(tenant):
        return {
            "rules": set(RewardRule.objects.values_list("id", "value", "is_active")),
            "bonuses": set(BonusRule.objects.values_list("id", "amount", "is_active")),
            "groups": set(PartnerGroup.objects.values_list("id", "name")),
            "partner_groups": set(PartnerProfile.objects.values_list("id", "group")),
            "programs": set(Program.objects.values_list("id", "hold_days", "levels")),
            "rewards": set(Reward.objects.values_list("id", "status", "flagged")),
            "ledger": LedgerEntry.objects.count(),
            "rates": ExchangeRate.objects.count(),
            "methods": set(PayoutMethod.objects.values_list("id", "name", "is_active")),
            "payouts": set(PayoutRequest.objects.values_list("id", "status", "batch")),
            "batches": set(PayoutBatch.objects.values_list("id", "status")),
            "threshold": Tenant.objects.get(pk=tenant.pk).manual_approval_above,
            "corrections": set(CorrectionRequest.objects.values_list("id", "status")),
            "checks": LedgerCheck.objects.count(),
            "audit": AuditEntry.objects.count(),
        }


def messages_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in get_messages(response.wsgi_request)]


def actions(tenant: Tenant) -> list[str]:
    return list(
        AuditEntry.all_tenants_unscoped.filter(tenant=tenant)
        .order_by("created_at", "pk")
        .values_list("action", flat=True)
    )
