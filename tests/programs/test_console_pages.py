"""Console pages of programs, conversions and API keys (leads: test_console_leads_pages)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django.utils.html import escape

from partners.search import PICK_PARTNER
from prm.models import ApiKey, AuditEntry
from prm.models.apikey import hash_secret
from prm.tenancy import tenant_scope
from programs.forms import RESERVED_REF_PARAM
from programs.models import Enrollment, Program, PromoCode
from programs.services.conversions import ConversionInput, conversion_record, refund_record
from programs.services.enrollments import CODE_TAKEN
from tests.factories import PartnerFactory, UserFactory
from tests.programs.factories import (
    ClickFactory,
    ConversionFactory,
    EnrollmentFactory,
    LeadFactory,
    ProgramFactory,
    PromoCodeFactory,
)
from tests.programs.helpers import actions, messages_of

PROGRAM_DATA = {
    "name": "Pro plan",
    "product": "Pro",
    "kind": "affiliate",
    "status": "active",
    "currency": "EUR",
    "landing_urls": "https://shop.example.com/\n\n  https://shop.example.com/pricing  ",
    "ref_param": "via",
    "cookie_days": "30",
    "attribution": "first_click",
    "join_policy": "approval",
    "lead_assignment": "manual",
    "cookie_domain": ".example.com",
    "terms": "Pay out monthly.",
}


# Programs: the list


def test_it_lists_programs_with_partner_lead_and_conversion_counts(
    client_for, acme, owner, program, enrollment, bob
):
    EnrollmentFactory(program=program, partner=bob, status=Enrollment.Status.PENDING)
    LeadFactory.create_batch(3, program=program)
    ConversionFactory.create_batch(2, program=program)
    ProgramFactory(tenant=acme, name="Empty", status=Program.Status.DRAFT)
    response = client_for(owner).get("/manage/programs/")
    assert response.status_code == 200
    html = response.content.decode()
    row = html[html.index(f'data-program="{program.pk}"') :]
    row = row[: row.index("</tr>")]
    cells = [c.split(">", 1)[1].split("<", 1)[0].strip() for c in row.split("<td")[1:]]
    assert cells[3:] == ["1", "3", "2"]
    assert "1 waiting" in row
    assert "Empty" in html


def test_it_does_not_list_another_tenants_programs(client_for, acme, owner, globex):
    ProgramFactory(tenant=globex, name="Globex secret program")
    html = client_for(owner).get("/manage/programs/").content.decode()
    assert "Globex secret program" not in html


def test_the_program_list_stays_within_its_query_budget(
    client_for, acme, owner, django_assert_max_num_queries
):
    for _ in range(20):
        enrollment = EnrollmentFactory(program=ProgramFactory(tenant=acme))
        LeadFactory(program=enrollment.program, partner=enrollment.partner)
        ConversionFactory(program=enrollment.program, partner=enrollment.partner)
    client = client_for(owner)
    with django_assert_max_num_queries(7):  # +1: the sidebar's review count, cold cache
        response = client.get("/manage/programs/")
    assert response.content.decode().count("data-program=") == 20


def test_an_analyst_reads_the_programs_without_the_create_button(
    client_for, acme, analyst, program
):
    response = client_for(analyst).get("/manage/programs/")
    assert response.status_code == 200
    assert "/manage/programs/new/" not in response.content.decode()
    assert client_for(analyst).get("/manage/programs/new/").status_code == 403


# Programs: create and edit


def test_an_admin_creates_a_program_and_it_is_audited(client_for, acme, admin):
    response = client_for(admin).post("/manage/programs/new/", PROGRAM_DATA)
    with tenant_scope(acme):
        program = Program.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/manage/programs/{program.pk}/"
    assert program.landing_url_list == [
        "https://shop.example.com/",
        "https://shop.example.com/pricing",
    ]
    assert (program.ref_param, program.cookie_days, program.cookie_domain) == (
        "via",
        30,
        ".example.com",
    )
    assert program.terms == "Pay out monthly."
    assert actions(acme) == ["program.create"]
    entry = AuditEntry.all_tenants_unscoped.get(tenant=acme)
    assert entry.after["name"] == "Pro plan"
    assert entry.actor_email == "admin@acme.test"


def test_the_create_form_offers_the_tenants_currency(client_for, acme, owner):
    acme.default_currency = "RUB"
    acme.save()
    html = client_for(owner).get("/manage/programs/new/").content.decode()
    assert '<option value="RUB" selected>' in html


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("landing_urls", "https://ok.example.com/\nftp://files.example.com/", "Line 2"),
        ("landing_urls", "javascript:alert(1)", "Line 1"),
        ("landing_urls", "  \n ", "This field is required"),
        ("ref_param", "ref param", "Use 1-32 letters"),
        ("ref_param", "utm_source", str(escape(RESERVED_REF_PARAM))),
        ("ref_param", "sub", str(escape(RESERVED_REF_PARAM))),
        ("cookie_days", "0", "greater than or equal to 1"),
        ("cookie_days", "3651", "less than or equal to 3650"),
        ("cookie_domain", "not a domain", "Enter a domain"),
        ("currency", "XXX", "Select a valid choice"),
        ("name", "", "This field is required"),
    ],
)
def test_it_rejects_a_bad_program_and_saves_nothing(client_for, acme, owner, field, value, error):
    response = client_for(owner).post("/manage/programs/new/", {**PROGRAM_DATA, field: value})
    assert response.status_code == 200
    assert error in response.content.decode()
    with tenant_scope(acme):
        assert not Program.objects.exists()
    assert actions(acme) == []


def test_an_owner_edits_a_program_and_the_audit_shows_the_change(client_for, acme, owner, program):
    response = client_for(owner).post(
        f"/manage/programs/{program.pk}/edit/",
        {**PROGRAM_DATA, "name": "Pro 2", "status": "paused"},
    )
    assert response.status_code == 302
    program.refresh_from_db()
    assert (program.name, program.status) == ("Pro 2", "paused")
    entry = AuditEntry.all_tenants_unscoped.get(tenant=acme, action="program.update")
    assert entry.before["name"] == "Pro"
    assert entry.after["name"] == "Pro 2"


def test_a_failed_edit_changes_nothing_and_keeps_the_saved_name(client_for, acme, owner, program):
    response = client_for(owner).post(
        f"/manage/programs/{program.pk}/edit/", {**PROGRAM_DATA, "name": "New", "cookie_days": "0"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "greater than or equal to 1" in html
    assert ">Pro</a>" in html  # the breadcrumb still names the saved program
    program.refresh_from_db()
    assert program.name == "Pro"
    assert actions(acme) == []


def test_the_edit_form_is_filled_with_the_program(client_for, acme, owner, program):
    html = client_for(owner).get(f"/manage/programs/{program.pk}/edit/").content.decode()
    assert 'value="Pro"' in html
    assert "https://shop.example.com/pricing" in html


# Programs: the program page


def test_the_program_page_shows_the_snippet_tag_ready_to_copy(client_for, acme, owner, program):
    html = client_for(owner).get(f"/manage/programs/{program.pk}/").content.decode()
    tag = (
        f'&lt;script async src="http://acme.localhost/t/{program.publishable_key}.js"&gt;'
        "&lt;/script&gt;"
    )
    assert f'<code id="snippet-tag">{tag}</code>' in html
    assert 'data-copy="snippet-tag"' in html


def test_the_program_page_explains_who_gets_the_credit(client_for, acme, owner, program):
    html = client_for(owner).get(f"/manage/programs/{program.pk}/").content.decode()
    section = html[html.index('id="attribution"') :]
    assert section.index("Promo code") < section.index("Lead owner") < section.index("Click")
    assert "Last click" in section


def test_the_program_page_lists_enrollments_with_their_counts(
    client_for, acme, owner, program, enrollment, bob
):
    ClickFactory.create_batch(3, enrollment=enrollment)
    LeadFactory.create_batch(2, program=program, partner=enrollment.partner)
    ConversionFactory(program=program, partner=enrollment.partner)
    EnrollmentFactory(program=program, partner=bob, status=Enrollment.Status.PENDING)
    html = client_for(owner).get(f"/manage/programs/{program.pk}/").content.decode()
    row = html[html.index(f'data-enrollment="{enrollment.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "<code>ALICE</code>" in row
    assert "<td>3</td><td>2</td><td>1</td>" in row
    assert "Approve" not in row
    pending = html[html.index("Bob") :]
    assert "Approve" in pending[: pending.index("</tr>")]


def test_the_program_page_stays_within_its_query_budget(
    client_for, acme, owner, program, django_assert_max_num_queries
):
    for _ in range(20):
        enrollment = EnrollmentFactory(program=program)
        ClickFactory(enrollment=enrollment)
        LeadFactory(program=program, partner=enrollment.partner)
        PromoCodeFactory(program=program, partner=enrollment.partner)
    client = client_for(owner)
    # Both lists paginate (a count and a page each) and the page's three activity
    # counts are one GROUP BY each; tests/prm/test_query_counts.py checks none grows.
    with django_assert_max_num_queries(14):  # +1: the sidebar's review count, cold cache
        response = client.get(f"/manage/programs/{program.pk}/")
    assert response.content.decode().count("data-enrollment=") == 20


def test_an_analyst_sees_the_program_page_without_controls(
    client_for, acme, analyst, program, enrollment
):
    html = client_for(analyst).get(f"/manage/programs/{program.pk}/").content.decode()
    assert 'id="enroll-form"' not in html
    assert 'id="promo-form"' not in html
    assert "/status/" not in html
    assert "/edit/" not in html


@pytest.mark.parametrize(("status", "label"), [("active", "Active"), ("rejected", "Rejected")])
def test_a_manager_approves_or_rejects_a_pending_enrollment(
    client_for, acme, manager, program, alice, status, label
):
    pending = EnrollmentFactory(program=program, partner=alice, status=Enrollment.Status.PENDING)
    response = client_for(manager).post(
        f"/manage/enrollments/{pending.pk}/status/", {"status": status}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/manage/programs/{program.pk}/"
    pending.refresh_from_db()
    assert pending.status == status
    entry = AuditEntry.all_tenants_unscoped.get(tenant=acme, action="enrollment.status")
    assert (entry.before, entry.after) == ({"status": "pending"}, {"status": status})


def test_an_enrollment_status_must_be_active_or_rejected(
    client_for, acme, owner, program, enrollment
):
    response = client_for(owner).post(
        f"/manage/enrollments/{enrollment.pk}/status/", {"status": "pending"}
    )
    assert response.status_code == 302
    assert messages_of(response) == ["Choose a valid status."]
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.ACTIVE
    assert actions(acme) == []


def test_an_analyst_and_finance_cannot_approve_an_enrollment(
    client_for, acme, analyst, finance, program, alice
):
    pending = EnrollmentFactory(program=program, partner=alice, status=Enrollment.Status.PENDING)
    for user in (analyst, finance):
        response = client_for(user).post(
            f"/manage/enrollments/{pending.pk}/status/", {"status": "active"}
        )
        assert response.status_code == 403
    pending.refresh_from_db()
    assert pending.status == Enrollment.Status.PENDING


def test_staff_enroll_a_partner_by_hand_even_in_an_invitation_only_program(
    client_for, acme, manager, alice
):
    program = ProgramFactory(tenant=acme, join_policy=Program.JoinPolicy.INVITATION)
    response = client_for(manager).post(
        f"/manage/programs/{program.pk}/enroll/", {"partner": str(alice.pk), "code": "alice-vip"}
    )
    assert response.status_code == 302
    with tenant_scope(acme):
        enrollment = Enrollment.objects.get(program=program)
    assert (enrollment.partner, enrollment.code, enrollment.status) == (
        alice,
        "ALICE-VIP",
        "active",
    )
    assert "ALICE-VIP" in messages_of(response)[0]


def test_enrolling_with_a_taken_code_shows_the_error(
    client_for, acme, owner, program, enrollment, bob
):
    response = client_for(owner).post(
        f"/manage/programs/{program.pk}/enroll/", {"partner": str(bob.pk), "code": "alice"}
    )
    assert response.status_code == 200
    assert str(CODE_TAKEN) in response.content.decode()
    with tenant_scope(acme):
        assert not Enrollment.objects.filter(partner=bob).exists()


def test_enrolling_another_tenants_partner_is_refused(client_for, acme, owner, program, globex):
    stranger = PartnerFactory(tenant=globex)
    response = client_for(owner).post(
        f"/manage/programs/{program.pk}/enroll/", {"partner": str(stranger.pk)}
    )
    assert response.status_code == 200
    assert str(PICK_PARTNER) in response.content.decode()
    assert not Enrollment.all_tenants_unscoped.exists()


def test_staff_create_a_generated_and_a_chosen_promo_code(
    client_for, acme, owner, program, enrollment, alice
):
    client = client_for(owner)
    assert (
        client.post(
            f"/manage/programs/{program.pk}/promo-codes/", {"partner": str(alice.pk)}
        ).status_code
        == 302
    )
    assert (
        client.post(
            f"/manage/programs/{program.pk}/promo-codes/",
            {"partner": str(alice.pk), "code": "spring24"},
        ).status_code
        == 302
    )
    with tenant_scope(acme):
        codes = sorted(PromoCode.objects.filter(partner=alice).values_list("code", flat=True))
    assert len(codes) == 2
    assert "SPRING24" in codes
    html = client.get(f"/manage/programs/{program.pk}/").content.decode()
    assert "<code>SPRING24</code>" in html


@pytest.mark.parametrize(
    ("code", "error"), [("ALICE", str(CODE_TAKEN)), ("a b", "Use 3-64 letters")]
)
def test_a_promo_code_that_is_taken_or_malformed_is_refused(
    client_for, acme, owner, program, enrollment, alice, code, error
):
    response = client_for(owner).post(
        f"/manage/programs/{program.pk}/promo-codes/", {"partner": str(alice.pk), "code": code}
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    with tenant_scope(acme):
        assert not PromoCode.objects.exists()


def test_a_promo_code_is_only_for_a_partner_active_in_the_program(
    client_for, acme, owner, program, bob
):
    response = client_for(owner).post(
        f"/manage/programs/{program.pk}/promo-codes/", {"partner": str(bob.pk)}
    )
    assert response.status_code == 200
    assert str(PICK_PARTNER) in response.content.decode()
    with tenant_scope(acme):
        assert not PromoCode.objects.exists()


# Conversions


def test_it_lists_and_filters_conversions(client_for, acme, owner, program, alice, enrollment):
    mine = ConversionFactory(program=program, partner=alice, external_id="A-1")
    ConversionFactory(program=program, external_id="B-2")
    refunded = ConversionFactory(
        program=program,
        external_id="C-3",
        status="refunded",
        refunded_amount=Decimal("100.00"),
    )
    client = client_for(owner)
    html = client.get("/manage/conversions/").content.decode()
    for order in ("A-1", "B-2", "C-3"):
        assert order in html
    row = html[html.index(f'data-conversion="{mine.pk}"') :]
    assert "100.00 USD" in row[: row.index("</tr>")]
    by_partner = client.get(f"/manage/conversions/?partner={alice.pk}").content.decode()
    assert "A-1" in by_partner
    assert "B-2" not in by_partner
    by_status = client.get("/manage/conversions/?status=refunded").content.decode()
    assert f'data-conversion="{refunded.pk}"' in by_status
    assert "A-1" not in by_status


def test_the_conversion_list_stays_within_its_query_budget(
    client_for, acme, analyst, program, django_assert_max_num_queries
):
    for _ in range(20):
        enrollment = EnrollmentFactory(program=program)
        ConversionFactory(program=program, partner=enrollment.partner)
    client = client_for(analyst)
    with django_assert_max_num_queries(10):
        response = client.get(f"/manage/conversions/?program={program.pk}")
    assert response.content.decode().count("data-conversion=") == 20


def test_the_conversion_page_explains_the_attribution_and_lists_refunds(
    client_for, acme, finance, program, enrollment, alice, bob
):
    EnrollmentFactory(program=program, partner=bob, code="BOB")
    PromoCodeFactory(program=program, partner=bob, code="BOBSALE")
    ClickFactory(enrollment=enrollment, visitor_id="visitor-0001")
    with tenant_scope(acme):
        conversion, _ = conversion_record(
            tenant=acme,
            program=program,
            data=ConversionInput(
                external_id="ORD-9",
                amount=Decimal("80.00"),
                currency="USD",
                promo_code="bobsale",
                visitor_id="visitor-0001",
            ),
        )
        refund_record(
            tenant=acme,
            conversion=conversion,
            external_id="R-1",
            amount=Decimal("30.00"),
            reason="damaged",
        )
    html = client_for(finance).get(f"/manage/conversions/{conversion.pk}/").content.decode()
    trail = html[html.index('id="attribution-trail"') :]
    assert "Credited to" in trail
    assert "Bob" in trail
    assert "via Promo code" in trail
    assert "A promo code was used; it outranks leads and cookies." in trail
    assert trail.index("Promo code") < trail.index("Lead owner") < trail.index("Click")
    assert "<code>BOBSALE</code>" in trail
    assert "<code>ALICE</code>" in trail  # the click that lost, kept in the trail
    rows = trail.split("<tr class=")[1:]
    assert rows[0].startswith('"won"') and "credited" in rows[0] and "BOBSALE" in rows[0]
    assert rows[1].startswith('"eligible"') and "eligible, outranked" in rows[1]
    refunds = html[html.index('id="refunds"') :]
    assert "R-1" in refunds
    assert "damaged" in refunds
    assert "50.00 USD" in html  # net


def test_an_unattributed_conversion_says_nobody_was_credited(client_for, acme, owner, program):
    with tenant_scope(acme):
        conversion, _ = conversion_record(
            tenant=acme,
            program=program,
            data=ConversionInput(external_id="X", amount=Decimal("5"), currency="USD"),
        )
    html = client_for(owner).get(f"/manage/conversions/{conversion.pk}/").content.decode()
    assert "Credited to nobody." in html
    assert "No referral evidence at all." in html


# API keys


def test_an_admin_creates_a_key_and_sees_the_secret_once(client_for, acme, admin):
    client = client_for(admin)
    response = client.post(
        "/manage/api-keys/new/",
        {"name": "Shop backend", "scopes": ["leads:write", "conversions:write"]},
    )
    assert response.status_code == 200, response.content.decode()[:2000]
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    secret = html.split('<code id="secret">', 1)[1].split("<", 1)[0]
    assert secret.startswith("sk_")
    with tenant_scope(acme):
        key = ApiKey.objects.get()
    assert key.key_hash == hash_secret(secret)
    assert key.created_by.email == "admin@acme.test"
    assert key.scopes == ["leads:write", "conversions:write"] and not key.legacy_errors
    assert secret not in client.get("/manage/api-keys/").content.decode()
    assert f"<code>{key.prefix}…</code>" in client.get("/manage/api-keys/").content.decode()
    entry = AuditEntry.all_tenants_unscoped.get(tenant=acme)
    assert entry.action == "api_key.create"
    assert secret not in str(entry.after)


def test_a_key_needs_a_name(client_for, acme, owner):
    response = client_for(owner).post("/manage/api-keys/new/", {"name": ""})
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert not ApiKey.all_tenants_unscoped.exists()


def test_an_owner_revokes_a_key_once(client_for, acme, owner):
    secret, prefix, digest = ApiKey.generate()
    key = ApiKey.all_tenants_unscoped.create(
        tenant=acme, name="old", prefix=prefix, key_hash=digest
    )
    client = client_for(owner)
    assert client.post(f"/manage/api-keys/{key.pk}/revoke/").status_code == 302
    again = client.post(f"/manage/api-keys/{key.pk}/revoke/")
    assert messages_of(again)[-1] == "API key old was already revoked."
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert actions(acme) == ["api_key.revoke"]
    assert "revoked" in client.get("/manage/api-keys/").content.decode()


def test_the_api_key_list_stays_within_its_query_budget(
    client_for, acme, owner, django_assert_max_num_queries
):
    user = UserFactory()
    for n in range(20):
        _, prefix, digest = ApiKey.generate()
        ApiKey.all_tenants_unscoped.create(
            tenant=acme, name=f"key {n}", prefix=prefix, key_hash=digest, created_by=user
        )
    client = client_for(owner)
    with django_assert_max_num_queries(7):  # +1: the sidebar's review count, cold cache
        response = client.get("/manage/api-keys/")
    assert response.content.decode().count("data-key=") == 20


@pytest.mark.parametrize("role", ["manager", "finance", "analyst"])
def test_only_owners_and_admins_manage_api_keys(client_for, acme, request, role):
    user = request.getfixturevalue(role)
    client = client_for(user)
    assert client.get("/manage/api-keys/").status_code == 403
    assert client.post("/manage/api-keys/new/", {"name": "x"}).status_code == 403
    assert not ApiKey.all_tenants_unscoped.exists()


def test_the_sidebar_links_the_new_pages(client_for, acme, owner, analyst):
    html = client_for(owner).get("/manage/").content.decode()
    for url in ("/manage/programs/", "/manage/leads/", "/manage/conversions/", "/manage/api-keys/"):
        assert f'href="{url}"' in html
    assert 'href="/manage/api-keys/"' not in client_for(analyst).get("/manage/").content.decode()


@pytest.mark.parametrize(("rule", "credited"), [("last_click", "BOB"), ("first_click", "ALICE")])
def test_the_trail_marks_the_click_the_programs_rule_picked(
    client_for, acme, owner, program, enrollment, bob, rule, credited
):
    program.attribution = rule
    program.save()
    bobs = EnrollmentFactory(program=program, partner=bob, code="BOB")
    now = timezone.now()
    ClickFactory(
        enrollment=enrollment, visitor_id="visitor-0002", created_at=now - timedelta(hours=2)
    )
    ClickFactory(enrollment=bobs, visitor_id="visitor-0002", created_at=now - timedelta(hours=1))
    with tenant_scope(acme):
        conversion, _ = conversion_record(
            tenant=acme,
            program=program,
            data=ConversionInput(
                external_id="ORD-R", amount=Decimal("10"), currency="USD", visitor_id="visitor-0002"
            ),
        )
    html = client_for(owner).get(f"/manage/conversions/{conversion.pk}/").content.decode()
    won = html.split('<tr class="won">', 1)[1].split("</tr>", 1)[0]
    assert f"<code>{credited}</code>" in won
    assert html.count('<tr class="won">') == 1
    assert f"picked the click with code {credited}" in html
