"""Demo money: rules for the demo programs, rewards in every state, payout methods,
a paid payout history and a pending withdrawal for Alice."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from partners.models import PartnerProfile
from partners.services import partner_set_recruiter
from prm.crypto import encrypt
from prm.models import Tenant, User
from programs.models import Conversion, Lead, Program
from programs.services.conversions import refund_record
from rewards.models import (
    BonusRule,
    ExchangeRate,
    PartnerGroup,
    PayoutDetails,
    PayoutMethod,
    PayoutRequest,
    Reward,
    RewardRule,
)
from rewards.services.accrual import accrue_conversion, accrue_lead
from rewards.services.approvals import clawback_refund, reward_approve, reward_hold, reward_reject
from rewards.services.payouts import payout_approve, payout_mark_paid, payout_request

D = Decimal


def load_rules(tenant: Tenant) -> None:
    """Rules first, so that every demo conversion earns by them."""
    pro = Program.objects.get(name="Pro plan")
    agency = Program.objects.get(name="Agency partners")
    RewardRule.objects.get_or_create(
        tenant=tenant,
        program=pro,
        event=RewardRule.Event.CONVERSION,
        group=None,
        partner=None,
        defaults={
            "kind": RewardRule.Kind.PERCENT,
            "value": D("20"),
            "recurring": RewardRule.Recurring.FIRST_N,
            "recurring_count": 12,
            "tiers": [{"min_conversions": 10, "value": "25"}],
            "referred_reward": RewardRule.ReferredReward.DISCOUNT,
            "referred_value": D("10"),
        },
    )
    RewardRule.objects.get_or_create(
        tenant=tenant,
        program=pro,
        event=RewardRule.Event.LEAD,
        group=None,
        partner=None,
        defaults={"kind": RewardRule.Kind.FIXED, "value": D("1")},
    )
    vip, _ = PartnerGroup.objects.get_or_create(
        tenant=tenant, name="VIP", defaults={"hold_days": 14}
    )
    RewardRule.objects.get_or_create(
        tenant=tenant,
        program=pro,
        event=RewardRule.Event.CONVERSION,
        group=vip,
        defaults={"kind": RewardRule.Kind.PERCENT, "value": D("30")},
    )
    RewardRule.objects.get_or_create(
        tenant=tenant,
        program=agency,
        event=RewardRule.Event.CONVERSION,
        group=None,
        partner=None,
        defaults={"kind": RewardRule.Kind.FIXED, "value": D("150"), "min_order_amount": D("500")},
    )
    BonusRule.objects.get_or_create(
        tenant=tenant,
        program=pro,
        metric=BonusRule.Metric.CONVERSIONS,
        threshold=D("5"),
        defaults={"amount": D("50")},
    )
    ExchangeRate.objects.get_or_create(
        tenant=tenant,
        base="EUR",
        quote="USD",
        valid_from=timezone.localdate() - timedelta(days=60),
        defaults={"rate": D("1.08")},
    )
    bob = PartnerProfile.objects.get(user__email="bob@partners.test")
    alice = PartnerProfile.objects.get(user__email="partner@acme.test")
    if bob.recruited_by_id is None:
        partner_set_recruiter(partner=bob, recruiter=alice)  # Alice earns from Bob's sales


def load_money(tenant: Tenant) -> None:
    """After the demo conversions exist: rewards in every state and payouts."""
    # Accrue now (idempotent), so that the states below apply to every reward; the
    # jobs queued for the same conversions and leads will find them done.
    for conversion in Conversion.objects.filter(partner__isnull=False):
        accrue_conversion(conversion_id=str(conversion.pk))
    for lead in Lead.objects.filter(partner__isnull=False, duplicate_of=None):
        accrue_lead(lead_id=str(lead.pk))
    card, _ = PayoutMethod.objects.get_or_create(
        tenant=tenant,
        name="Bank card",
        defaults={
            "kind": PayoutMethod.Kind.CARD,
            "currency": "USD",
            "fee_fixed": D("0.50"),
            "fee_percent": D("1.5"),
            "minimum": D("10"),
        },
    )
    PayoutMethod.objects.get_or_create(
        tenant=tenant,
        name="PayPal",
        defaults={
            "kind": PayoutMethod.Kind.PAYPAL,
            "currency": "USD",
            "fee_percent": D("2"),
            "minimum": D("10"),
            "schedule": PayoutMethod.Schedule.MONTHLY,
        },
    )
    alice = PartnerProfile.objects.get(user__email="partner@acme.test")
    PayoutDetails.objects.get_or_create(
        tenant=tenant,
        partner=alice,
        method=card,
        defaults={"encrypted": encrypt("4242424242424242"), "masked": "•••• 4242"},
    )
    if Reward.objects.exclude(status=Reward.Status.PENDING).exists():
        return  # the states below were made by an earlier run
    owner = User.objects.get(email="owner@acme.test")
    rewards = list(Reward.objects.filter(status=Reward.Status.PENDING).order_by("created_at"))
    # Older rewards approved (some after a partial refund), one rejected, one held.
    for reward in rewards[: max(len(rewards) - 3, 0)]:
        reward_approve(reward=reward)
    if len(rewards) >= 3:
        reward_reject(
            reward=rewards[-3], actor=owner, reason="Self-referral: same card as the partner."
        )
        reward_hold(reward=rewards[-2], reason="Many sign-ups from one IP address: under review.")
    refunded = Conversion.objects.filter(partner=alice).order_by("occurred_at").first()
    if refunded is not None and not refunded.refunds.exists():
        refund, _ = refund_record(
            tenant=tenant,
            conversion=refunded,
            external_id="demo-refund-1",
            amount=(refunded.amount / 2).quantize(D("0.01")),
            reason="Downgraded plan",
        )
        clawback_refund(refund_id=str(refund.pk))
    from rewards.services.ledger import balance

    available = balance(alice, "USD").available
    if available >= D("20"):
        paid_amount = (available - D("10")).quantize(D("1"))
        paid = payout_request(tenant=tenant, partner=alice, method=card, amount=paid_amount)
        payout_approve(payout=paid, actor=owner)
        payout_mark_paid(payout=paid, actor=owner, provider_ref="demo-transfer-001")
        PayoutRequest.objects.filter(pk=paid.pk).update(
            created_at=timezone.now() - timedelta(days=20),
            paid_at=timezone.now() - timedelta(days=18),
        )
        payout_request(tenant=tenant, partner=alice, method=card, amount=D("10"))
