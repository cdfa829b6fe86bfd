"""Demo data for tracking: the "Pro plan" program with Alice (code ALICE) and Bob,
promo codes, an API key for the demo shop, and some clicks, leads and conversions."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from partners.models import PartnerProfile
from prm import public_urls
from prm.models import ApiKey, Tenant
from prm.models.apikey import hash_secret
from programs.models import Click, Conversion, Enrollment, Lead, Program, PromoCode
from programs.services.conversions import ConversionInput, conversion_record
from programs.services.leads import LeadInput, lead_create

# Published in README: the demo shop's server uses it to post sales.
DEMO_SHOP_SECRET = "sk_demo_shop_secret_key_for_local_use_only"  # noqa: S105


def shop_base_url() -> str:
    return public_urls.origin(f"shop.{settings.PRM_BASE_DOMAIN}") + "/"


def load(tenant: Tenant) -> Program:
    """Idempotent: run inside the tenant's scope."""
    program, _ = Program.objects.get_or_create(
        tenant=tenant,
        name="Pro plan",
        defaults={
            "product": "Acme Pro subscription",
            "kind": Program.Kind.REFERRAL,
            "status": Program.Status.ACTIVE,
            "currency": "USD",
            "landing_urls": f"{shop_base_url()}\n{shop_base_url()}pricing",
            "attribution": Program.Attribution.LAST_CLICK,
            "lead_assignment": Program.Assignment.ROUND_ROBIN,
            "terms": "20% of every payment for the first year. Self-referrals are not rewarded.",
        },
    )
    Program.objects.get_or_create(
        tenant=tenant,
        name="Agency partners",
        defaults={
            "product": "Acme Enterprise",
            "kind": Program.Kind.AFFILIATE,
            "status": Program.Status.ACTIVE,
            "currency": "EUR",
            "landing_urls": f"{shop_base_url()}enterprise",
            "join_policy": Program.JoinPolicy.APPROVAL,
            "attribution": Program.Attribution.FIRST_CLICK,
            "cookie_days": 90,
        },
    )
    codes = {"partner@acme.test": ("ALICE", "ALICE10"), "bob@partners.test": ("BOB", "BOBSAVES")}
    for email, (code, promo) in codes.items():
        partner = PartnerProfile.objects.get(user__email=email)
        Enrollment.objects.get_or_create(
            tenant=tenant, program=program, partner=partner, defaults={"code": code}
        )
        PromoCode.objects.get_or_create(
            tenant=tenant, program=program, partner=partner, defaults={"code": promo}
        )
    ApiKey.objects.get_or_create(
        tenant=tenant,
        key_hash=hash_secret(DEMO_SHOP_SECRET),
        defaults={"name": "Demo shop", "prefix": DEMO_SHOP_SECRET[:10]},
    )
    from rewards import demo as money_demo

    money_demo.load_rules(tenant)
    if not Click.objects.filter(program=program).exists():
        _history(tenant, program)
    money_demo.load_money(tenant)
    from antifraud import demo as antifraud_demo

    antifraud_demo.load(tenant)
    return program


def _history(tenant: Tenant, program: Program) -> None:
    """A month of believable activity, so every page has something to show."""
    rng = random.Random(2026)
    now = timezone.now()
    enrollments = list(Enrollment.objects.filter(program=program).select_related("partner"))
    browsers = [
        ("Chrome", "Windows"),
        ("Safari", "iOS"),
        ("Firefox", "Linux"),
        ("Chrome", "Android"),
    ]
    clicks = []
    for i in range(120):
        enrollment = rng.choice(enrollments)
        browser, os_name = rng.choice(browsers)
        clicks.append(
            Click(
                tenant=tenant,
                ingest_id=f"demo-{i}",
                program=program,
                enrollment=enrollment,
                partner=enrollment.partner,
                code=enrollment.code,
                visitor_id=f"demo-visitor-{i:04d}",
                sub_id=rng.choice(["", "youtube", "newsletter", "telegram"]),
                landing_url=program.default_landing_url,
                referrer=rng.choice(["", "https://www.youtube.com/", "https://t.me/"]),
                browser=browser,
                os=os_name,
                device="Other",
                ip=f"203.0.113.{0}",
                created_at=now - timedelta(days=rng.randint(0, 29), minutes=rng.randint(0, 1440)),
            )
        )
    Click.objects.bulk_create(clicks)
    names = ["Ivan Petrov", "Maria Silva", "John Smith", "Olga Ivanova", "Ahmed Ali", "Ana Costa"]
    for i, click in enumerate(rng.sample(clicks, 14)):
        name = names[i % len(names)]
        lead = lead_create(
            tenant=tenant,
            program=program,
            source=Lead.Source.SNIPPET,
            data=LeadInput(
                name=f"{name} {i}",
                email=f"customer{i}@example.com",
                visitor_id=click.visitor_id,
            ),
        )
        if i % 2 == 0:
            conversion_record(
                tenant=tenant,
                program=program,
                data=ConversionInput(
                    external_id=f"demo-order-{i}",
                    amount=Decimal(rng.choice(["29.00", "49.00", "99.00", "290.00"])),
                    currency="USD",
                    kind=Conversion.Kind.SUBSCRIPTION if i % 4 else Conversion.Kind.SALE,
                    customer_email=lead.email,
                    visitor_id=click.visitor_id,
                ),
            )
