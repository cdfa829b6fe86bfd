"""A month of activity in acme for the analytics tests: two programs in two currencies,
clicks through the real flush, leads (one rejected, one duplicate), conversions with a
refund, rewards accrued, approved and paid."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from antifraud.models import RiskAssessment
from partners.models import PartnerProfile
from prm.models import Tenant, User
from prm.tenancy import tenant_scope
from programs.analytics.refresh import rollup_drain, touch_lead
from programs.models import Lead, Program
from programs.services.clicks import ClickInput, click_accept
from programs.services.conversions import refund_record
from programs.services.leads import LeadInput, lead_create, lead_set_status
from rewards.models import ExchangeRate, PayoutMethod, Reward
from rewards.services.approvals import reward_approve
from rewards.services.payouts import payout_approve, payout_mark_paid, payout_request
from tests.rewards.console_world import details
from tests.rewards.helpers import make_partner, make_program, rule, sale

D = Decimal


@dataclass
class World:
    tenant: Tenant
    usd: Program
    eur: Program
    alice: PartnerProfile
    bob: PartnerProfile


def click(program: Program, code: str, visitor: str, **utm: str) -> None:
    click_accept(
        ClickInput(
            key=program.publishable_key,
            code=code,
            visitor=visitor,
            sub=utm.pop("sub", ""),
            url="https://shop.example.com/?utm_source=" + utm.get("source", ""),
            referrer=utm.get("referrer", ""),
            utm_medium=utm.get("medium", ""),
        ),
        tenant_id=str(program.tenant_id),
        ip="203.0.113.9",
        user_agent="Mozilla/5.0",
        source="link",
    )


def build(tenant: Tenant, actor: User) -> World:
    """Everything happens through the services (settings.PRM_JOBS_INLINE must be True,
    so clicks are written at once), then the rollups are drained."""
    with tenant_scope(tenant):
        usd = make_program(tenant, name="Shop USD", hold_days=0)
        eur = make_program(tenant, name="Shop EUR", currency="EUR", hold_days=0)
        rule(usd, value=D("10"))
        rule(eur, value=D("20"))
        ExchangeRate.objects.create(
            tenant=tenant,
            base="EUR",
            quote="USD",
            rate=D("1.10"),
            valid_from=timezone.localdate() - timedelta(days=400),
        )
        alice = make_partner(tenant, usd, "ALICE", display_name="Alice")
        bob = make_partner(tenant, usd, "BOB", display_name="Bob")
        from programs.services.enrollments import enrollment_create

        enrollment_create(tenant=tenant, program=eur, partner=alice, code="ALICE-EU")
        for i in range(5):
            click(usd, "ALICE", f"visitor-a{i % 3}xxxx", source="newsletter", sub="s1")
        click(usd, "BOB", "visitor-b1xxxxx", source="blog", referrer="https://www.blog.example/x")
        click(eur, "ALICE-EU", "visitor-e1xxxxx", source="ads")
        lead_a = lead_create(
            tenant=tenant,
            program=usd,
            source=Lead.Source.SNIPPET,
            data=LeadInput(email="c1@example.test", visitor_id="visitor-a0xxxx"),
        )
        lead_b = lead_create(
            tenant=tenant,
            program=usd,
            source=Lead.Source.SNIPPET,
            data=LeadInput(email="c2@example.test", visitor_id="visitor-b1xxxxx"),
        )
        lead_create(  # a duplicate of c1: credited to nobody
            tenant=tenant,
            program=usd,
            source=Lead.Source.SNIPPET,
            data=LeadInput(email="c1@example.test", visitor_id="visitor-b1xxxxx"),
        )
        lead_set_status(tenant=tenant, lead=lead_b, status="rejected", actor=actor)
        # Alice registers bob's customer in the cabinet: a duplicate she still answers for.
        lead_create(
            tenant=tenant,
            program=usd,
            source=Lead.Source.CABINET,
            partner=alice,
            data=LeadInput(email="c2@example.test"),
        )
        # Antifraud (another package) flags alice's first lead for review; it tells the
        # rollups as every writer does.
        RiskAssessment.objects.update_or_create(
            tenant=tenant,
            subject="lead",
            lead=lead_a,
            defaults={
                "partner": alice,
                "score": 70,
                "level": "review",
                "scored_at": timezone.now(),
            },
        )
        touch_lead(tenant, lead_a)
        sale(usd, alice, "1000.00", email="c1@example.test")
        refunded = sale(usd, alice, "200.00")
        sale(eur, alice, "500.00")
        sale(usd, None, "70.00")  # unattributed
        refund_record(tenant=tenant, conversion=refunded, external_id="r1", amount=D("50.00"))
        from programs.models import Refund
        from rewards.services.approvals import clawback_refund

        clawback_refund(refund_id=str(Refund.objects.get(external_id="r1").pk))
        biggest = Reward.objects.filter(partner=alice, currency="USD").order_by("-amount").first()
        reward_approve(reward=biggest, actor=actor)
        card = PayoutMethod.objects.create(tenant=tenant, kind="card", name="Card", currency="USD")
        details(tenant, alice, card, "4242 4242 4242 4242")
        payout = payout_request(tenant=tenant, partner=alice, method=card, amount=D("60"))
        payout_approve(payout=payout, actor=actor)
        payout_mark_paid(payout=payout, actor=actor)
        assert lead_a.partner_id == alice.pk
        rollup_drain()
    return World(tenant, usd, eur, alice, bob)
