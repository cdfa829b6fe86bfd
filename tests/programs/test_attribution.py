"""Attribution, leads and conversions through their services."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from partners.models import PartnerProfile
from prm.models import Role
from programs.models import Click, Conversion, Lead, LeadEvent, Program
from programs.services.conversions import ConversionInput, conversion_record, refund_record
from programs.services.enrollments import enrollment_create, promo_code_create
from programs.services.leads import LeadInput, lead_create
from tests.factories import MembershipFactory, PartnerFactory, UserFactory


@pytest.fixture
def program(in_acme):
    return Program.objects.create(
        tenant=in_acme,
        name="Pro",
        currency="USD",
        status=Program.Status.ACTIVE,
        landing_urls="https://shop.example.com/",
        cookie_days=30,
    )


def partner_with_code(tenant, program, code):
    partner = PartnerFactory(tenant=tenant, user=UserFactory(email=f"{code.lower()}@example.test"))
    enrollment_create(tenant=tenant, program=program, partner=partner, code=code)
    return partner


@pytest.fixture
def alice(in_acme, program):
    return partner_with_code(in_acme, program, "ALICE")


@pytest.fixture
def bob(in_acme, program):
    return partner_with_code(in_acme, program, "BOB")


def click(tenant, program, partner, visitor, days_ago, status=Click.Status.ACCEPTED):
    enrollment = partner.enrollments.get(program=program)
    return Click.objects.create(
        tenant=tenant,
        ingest_id=f"t-{visitor}-{partner.pk}-{days_ago}",
        program=program,
        enrollment=enrollment,
        partner=partner,
        code=enrollment.code,
        visitor_id=visitor,
        status=status,
        created_at=timezone.now() - timedelta(days=days_ago),
    )


def sale(tenant, program, order="o-1", amount="100.00", **more):
    return conversion_record(
        tenant=tenant,
        program=program,
        data=ConversionInput(external_id=order, amount=Decimal(amount), currency="USD", **more),
    )


def test_last_click_credits_the_latest_partner(in_acme, program, alice, bob):
    click(in_acme, program, alice, "visitor-1", days_ago=5)
    click(in_acme, program, bob, "visitor-1", days_ago=1)
    conversion, created = sale(in_acme, program, visitor_id="visitor-1")
    assert created
    assert conversion.partner == bob
    assert conversion.attribution["winner"]["via"] == "click"
    assert {"type": "rule", "rule": "last_click", "code": "BOB"} in conversion.attribution[
        "evidence"
    ]


def test_first_click_credits_the_earliest_partner(in_acme, program, alice, bob):
    program.attribution = Program.Attribution.FIRST_CLICK
    program.save()
    click(in_acme, program, alice, "visitor-1", days_ago=5)
    click(in_acme, program, bob, "visitor-1", days_ago=1)
    conversion, _ = sale(in_acme, program, visitor_id="visitor-1")
    assert conversion.partner == alice


def test_a_click_outside_the_window_credits_nobody(in_acme, program, alice):
    click(in_acme, program, alice, "visitor-1", days_ago=31)
    conversion, _ = sale(in_acme, program, visitor_id="visitor-1")
    assert conversion.partner is None
    assert conversion.status == Conversion.Status.UNATTRIBUTED
    [evidence] = conversion.attribution["evidence"]
    assert evidence["note"] == "outside the cookie window"


def test_a_rejected_click_credits_nobody(in_acme, program, alice):
    click(in_acme, program, alice, "visitor-1", days_ago=1, status=Click.Status.REJECTED)
    conversion, _ = sale(in_acme, program, visitor_id="visitor-1")
    assert conversion.partner is None


def test_a_paused_program_credits_nobody(in_acme, program, alice):
    click(in_acme, program, alice, "visitor-1", days_ago=1)
    program.status = Program.Status.PAUSED
    program.save()
    conversion, _ = sale(in_acme, program, visitor_id="visitor-1")
    assert conversion.partner is None


def test_a_blocked_partner_is_not_credited(in_acme, program, alice):
    click(in_acme, program, alice, "visitor-1", days_ago=1)
    PartnerProfile.objects.filter(pk=alice.pk).update(status=PartnerProfile.Status.BLOCKED)
    conversion, _ = sale(in_acme, program, visitor_id="visitor-1")
    assert conversion.partner is None


def test_a_promo_code_outranks_the_cookie(in_acme, program, alice, bob):
    promo_code_create(tenant=in_acme, program=program, partner=bob, code="bobsaves")
    click(in_acme, program, alice, "visitor-1", days_ago=1)
    conversion, _ = sale(in_acme, program, visitor_id="visitor-1", promo_code="BOBSAVES")
    assert conversion.partner == bob
    assert conversion.attribution["winner"]["via"] == "promo_code"
    types = [e["type"] for e in conversion.attribution["evidence"]]
    assert types[0] == "promo_code" and "click" in types


def test_the_lead_owner_outranks_a_later_click(in_acme, program, alice, bob):
    click(in_acme, program, alice, "visitor-1", days_ago=3)
    lead = lead_create(
        tenant=in_acme,
        program=program,
        source=Lead.Source.SNIPPET,
        data=LeadInput(email="Ann@Example.com", visitor_id="visitor-1"),
    )
    assert lead.partner == alice
    click(in_acme, program, bob, "visitor-2", days_ago=0)
    conversion, _ = sale(in_acme, program, customer_email="ann@example.com", visitor_id="visitor-2")
    assert conversion.partner == alice
    assert conversion.attribution["winner"]["via"] == "lead_owner"
    lead.refresh_from_db()
    assert lead.status == Lead.Status.CONVERTED


def test_the_same_order_id_twice_creates_one_conversion(in_acme, program, alice):
    first, created = sale(in_acme, program, order="A-1")
    again, created_again = sale(in_acme, program, order="A-1")
    assert created and not created_again
    assert first.pk == again.pk
    assert Conversion.objects.count() == 1


def test_an_order_id_reused_with_another_amount_is_refused(in_acme, program):
    sale(in_acme, program, order="A-1", amount="10.00")
    with pytest.raises(ValidationError):
        sale(in_acme, program, order="A-1", amount="11.00")


def test_partial_then_full_refund(in_acme, program):
    conversion, _ = sale(in_acme, program, amount="100.00")
    refund_record(tenant=in_acme, conversion=conversion, external_id="r1", amount=Decimal("30.00"))
    _, created = refund_record(
        tenant=in_acme, conversion=conversion, external_id="r1", amount=Decimal("30.00")
    )
    assert not created  # idempotent on the refund id
    conversion.refresh_from_db()
    assert conversion.refunded_amount == Decimal("30.00")
    assert conversion.net_amount == Decimal("70.00")
    with pytest.raises(ValidationError):
        refund_record(
            tenant=in_acme, conversion=conversion, external_id="r2", amount=Decimal("70.01")
        )
    refund_record(tenant=in_acme, conversion=conversion, external_id="r3", amount=None)
    conversion.refresh_from_db()
    assert conversion.refunded_amount == Decimal("100.00")
    assert conversion.status == Conversion.Status.REFUNDED


def test_a_second_submission_of_a_customer_is_a_duplicate_not_credited(
    in_acme, program, alice, bob
):
    first = lead_create(
        tenant=in_acme,
        program=program,
        source=Lead.Source.API,
        data=LeadInput(email="ann@example.com", referral_code="ALICE"),
    )
    second = lead_create(
        tenant=in_acme,
        program=program,
        source=Lead.Source.API,
        data=LeadInput(email="ANN@example.com ", referral_code="BOB"),
    )
    assert first.partner == alice
    assert second.duplicate_of == first
    assert second.partner is None
    assert LeadEvent.objects.filter(lead=first, kind=LeadEvent.Kind.DUPLICATE).exists()


def test_ownership_ends_with_the_window(in_acme, program, alice, bob):
    first = lead_create(
        tenant=in_acme,
        program=program,
        source=Lead.Source.API,
        data=LeadInput(phone="+7 912 345-67-89", referral_code="ALICE"),
    )
    Lead.objects.filter(pk=first.pk).update(owned_until=timezone.now() - timedelta(days=1))
    second = lead_create(
        tenant=in_acme,
        program=program,
        source=Lead.Source.API,
        data=LeadInput(phone="+79123456789", referral_code="BOB"),
    )
    assert first.phone == "+79123456789"
    assert second.duplicate_of is None
    assert second.partner == bob


def test_contacts_are_validated_and_required(in_acme, program):
    with pytest.raises(ValidationError):
        lead_create(tenant=in_acme, program=program, source="api", data=LeadInput(name="x"))
    with pytest.raises(ValidationError):
        lead_create(tenant=in_acme, program=program, source="api", data=LeadInput(email="nope"))
    with pytest.raises(ValidationError):
        lead_create(tenant=in_acme, program=program, source="api", data=LeadInput(phone="12"))
    assert Lead.objects.count() == 0


def test_round_robin_assigns_managers_in_turn(in_acme, program):
    program.lead_assignment = Program.Assignment.ROUND_ROBIN
    program.save()
    m1 = MembershipFactory(tenant=in_acme, role=Role.MANAGER)
    m2 = MembershipFactory(tenant=in_acme, role=Role.MANAGER)
    assigned = [
        lead_create(
            tenant=in_acme, program=program, source="api", data=LeadInput(email=f"c{i}@example.com")
        ).assigned_to
        for i in range(3)
    ]
    assert assigned == [m1, m2, m1]


def test_cabinet_registration_needs_an_active_enrollment(in_acme, program, alice):
    lead = lead_create(
        tenant=in_acme,
        program=program,
        source=Lead.Source.CABINET,
        data=LeadInput(email="deal@example.com", company="Big Co"),
        partner=alice,
    )
    assert lead.partner == alice
    stranger = PartnerFactory(tenant=in_acme)
    with pytest.raises(ValidationError):
        lead_create(
            tenant=in_acme,
            program=program,
            source=Lead.Source.CABINET,
            data=LeadInput(email="other@example.com"),
            partner=stranger,
        )


def test_referral_and_promo_codes_are_unique_per_tenant_case_insensitively(in_acme, program, alice):
    other = PartnerFactory(tenant=in_acme)
    with pytest.raises(ValidationError):
        enrollment_create(tenant=in_acme, program=program, partner=other, code="alice")
    with pytest.raises(ValidationError):
        promo_code_create(tenant=in_acme, program=program, partner=other, code="Alice")
