"""Factories for the tracking domain: programs, enrollments, promo codes, leads,
conversions and clicks. Each row takes its tenant from its program, so one
``program=`` (or ``tenant=``) keeps a whole graph inside one tenant."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.utils import timezone

from programs.models import Click, Conversion, Enrollment, Lead, Program, PromoCode
from tests.factories import PartnerFactory, TenantFactory, TenantOwnedFactory


class ProgramFactory(TenantOwnedFactory):
    class Meta:
        model = Program

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Program {n}")
    currency = "USD"
    status = Program.Status.ACTIVE
    landing_urls = "https://shop.example.com/\nhttps://shop.example.com/pricing"


class EnrollmentFactory(TenantOwnedFactory):
    class Meta:
        model = Enrollment

    program = factory.SubFactory(ProgramFactory)
    tenant = factory.LazyAttribute(lambda o: o.program.tenant)
    partner = factory.SubFactory(PartnerFactory, tenant=factory.SelfAttribute("..tenant"))
    status = Enrollment.Status.ACTIVE
    code = factory.Sequence(lambda n: f"CODE{n:04d}")


class PromoCodeFactory(TenantOwnedFactory):
    class Meta:
        model = PromoCode

    program = factory.SubFactory(ProgramFactory)
    tenant = factory.LazyAttribute(lambda o: o.program.tenant)
    partner = factory.SubFactory(PartnerFactory, tenant=factory.SelfAttribute("..tenant"))
    code = factory.Sequence(lambda n: f"PROMO{n:04d}")


class LeadFactory(TenantOwnedFactory):
    class Meta:
        model = Lead

    program = factory.SubFactory(ProgramFactory)
    tenant = factory.LazyAttribute(lambda o: o.program.tenant)
    partner = None
    source = Lead.Source.CONSOLE
    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")


class ConversionFactory(TenantOwnedFactory):
    class Meta:
        model = Conversion

    program = factory.SubFactory(ProgramFactory)
    tenant = factory.LazyAttribute(lambda o: o.program.tenant)
    partner = None
    external_id = factory.Sequence(lambda n: f"ORDER-{n:05d}")
    status = factory.LazyAttribute(
        lambda o: Conversion.Status.ATTRIBUTED if o.partner else Conversion.Status.UNATTRIBUTED
    )
    amount = Decimal("100.00")
    currency = "USD"
    occurred_at = factory.LazyFunction(timezone.now)


class ClickFactory(TenantOwnedFactory):
    class Meta:
        model = Click

    enrollment = factory.SubFactory(EnrollmentFactory)
    program = factory.LazyAttribute(lambda o: o.enrollment.program)
    tenant = factory.LazyAttribute(lambda o: o.enrollment.tenant)
    partner = factory.LazyAttribute(lambda o: o.enrollment.partner)
    code = factory.LazyAttribute(lambda o: o.enrollment.code)
    ingest_id = factory.Sequence(lambda n: f"test-{n}")
    visitor_id = factory.Sequence(lambda n: f"visitor{n:08d}")
    landing_url = "https://shop.example.com/"
    browser = "Firefox"
    os = "Linux"
    ip = "203.0.113.0"
    created_at = factory.LazyFunction(timezone.now)
