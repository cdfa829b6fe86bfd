"""Demo antifraud: Alice refers herself (her own e-mail, as a lead and then a sale with
her own code) and ten leads of Bob's arrive from one IP address within minutes. Both
go through the real scoring, so the review queue shows them with their reasons and
Alice's cabinet shows her reward on hold for review."""

from __future__ import annotations

from decimal import Decimal

from antifraud.services.fingerprints import record_identity
from antifraud.services.scoring import score
from partners.models import PartnerProfile
from prm.models import Tenant
from programs.models import Conversion, Lead, Program
from programs.services.conversions import ConversionInput, conversion_record
from programs.services.leads import LeadInput, lead_create
from rewards.services.accrual import accrue_conversion, accrue_lead

FLOOD_IP = "198.51.100.77"
FLOOD_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36"
SELF_ORDER = "demo-self-referral-1"


def load(tenant: Tenant) -> None:
    """Idempotent: run inside the tenant's scope, after the demo money."""
    program = Program.objects.get(name="Pro plan")
    alice = PartnerProfile.objects.select_related("user").get(user__email="partner@acme.test")
    bob = PartnerProfile.objects.get(user__email="bob@partners.test")
    for partner in (alice, bob):
        record_identity(partner)  # what partner_join records for partners who sign up
    leads: list[str] = []
    if not Lead.objects.filter(program=program, email=alice.user.email).exists():
        lead = lead_create(
            tenant=tenant,
            program=program,
            source=Lead.Source.CABINET,
            partner=alice,
            data=LeadInput(name="Alice (herself)", email=alice.user.email),
        )
        leads.append(str(lead.pk))
    if not Lead.objects.filter(program=program, ip__startswith="198.51.100.").exists():
        code = bob.enrollments.get(program=program).code
        for i in range(10):
            lead = lead_create(
                tenant=tenant,
                program=program,
                source=Lead.Source.SNIPPET,
                data=LeadInput(
                    name=f"Sign-up {i + 1}",
                    email=f"signup{i + 1}@example.net",
                    referral_code=code,
                    ip=FLOOD_IP,
                    user_agent=FLOOD_UA,
                ),
            )
            leads.append(str(lead.pk))
    conversion = Conversion.objects.filter(program=program, external_id=SELF_ORDER).first()
    if conversion is None:
        conversion, _ = conversion_record(
            tenant=tenant,
            program=program,
            data=ConversionInput(
                external_id=SELF_ORDER,
                amount=Decimal("290.00"),
                currency="USD",
                kind=Conversion.Kind.SALE,
                customer_email=alice.user.email,
                referral_code=alice.enrollments.get(program=program).code,
            ),
        )
    # Score now (the jobs queued for the same rows find them scored), then accrue:
    # the rewards are born held, as they would be whichever ran first.
    score("lead", leads)
    score("conversion", [conversion.pk])
    for lead_id in leads:
        accrue_lead(lead_id=lead_id)
    accrue_conversion(conversion_id=str(conversion.pk))
    score("partner", [alice.pk, bob.pk])
