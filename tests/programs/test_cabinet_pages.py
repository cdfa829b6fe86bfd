"""Cabinet pages: the partner's programs, links, promo codes, deals and stats."""

from __future__ import annotations

from decimal import Decimal

import pytest

from partners.models import PartnerProfile
from prm.tenancy import tenant_scope
from programs.analytics.refresh import rollups_rebuild
from programs.models import Enrollment, Lead, Program, PromoCode
from programs.services.enrollments import CODE_TAKEN
from programs.services.leads import LeadInput, lead_create
from programs.services.normalize import INVALID_EMAIL, INVALID_PHONE
from tests.programs.factories import (
    ClickFactory,
    ConversionFactory,
    EnrollmentFactory,
    LeadFactory,
    ProgramFactory,
    PromoCodeFactory,
)
from tests.programs.helpers import messages_of


@pytest.fixture
def program(acme) -> Program:  # type: ignore[no-untyped-def]
    """Overrides the conftest's: another ref_param, a landing URL with a query, terms."""
    return ProgramFactory(
        tenant=acme,
        name="Pro",
        ref_param="via",
        landing_urls="https://shop.example.com/?lang=en\nhttps://shop.example.com/pricing",
        terms="Commission: 20% of the first payment.",
    )


# /programs/


def test_it_lists_the_partners_programs_and_those_open_to_join(
    client_for, acme, partner, alice, enrollment
):
    pending = EnrollmentFactory(
        program=ProgramFactory(tenant=acme, name="Waiting"),
        partner=alice,
        status=Enrollment.Status.PENDING,
    )
    ProgramFactory(tenant=acme, name="Open one", join_policy=Program.JoinPolicy.OPEN)
    ProgramFactory(tenant=acme, name="Ask first", join_policy=Program.JoinPolicy.APPROVAL)
    ProgramFactory(tenant=acme, name="Invite only", join_policy=Program.JoinPolicy.INVITATION)
    ProgramFactory(tenant=acme, name="Draft one", status=Program.Status.DRAFT)
    ProgramFactory(tenant=acme, name="Paused one", status=Program.Status.PAUSED)
    response = client_for(partner).get("/programs/")
    assert response.status_code == 200
    html = response.content.decode()
    mine = html[html.index('id="my-programs"') : html.index('id="open-programs"')]
    assert "<code>ALICE</code>" in mine
    assert f"/programs/{pending.pk}/" in mine
    assert "Waiting for approval" in mine
    joinable = html[html.index('id="open-programs"') :]
    assert "Open one" in joinable
    assert "Ask first" in joinable
    for hidden in ("Invite only", "Draft one", "Paused one", ">Pro<"):
        assert hidden not in joinable


def test_joining_an_open_program_enrolls_at_once(client_for, acme, partner, alice):
    program = ProgramFactory(tenant=acme, join_policy=Program.JoinPolicy.OPEN)
    response = client_for(partner).post(f"/programs/{program.pk}/join/")
    with tenant_scope(acme):
        enrollment = Enrollment.objects.get(partner=alice)
    assert enrollment.status == Enrollment.Status.ACTIVE
    assert response["Location"] == f"/programs/{enrollment.pk}/"


def test_joining_an_approval_program_waits_for_staff(client_for, acme, partner, alice):
    program = ProgramFactory(tenant=acme, join_policy=Program.JoinPolicy.APPROVAL)
    response = client_for(partner).post(f"/programs/{program.pk}/join/")
    with tenant_scope(acme):
        enrollment = Enrollment.objects.get(partner=alice)
    assert enrollment.status == Enrollment.Status.PENDING
    assert "waiting for approval" in messages_of(response)[0]
    page = client_for(partner).get(f"/programs/{enrollment.pk}/").content.decode()
    assert "waiting for approval" in page
    assert 'id="links"' not in page


def test_joining_twice_keeps_one_enrollment(client_for, acme, partner, alice, enrollment):
    response = client_for(partner).post(f"/programs/{enrollment.program.pk}/join/")
    assert response["Location"] == f"/programs/{enrollment.pk}/"
    with tenant_scope(acme):
        assert Enrollment.objects.filter(partner=alice).count() == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"join_policy": Program.JoinPolicy.INVITATION},
        {"status": Program.Status.DRAFT},
        {"status": Program.Status.ARCHIVED},
    ],
)
def test_a_closed_program_cannot_be_joined(client_for, acme, partner, changes):
    program = ProgramFactory(tenant=acme, **changes)
    assert client_for(partner).post(f"/programs/{program.pk}/join/").status_code == 404
    assert not Enrollment.all_tenants_unscoped.exists()


def test_the_program_list_stays_within_its_query_budget(
    client_for, acme, partner, alice, django_assert_max_num_queries
):
    for n in range(10):
        EnrollmentFactory(program=ProgramFactory(tenant=acme), partner=alice)
        ProgramFactory(tenant=acme, name=f"Open {n}")
    client = client_for(partner)
    # +1: the menu's unread-news count (partners.news); +1: the courses that programs
    # require before joining (partners.training), one query for all of them.
    with django_assert_max_num_queries(9):
        response = client.get("/programs/")
    assert response.content.decode().count("data-enrollment=") == 10
    assert response.content.decode().count("data-program=") == 10


@pytest.mark.parametrize("status", [PartnerProfile.Status.PENDING, PartnerProfile.Status.BLOCKED])
def test_a_pending_or_blocked_partner_sees_a_notice_and_no_links(
    client_for, acme, partner, alice, enrollment, status
):
    PartnerProfile.all_tenants_unscoped.filter(pk=alice.pk).update(status=status)
    open_program = ProgramFactory(tenant=acme, join_policy=Program.JoinPolicy.OPEN)
    client = client_for(partner)
    for url in ("/programs/", f"/programs/{enrollment.pk}/"):
        response = client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        assert 'id="partner-notice"' in html
        assert "ALICE" not in html
        assert "Join" not in html
    assert client.post(f"/programs/{open_program.pk}/join/").status_code == 403
    assert client.post(f"/programs/{enrollment.pk}/promo-codes/").status_code == 403
    deal = client.post(f"/programs/{enrollment.pk}/deals/", {"email": "x@example.com"})
    assert deal.status_code == 403
    with tenant_scope(acme):
        assert Enrollment.objects.count() == 1
        assert not PromoCode.objects.exists()
        assert not Lead.objects.exists()


def test_the_cabinet_nav_links_programs_and_stats(client_for, acme, partner):
    html = client_for(partner).get("/").content.decode()
    assert 'href="/programs/"' in html
    assert 'href="/stats/"' in html


# /programs/<enrollment>/: links


def test_the_enrollment_page_shows_both_referral_links_and_the_terms(
    client_for, acme, partner, enrollment
):
    html = client_for(partner).get(f"/programs/{enrollment.pk}/").content.decode()
    assert '<code id="referral-link">https://shop.example.com/?lang=en&amp;via=ALICE</code>' in html
    assert '<code id="platform-link">http://acme.localhost/r/ALICE</code>' in html
    assert "Commission: 20% of the first payment." in html


def test_the_link_builder_adds_the_landing_page_sub_id_and_utm_tags(
    client_for, acme, partner, enrollment
):
    response = client_for(partner).get(
        f"/programs/{enrollment.pk}/",
        data={
            "to": "https://shop.example.com/pricing",
            "sub": "post-12",
            "utm_source": "blog",
            "utm_medium": "",
            "utm_campaign": "spring sale",
        },
    )
    html = response.content.decode()
    assert (
        '<code id="built-direct">https://shop.example.com/pricing?via=ALICE&amp;sub=post-12'
        "&amp;utm_source=blog&amp;utm_campaign=spring+sale</code>"
    ) in html
    assert (
        '<code id="built-platform">http://acme.localhost/r/ALICE?'
        "to=https%3A%2F%2Fshop.example.com%2Fpricing&amp;sub=post-12"
        "&amp;utm_source=blog&amp;utm_campaign=spring+sale</code>"
    ) in html


def test_the_link_builder_refuses_a_landing_page_the_program_does_not_allow(
    client_for, acme, partner, enrollment
):
    response = client_for(partner).get(
        f"/programs/{enrollment.pk}/", data={"to": "https://evil.example.net/"}
    )
    html = response.content.decode()
    assert "Select a valid choice" in html
    assert 'id="built-direct"' not in html
    assert 'id="built-platform"' not in html


def test_the_platform_link_really_redirects_to_the_built_landing_page(
    client_for, acme, partner, enrollment
):
    response = client_for(None).get("/r/ALICE?to=https://shop.example.com/pricing&sub=s1")
    assert response.status_code == 302
    assert response["Location"].startswith("https://shop.example.com/pricing?via=ALICE")


# /programs/<enrollment>/: promo codes and deals


def test_a_partner_creates_a_chosen_and_a_generated_promo_code(
    client_for, acme, partner, alice, enrollment
):
    client = client_for(partner)
    assert (
        client.post(f"/programs/{enrollment.pk}/promo-codes/", {"code": "alice10"}).status_code
        == 302
    )
    assert client.post(f"/programs/{enrollment.pk}/promo-codes/", {"code": ""}).status_code == 302
    with tenant_scope(acme):
        codes = list(PromoCode.objects.filter(partner=alice).values_list("code", flat=True))
    assert len(codes) == 2
    assert "ALICE10" in codes
    html = client.get(f"/programs/{enrollment.pk}/").content.decode()
    for code in codes:
        assert f"<code>{code}</code>" in html


@pytest.mark.parametrize(("code", "error"), [("ALICE", str(CODE_TAKEN)), ("x!", "Use 3-64")])
def test_a_taken_or_malformed_promo_code_is_refused(
    client_for, acme, partner, enrollment, code, error
):
    response = client_for(partner).post(f"/programs/{enrollment.pk}/promo-codes/", {"code": code})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not PromoCode.all_tenants_unscoped.exists()


def test_a_partner_sees_only_their_own_promo_codes(
    client_for, acme, partner, program, enrollment, bob
):
    EnrollmentFactory(program=program, partner=bob)
    PromoCodeFactory(program=program, partner=bob, code="BOBONLY")
    html = client_for(partner).get(f"/programs/{enrollment.pk}/").content.decode()
    assert "BOBONLY" not in html


def test_a_partner_registers_a_deal(client_for, acme, partner, alice, enrollment):
    response = client_for(partner).post(
        f"/programs/{enrollment.pk}/deals/",
        {"name": "Eve", "company": "Hooli", "email": "Eve@Hooli.com", "phone": ""},
    )
    assert response.status_code == 302
    assert messages_of(response) == ["Deal registered."]
    with tenant_scope(acme):
        lead = Lead.objects.get()
    assert (lead.source, lead.partner, lead.email, lead.company) == (
        "cabinet",
        alice,
        "eve@hooli.com",
        "Hooli",
    )


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        ({"email": "eve@"}, "email", str(INVALID_EMAIL)),
        ({"phone": "+1 000"}, "phone", str(INVALID_PHONE)),
        ({"name": "Eve"}, None, "Give at least an e-mail"),
    ],
)
def test_a_bad_deal_shows_the_error_and_saves_nothing(
    client_for, acme, partner, enrollment, data, field, error
):
    response = client_for(partner).post(f"/programs/{enrollment.pk}/deals/", data)
    assert response.status_code == 200
    html = response.content.decode()
    assert error in html
    if field:
        assert f'name="{field}"' in html.split(error)[0].rsplit('class="field', 1)[1]
    assert not Lead.all_tenants_unscoped.exists()


def test_a_deal_for_a_customer_already_brought_is_a_duplicate(
    client_for, acme, partner, program, enrollment, bob
):
    EnrollmentFactory(program=program, partner=bob)
    with tenant_scope(acme):
        lead_create(
            tenant=acme,
            program=program,
            source=Lead.Source.CABINET,
            partner=bob,
            data=LeadInput(email="eve@hooli.com"),
        )
    response = client_for(partner).post(
        f"/programs/{enrollment.pk}/deals/", {"email": "eve@hooli.com"}
    )
    assert "recorded as a duplicate" in messages_of(response)[0]
    stats = client_for(partner).get("/stats/").content.decode()
    assert "duplicate: not credited" in stats
    assert "e***@hooli.com" in stats


def test_a_pending_enrollment_cannot_register_deals_or_codes(
    client_for, acme, partner, program, alice
):
    pending = EnrollmentFactory(program=program, partner=alice, status=Enrollment.Status.PENDING)
    client = client_for(partner)
    deal = client.post(f"/programs/{pending.pk}/deals/", {"email": "x@example.com"})
    code = client.post(f"/programs/{pending.pk}/promo-codes/", {"code": ""})
    assert deal.status_code == code.status_code == 302
    assert messages_of(code)[-1] == "Your enrollment in this program is not active."
    assert not Lead.all_tenants_unscoped.exists()
    assert not PromoCode.all_tenants_unscoped.exists()


# /stats/


@pytest.fixture
def traffic(acme, program, enrollment, alice, bob):  # type: ignore[no-untyped-def]
    """Alice's and Bob's clicks, leads and conversions in one program."""
    bobs = EnrollmentFactory(program=program, partner=bob, code="BOB")
    ClickFactory(enrollment=enrollment, sub_id="mail-7", ip="198.51.100.0", browser="Safari")
    ClickFactory(enrollment=enrollment, landing_url="https://shop.example.com/pricing")
    ClickFactory(enrollment=bobs, sub_id="bob-sub", landing_url="https://shop.example.com/bob")
    LeadFactory(program=program, partner=alice, email="carol@example.com")
    LeadFactory(program=program, partner=bob, email="dave@example.com")
    ConversionFactory(program=program, partner=alice, external_id="ALICE-ORDER")
    ConversionFactory(program=program, partner=bob, external_id="BOB-ORDER", amount=Decimal("999"))
    rollups_rebuild(acme)  # the factories write raw rows, past the services that roll up


def test_stats_show_only_the_partners_own_rows(client_for, acme, partner, traffic):
    response = client_for(partner).get("/stats/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<span class="stat-value" id="count-clicks">2</span>' in html
    assert '<span class="stat-value" id="count-leads">1</span>' in html
    assert '<span class="stat-value" id="count-conversions">1</span>' in html
    assert "mail-7" in html  # the per-sub-id table
    assert "ALICE-ORDER" in html
    assert "c***@example.com" in html
    for theirs in ("bob-sub", "/bob", "BOB-ORDER", "999", "d***@example.com", "dave"):
        assert theirs not in html


def test_stats_never_show_an_ip_or_a_full_email(client_for, acme, partner, traffic):
    html = client_for(partner).get("/stats/").content.decode()
    assert "198.51.100" not in html
    assert "203.0.113" not in html
    assert "carol@example.com" not in html


def test_stats_stay_within_their_query_budget(
    client_for, acme, partner, program, enrollment, alice, django_assert_max_num_queries
):
    for _ in range(20):
        ClickFactory(enrollment=enrollment)
        LeadFactory(program=program, partner=alice)
        ConversionFactory(program=program, partner=alice)
    rollups_rebuild(acme)
    client = client_for(partner)
    # Rollups (totals, series, per program, per sub id, per material, money, and two
    # probes for rows after the period: programs.analytics.rollup_read.spans_for), two
    # short lists and the menu's unread-news count: no query per row.
    with django_assert_max_num_queries(19):
        response = client.get("/stats/")
    assert '<span class="stat-value" id="count-clicks">20</span>' in response.content.decode()


def test_a_pending_partner_still_sees_their_stats_with_the_notice(
    client_for, acme, partner, alice, traffic
):
    PartnerProfile.all_tenants_unscoped.filter(pk=alice.pk).update(
        status=PartnerProfile.Status.PENDING
    )
    html = client_for(partner).get("/stats/").content.decode()
    assert 'id="partner-notice"' in html
    assert "ALICE-ORDER" in html
