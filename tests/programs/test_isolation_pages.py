"""Who reaches which page of programs, leads, conversions, API keys and the cabinet.

Outsiders get 404 (on acme's host, and with acme's ids on their own host), partners
403 on the console, one partner 404 on another's rows; none of them changes anything.
What each staff role reaches is tests/prm/test_role_matrix.py's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from partners.models import PartnerProfile
from prm.models import ApiKey, AuditEntry, Role, Tenant
from prm.tenancy import tenant_scope
from programs.models import Conversion, Enrollment, Lead, LeadEvent, Program, PromoCode
from programs.urls_pages import cabinet_patterns, console_patterns
from tests.factories import MembershipFactory, PartnerFactory, UserFactory
from tests.programs.factories import (
    ClickFactory,
    ConversionFactory,
    EnrollmentFactory,
    LeadFactory,
    ProgramFactory,
)

PROGRAM = {
    "name": "Hacked",
    "kind": "referral",
    "status": "active",
    "currency": "USD",
    "landing_urls": "https://evil.example.com/",
    "ref_param": "ref",
    "cookie_days": "30",
    "attribution": "last_click",
    "join_policy": "open",
    "lead_assignment": "manual",
}


@dataclass(frozen=True)
class Case:
    """One URL, called the way its page calls it; ``{name}`` stands for acme's ids."""

    name: str
    method: str
    path: str
    data: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def call(self, client, ids: dict[str, str]):  # type: ignore[no-untyped-def]
        url = self.path.format(**ids)
        if self.method == "GET":
            return client.get(url)
        return client.post(url, {k: v.format(**ids) for k, v in self.data.items()})


REPORTS = ("partners", "programs", "channels", "quality", "periods")
CONSOLE = [
    *(Case(f"report_{r}", "GET", f"/manage/reports/{r}/") for r in REPORTS),
    Case("programs", "GET", "/manage/programs/"),
    Case("program_create", "GET", "/manage/programs/new/"),
    Case("program_create", "POST", "/manage/programs/new/", PROGRAM),
    Case("program_detail", "GET", "/manage/programs/{program}/"),
    Case("program_edit", "GET", "/manage/programs/{program}/edit/"),
    Case("program_edit", "POST", "/manage/programs/{program}/edit/", PROGRAM),
    Case("program_enroll", "POST", "/manage/programs/{program}/enroll/", {"partner": "{bob}"}),
    Case(
        "promo_code_create",
        "POST",
        "/manage/programs/{program}/promo-codes/",
        {"partner": "{alice}", "code": "STOLEN"},
    ),
    Case(
        "enrollment_status",
        "POST",
        "/manage/enrollments/{enrollment}/status/",
        {"status": "rejected"},
    ),
    Case("leads", "GET", "/manage/leads/"),
    Case("lead_create", "GET", "/manage/leads/new/"),
    Case(
        "lead_create",
        "POST",
        "/manage/leads/new/",
        {"program": "{program}", "email": "new@example.com"},
    ),
    Case(
        "leads_bulk",
        "POST",
        "/manage/leads/bulk/",
        {"leads": "{lead}", "action": "status", "status": "rejected"},
    ),
    Case("lead_detail", "GET", "/manage/leads/{lead}/"),
    Case("lead_status", "POST", "/manage/leads/{lead}/status/", {"status": "rejected"}),
    Case("lead_assign", "POST", "/manage/leads/{lead}/assign/", {"manager": ""}),
    Case("lead_note", "POST", "/manage/leads/{lead}/notes/", {"text": "hello"}),
    Case("conversions", "GET", "/manage/conversions/"),
    Case("conversion_detail", "GET", "/manage/conversions/{conversion}/"),
    Case("api_keys", "GET", "/manage/api-keys/"),
    Case("api_key_create", "POST", "/manage/api-keys/new/", {"name": "stolen"}),
    Case("api_key_revoke", "POST", "/manage/api-keys/{api_key}/revoke/"),
]
CABINET = [
    Case("programs", "GET", "/programs/"),
    Case("program_join", "POST", "/programs/{open_program}/join/"),
    Case("enrollment", "GET", "/programs/{enrollment}/"),
    Case("promo_code_create", "POST", "/programs/{enrollment}/promo-codes/", {"code": ""}),
    Case("deal_register", "POST", "/programs/{enrollment}/deals/", {"email": "d@example.com"}),
    Case("stats", "GET", "/stats/"),
]
CONSOLE_WITH_IDS = [case for case in CONSOLE if "{" in case.path]
CABINET_WITH_IDS = [case for case in CABINET if "{" in case.path]


@pytest.fixture
def bob_user(acme: Tenant):  # type: ignore[no-untyped-def]
    return PartnerFactory(tenant=acme, user=UserFactory(email="bob@example.test")).user


@pytest.fixture
def ids(acme: Tenant, alice, bob_user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """One row of each kind the pages address by id, all in acme and all alice's."""
    program = ProgramFactory(tenant=acme, name="Acme program")
    open_program = ProgramFactory(tenant=acme, join_policy=Program.JoinPolicy.OPEN)
    enrollment = EnrollmentFactory(
        program=program, partner=alice, code="ALICE", status=Enrollment.Status.PENDING
    )
    # Active, so alice's own deals and codes go through where they are allowed.
    Enrollment.all_tenants_unscoped.filter(pk=enrollment.pk).update(status="active")
    ClickFactory(enrollment=enrollment, sub_id="alice-sub")
    target = MembershipFactory(tenant=acme, role=Role.MANAGER)
    lead = LeadFactory(program=program, partner=alice, email="lead@acme.test", assigned_to=target)
    conversion = ConversionFactory(program=program, partner=alice, external_id="ACME-1")
    _, prefix, digest = ApiKey.generate()
    key = ApiKey.all_tenants_unscoped.create(tenant=acme, name="k", prefix=prefix, key_hash=digest)
    with tenant_scope(acme):
        bob = PartnerProfile.objects.get(user=bob_user)
    return {
        "program": str(program.pk),
        "open_program": str(open_program.pk),
        "enrollment": str(enrollment.pk),
        "lead": str(lead.pk),
        "conversion": str(conversion.pk),
        "api_key": str(key.pk),
        "alice": str(alice.pk),
        "bob": str(bob.pk),
    }


def state(tenant: Tenant) -> dict[str, Any]:
    """Everything these pages could change in ``tenant``."""
    with tenant_scope(tenant):
        return {
            "programs": set(Program.objects.values_list("id", "name", "status")),
            "enrollments": set(Enrollment.objects.values_list("id", "partner", "status")),
            "promo_codes": set(PromoCode.objects.values_list("id", "code")),
            "leads": set(Lead.objects.values_list("id", "status", "assigned_to")),
            "lead_events": LeadEvent.objects.count(),
            "conversions": set(Conversion.objects.values_list("id", "status")),
            "api_keys": set(ApiKey.objects.values_list("id", "revoked_at")),
            "audit": AuditEntry.objects.count(),
        }


def test_the_cases_cover_every_page_url():
    assert {case.name for case in CONSOLE} == {p.name for p in console_patterns}
    assert {case.name for case in CABINET} == {p.name for p in cabinet_patterns}


# The console


@pytest.mark.parametrize("case", CONSOLE + CABINET, ids=str)
def test_an_outsider_signed_in_on_acme_gets_404_and_changes_nothing(
    client_for, acme, ids, outsider, case
):
    before = state(acme)
    response = case.call(client_for(outsider, "acme.localhost"), ids)
    assert response.status_code == 404
    assert state(acme) == before


@pytest.mark.parametrize("case", CONSOLE_WITH_IDS, ids=str)
def test_acme_ids_on_another_tenants_host_are_a_404(client_for, acme, ids, globex, outsider, case):
    before_acme, before_globex = state(acme), state(globex)
    response = case.call(client_for(outsider, "globex.localhost"), ids)
    assert response.status_code == 404
    assert state(acme) == before_acme
    assert state(globex) == before_globex


@pytest.mark.parametrize("case", CONSOLE, ids=str)
def test_a_partner_gets_403_on_the_console(client_for, acme, ids, partner, case):
    before = state(acme)
    response = case.call(client_for(partner), ids)
    assert response.status_code == 403
    assert state(acme) == before


@pytest.mark.parametrize("case", CONSOLE + CABINET, ids=str)
def test_an_anonymous_visitor_is_sent_to_sign_in(client_for, acme, ids, case):
    before = state(acme)
    response = case.call(client_for(None), ids)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert state(acme) == before


@pytest.mark.parametrize("case", CONSOLE_WITH_IDS + CABINET_WITH_IDS, ids=str)
@pytest.mark.parametrize(
    "bad_id",
    ["not-a-uuid", "123", "%00", "00000000-0000-0000-0000-000000000000"],
)
def test_a_malformed_or_unknown_id_is_a_404(client_for, acme, ids, owner, partner, case, bad_id):
    user = partner if case in CABINET_WITH_IDS else owner
    before = state(acme)
    response = case.call(client_for(user), dict.fromkeys(ids, bad_id))
    assert response.status_code == 404
    assert state(acme) == before


# The cabinet


@pytest.mark.parametrize("case", CABINET, ids=str)
def test_acme_staff_without_a_partner_profile_get_404_in_the_cabinet(
    client_for, acme, ids, owner, case
):
    before = state(acme)
    assert case.call(client_for(owner), ids).status_code == 404
    assert state(acme) == before


@pytest.mark.parametrize("case", CABINET_WITH_IDS, ids=str)
def test_a_partner_gets_404_on_another_partners_enrollment(client_for, acme, ids, bob_user, case):
    if case.name == "program_join":
        pytest.skip("joining an open program is for every partner")
    before = state(acme)
    assert case.call(client_for(bob_user), ids).status_code == 404
    assert state(acme) == before


@pytest.mark.parametrize("case", CABINET_WITH_IDS, ids=str)
def test_acme_ids_are_a_404_for_a_partner_on_another_tenants_host(
    client_for, acme, ids, globex, case
):
    stranger = PartnerFactory(tenant=globex).user
    before_acme, before_globex = state(acme), state(globex)
    response = case.call(client_for(stranger, "globex.localhost"), ids)
    assert response.status_code == 404
    assert state(acme) == before_acme
    assert state(globex) == before_globex


@pytest.mark.parametrize("case", CABINET, ids=str)
def test_the_owner_of_the_rows_gets_through(client_for, acme, ids, partner, case):
    response = case.call(client_for(partner), ids)
    assert response.status_code in {200, 302}


def test_a_partner_never_sees_another_partners_stats(client_for, acme, ids, bob_user):
    html = client_for(bob_user).get("/stats/").content.decode()
    for alices in ("alice-sub", "ACME-1", "l***@acme.test", "ALICE"):
        assert alices not in html
    assert '<span class="stat-value" id="count-clicks">0</span>' in html


def test_a_partner_never_sees_another_partners_enrollment_in_the_list(
    client_for, acme, ids, bob_user
):
    html = client_for(bob_user).get("/programs/").content.decode()
    assert ids["enrollment"] not in html
    assert "ALICE" not in html
