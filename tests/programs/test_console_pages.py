"""Console pages of programs, leads, conversions and API keys."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone
from django.utils.html import escape

from partners.models import PartnerProfile
from prm.models import ApiKey, AuditEntry, Membership, Role
from prm.models.apikey import hash_secret
from prm.tenancy import tenant_scope
from programs.forms import RESERVED_REF_PARAM
from programs.models import Enrollment, Lead, LeadEvent, Program, PromoCode
from programs.services.conversions import ConversionInput, conversion_record, refund_record
from programs.services.enrollments import CODE_TAKEN
from programs.services.leads import NEEDS_CONTACT, LeadInput, lead_create
from programs.services.normalize import INVALID_EMAIL, INVALID_PHONE
from tests.factories import MembershipFactory, PartnerFactory, UserFactory
from tests.programs.factories import (
    ClickFactory,
    ConversionFactory,
    EnrollmentFactory,
    LeadFactory,
    ProgramFactory,
    PromoCodeFactory,
)

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


def messages_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in get_messages(response.wsgi_request)]


def actions(tenant) -> list[str]:  # type: ignore[no-untyped-def]
    return list(
        AuditEntry.all_tenants_unscoped.filter(tenant=tenant)
        .order_by("created_at")
        .values_list("action", flat=True)
    )


def profile_of(tenant, user) -> PartnerProfile:  # type: ignore[no-untyped-def]
    with tenant_scope(tenant):
        return PartnerProfile.objects.select_related("user").get(user=user)


def membership_of(tenant, user) -> Membership:  # type: ignore[no-untyped-def]
    with tenant_scope(tenant):
        return Membership.objects.select_related("user").get(user=user)


@pytest.fixture
def program(acme):  # type: ignore[no-untyped-def]
    return ProgramFactory(tenant=acme, name="Pro", join_policy=Program.JoinPolicy.APPROVAL)


@pytest.fixture
def alice(acme, partner):  # type: ignore[no-untyped-def]
    return profile_of(acme, partner)


@pytest.fixture
def bob(acme):  # type: ignore[no-untyped-def]
    return PartnerFactory(
        tenant=acme, display_name="Bob", user=UserFactory(email="bob@example.test")
    )


@pytest.fixture
def enrollment(program, alice):  # type: ignore[no-untyped-def]
    return EnrollmentFactory(program=program, partner=alice, code="ALICE")


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
    with django_assert_max_num_queries(6):
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
    with django_assert_max_num_queries(10):
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
    assert "Select a valid choice" in response.content.decode()
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
    assert "Select a valid choice" in response.content.decode()
    with tenant_scope(acme):
        assert not PromoCode.objects.exists()


# Leads: the list


@pytest.fixture
def leads(acme, program, enrollment, alice, manager):  # type: ignore[no-untyped-def]
    """Four leads: one of alice's assigned to the manager, a duplicate, two more."""
    other = ProgramFactory(tenant=acme, name="Other")
    staff = membership_of(acme, manager)
    first = LeadFactory(
        program=program,
        partner=alice,
        name="Ann Lee",
        email="ann@example.com",
        phone="+14155550101",
        company="Initech",
        assigned_to=staff,
        status=Lead.Status.QUALIFIED,
    )
    return {
        "ann": first,
        "dup": LeadFactory(program=program, name="Ann again", duplicate_of=first),
        "zed": LeadFactory(program=other, name="Zed", email="zed@example.org"),
        "bea": LeadFactory(program=program, name="Bea", email="bea@globex-corp.com"),
    }


def listed(response) -> list[str]:  # type: ignore[no-untyped-def]
    html = response.content.decode()
    return [chunk.split('"', 1)[0] for chunk in html.split('data-lead="')[1:]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"ann", "dup", "zed", "bea"}),
        ("q=initech", {"ann"}),
        ("q=ZED@EXAMPLE", {"zed"}),
        ("q=5550101", {"ann"}),
        ("q=ann", {"ann", "dup"}),
        ("status=qualified", {"ann"}),
        ("duplicates=on", {"dup"}),
        ("manager=none", {"dup", "zed", "bea"}),
        ("q=%00", {"ann", "dup", "zed", "bea"}),
    ],
)
def test_it_searches_and_filters_leads(client_for, acme, owner, leads, query, expected):
    response = client_for(owner).get(f"/manage/leads/?{query}")
    assert response.status_code == 200
    assert set(listed(response)) == {str(leads[name].pk) for name in expected}


def test_it_filters_leads_by_program_partner_and_manager(
    client_for, acme, owner, manager, program, alice, leads
):
    client = client_for(owner)
    staff = membership_of(acme, manager)
    by_program = listed(client.get(f"/manage/leads/?program={program.pk}"))
    assert set(by_program) == {str(leads[n].pk) for n in ("ann", "dup", "bea")}
    assert listed(client.get(f"/manage/leads/?partner={alice.pk}")) == [str(leads["ann"].pk)]
    assert listed(client.get(f"/manage/leads/?manager={staff.pk}")) == [str(leads["ann"].pk)]


def test_a_malformed_filter_is_shown_and_ignored(client_for, acme, owner, leads):
    response = client_for(owner).get("/manage/leads/?program=nope&status=qualified")
    assert response.status_code == 200
    assert listed(response) == [str(leads["ann"].pk)]
    assert "is not a valid UUID" in response.content.decode()


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("name", ["ann", "dup", "bea", "zed"]),
        ("-name", ["zed", "bea", "dup", "ann"]),
        ("created_at", ["ann", "dup", "zed", "bea"]),
        ("-created_at", ["bea", "zed", "dup", "ann"]),
        ("bogus", ["bea", "zed", "dup", "ann"]),
    ],
)
def test_it_sorts_leads(client_for, acme, owner, leads, sort, order):
    response = client_for(owner).get(f"/manage/leads/?sort={sort}")
    assert listed(response) == [str(leads[name].pk) for name in order]


def test_the_sort_links_flip_the_direction_and_keep_the_filters(client_for, acme, owner, leads):
    html = client_for(owner).get("/manage/leads/?status=new&sort=name").content.decode()
    assert 'href="?status=new&amp;sort=-name"' in html
    assert 'href="?status=new&amp;sort=status"' in html


def test_it_paginates_fifty_leads_a_page(client_for, acme, owner, program):
    LeadFactory.create_batch(55, program=program)
    client = client_for(owner)
    first = client.get("/manage/leads/?status=new")
    assert len(listed(first)) == 50
    assert "?status=new&amp;page=2" in first.content.decode()
    assert len(listed(client.get("/manage/leads/?status=new&page=2"))) == 5


def test_the_lead_list_stays_within_its_query_budget(
    client_for, acme, owner, manager, program, django_assert_max_num_queries
):
    staff = membership_of(acme, manager)
    for _ in range(20):
        enrollment = EnrollmentFactory(program=program)
        LeadFactory(program=program, partner=enrollment.partner, assigned_to=staff)
    client = client_for(owner)
    with django_assert_max_num_queries(11):
        response = client.get(f"/manage/leads/?program={program.pk}&sort=name")
    assert len(listed(response)) == 20


def test_an_analyst_reads_leads_without_checkboxes_or_bulk_actions(
    client_for, acme, analyst, leads
):
    response = client_for(analyst).get("/manage/leads/")
    assert response.status_code == 200
    html = response.content.decode()
    assert len(listed(response)) == 4
    assert 'name="leads"' not in html
    assert "With the selected leads" not in html


# Leads: bulk actions


def test_bulk_set_status_changes_the_chosen_leads_and_is_audited(client_for, acme, manager, leads):
    chosen = [leads["zed"], leads["bea"]]
    response = client_for(manager).post(
        "/manage/leads/bulk/",
        {
            "leads": [str(lead.pk) for lead in chosen],
            "action": "status",
            "status": "contacted",
            "next": "/manage/leads/?status=new",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/manage/leads/?status=new"
    assert messages_of(response) == ["2 leads updated."]
    with tenant_scope(acme):
        assert set(Lead.objects.filter(status="contacted")) == set(chosen)
        assert LeadEvent.objects.filter(kind=LeadEvent.Kind.STATUS).count() == 2
    entry = AuditEntry.all_tenants_unscoped.get(tenant=acme)
    assert entry.action == "lead.bulk_update"
    assert entry.after["count"] == 2


def test_bulk_assign_and_unassign(client_for, acme, owner, manager, leads):
    staff = membership_of(acme, manager)
    client = client_for(owner)
    ids = [str(leads["zed"].pk), str(leads["bea"].pk)]
    client.post("/manage/leads/bulk/", {"leads": ids, "action": "assign", "manager": staff.pk})
    with tenant_scope(acme):
        assert Lead.objects.filter(assigned_to=staff).count() == 3
    client.post("/manage/leads/bulk/", {"leads": ids, "action": "unassign"})
    with tenant_scope(acme):
        assert Lead.objects.filter(assigned_to=staff).count() == 1


@pytest.mark.parametrize(
    "data",
    [
        {"action": "status"},  # no status chosen
        {"action": "assign"},  # no manager chosen
        {"action": "burn", "status": "new"},
        {"action": "status", "status": "won"},
    ],
)
def test_a_bad_bulk_action_changes_nothing(client_for, acme, owner, leads, data):
    response = client_for(owner).post(
        "/manage/leads/bulk/", {"leads": [str(leads["zed"].pk)], **data, "next": "//evil.test/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/manage/leads/"
    assert messages_of(response)[0].startswith("Nothing changed")
    leads["zed"].refresh_from_db()
    assert (leads["zed"].status, leads["zed"].assigned_to_id) == ("new", None)
    assert actions(acme) == []


def test_bulk_actions_cannot_reach_another_tenants_leads(client_for, acme, owner, leads, globex):
    theirs = LeadFactory(program=ProgramFactory(tenant=globex))
    response = client_for(owner).post(
        "/manage/leads/bulk/",
        {"leads": [str(leads["zed"].pk), str(theirs.pk)], "action": "status", "status": "rejected"},
    )
    assert response.status_code == 302
    theirs.refresh_from_db()
    leads["zed"].refresh_from_db()
    assert (theirs.status, leads["zed"].status) == ("new", "new")


# Leads: added by hand


def test_staff_add_a_lead_by_hand(client_for, acme, manager, program):
    response = client_for(manager).post(
        "/manage/leads/new/",
        {"program": str(program.pk), "name": "Carl", "email": " Carl@Example.COM "},
    )
    with tenant_scope(acme):
        lead = Lead.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/manage/leads/{lead.pk}/"
    assert (lead.source, lead.email, lead.partner) == ("console", "carl@example.com", None)
    with tenant_scope(acme):
        assert LeadEvent.objects.get(lead=lead).actor.email == "manager@acme.test"


def test_a_lead_added_by_hand_may_credit_an_enrolled_partner(
    client_for, acme, owner, program, enrollment, alice, bob
):
    client = client_for(owner)
    refused = client.post(
        "/manage/leads/new/",
        {"program": str(program.pk), "email": "x@example.com", "partner": str(bob.pk)},
    )
    assert refused.status_code == 200
    assert "not an active partner of this program" in refused.content.decode()
    client.post(
        "/manage/leads/new/",
        {"program": str(program.pk), "email": "x@example.com", "partner": str(alice.pk)},
    )
    with tenant_scope(acme):
        assert Lead.objects.get().partner == alice


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"email": "not-an-email"}, str(INVALID_EMAIL)),
        ({"phone": "12"}, str(INVALID_PHONE)),
        ({"name": "Only a name"}, str(NEEDS_CONTACT)),
    ],
)
def test_a_bad_lead_shows_the_error_and_saves_nothing(
    client_for, acme, owner, program, data, error
):
    response = client_for(owner).post("/manage/leads/new/", {"program": str(program.pk), **data})
    assert response.status_code == 200
    assert error in response.content.decode()
    with tenant_scope(acme):
        assert not Lead.objects.exists()


# Leads: the lead page


def test_the_lead_page_shows_details_credit_trail_and_history(
    client_for, acme, owner, program, enrollment, alice
):
    with tenant_scope(acme):
        first = lead_create(
            tenant=acme,
            program=program,
            source=Lead.Source.CABINET,
            partner=alice,
            data=LeadInput(name="Dora", email="dora@example.com"),
        )
        second = lead_create(
            tenant=acme,
            program=program,
            source=Lead.Source.CONSOLE,
            data=LeadInput(email="dora@example.com"),
        )
    client = client_for(owner)
    html = client.get(f"/manage/leads/{first.pk}/").content.decode()
    assert "dora@example.com" in html
    assert f'<dd id="lead-partner">{alice}</dd>' in html
    assert "Deal registration" in html
    assert "Credited to" in html
    assert "Later submissions of the same customer" in html
    assert f"/manage/leads/{second.pk}/" in html
    dup = client.get(f"/manage/leads/{second.pk}/").content.decode()
    assert f'href="/manage/leads/{first.pk}/" id="duplicate-of"' in dup
    assert "Credited to nobody." in dup
    assert "Duplicate: this customer was already brought in" in dup


def test_a_manager_changes_status_assigns_and_adds_a_note(client_for, acme, manager, owner, leads):
    lead = leads["zed"]
    client = client_for(manager)
    staff = membership_of(acme, owner)
    assert (
        client.post(f"/manage/leads/{lead.pk}/status/", {"status": "qualified"}).status_code == 302
    )
    assert client.post(f"/manage/leads/{lead.pk}/assign/", {"manager": staff.pk}).status_code == 302
    assert (
        client.post(f"/manage/leads/{lead.pk}/notes/", {"text": "Called, keen."}).status_code == 302
    )
    lead.refresh_from_db()
    assert (lead.status, lead.assigned_to) == ("qualified", staff)
    html = client.get(f"/manage/leads/{lead.pk}/").content.decode()
    history = html[html.index('id="history"') :]
    assert "Status changed" in history
    assert "<del>new</del> → qualified" in history
    assert "Called, keen." in history
    assert client.post(f"/manage/leads/{lead.pk}/assign/", {"manager": ""}).status_code == 302
    lead.refresh_from_db()
    assert lead.assigned_to is None


@pytest.mark.parametrize(
    ("action", "data", "error"),
    [
        ("status", {"status": "won"}, "Select a valid choice"),
        ("assign", {"manager": "nope"}, "is not a valid UUID"),
        ("notes", {"text": ""}, "This field is required"),
    ],
)
def test_a_bad_lead_write_shows_the_error_and_changes_nothing(
    client_for, acme, owner, leads, action, data, error
):
    lead = leads["zed"]
    response = client_for(owner).post(f"/manage/leads/{lead.pk}/{action}/", data)
    assert response.status_code == 200
    assert error in response.content.decode()
    with tenant_scope(acme):
        assert not LeadEvent.objects.filter(lead=lead).exists()


def test_a_lead_cannot_be_assigned_to_an_analyst(client_for, acme, owner, analyst, leads):
    staff = membership_of(acme, analyst)
    response = client_for(owner).post(
        f"/manage/leads/{leads['zed'].pk}/assign/", {"manager": str(staff.pk)}
    )
    assert response.status_code == 200
    leads["zed"].refresh_from_db()
    assert leads["zed"].assigned_to is None


def test_an_analyst_reads_a_lead_but_cannot_change_it(client_for, acme, analyst, leads):
    lead = leads["ann"]
    client = client_for(analyst)
    page = client.get(f"/manage/leads/{lead.pk}/")
    assert page.status_code == 200
    assert 'id="lead-actions"' not in page.content.decode()
    for action, data in [("status", {"status": "new"}), ("notes", {"text": "x"})]:
        assert client.post(f"/manage/leads/{lead.pk}/{action}/", data).status_code == 403
    assert client.get("/manage/leads/new/").status_code == 403
    lead.refresh_from_db()
    assert lead.status == "qualified"


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
    response = client.post("/manage/api-keys/new/", {"name": "Shop backend"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    secret = html.split('<code id="secret">', 1)[1].split("<", 1)[0]
    assert secret.startswith("sk_")
    with tenant_scope(acme):
        key = ApiKey.objects.get()
    assert key.key_hash == hash_secret(secret)
    assert key.created_by.email == "admin@acme.test"
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
    with django_assert_max_num_queries(6):
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


def test_a_round_robin_program_spreads_hand_added_leads(client_for, acme, owner, program):
    program.lead_assignment = Program.Assignment.ROUND_ROBIN
    program.save()
    first, second = (MembershipFactory(tenant=acme, role=Role.MANAGER) for _ in range(2))
    client = client_for(owner)
    for n in range(2):
        client.post(
            "/manage/leads/new/", {"program": str(program.pk), "email": f"rr{n}@example.com"}
        )
    with tenant_scope(acme):
        assigned = list(Lead.objects.order_by("created_at").values_list("assigned_to", flat=True))
    assert assigned == [first.pk, second.pk]


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
