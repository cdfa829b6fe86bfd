from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.contrib.messages import get_messages

from partners.models import PartnerProfile
from prm.models import AuditEntry, Tenant
from prm.tenancy import tenant_scope
from tests.factories import PartnerFactory, UserFactory


def messages_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in get_messages(response.wsgi_request)]


def profile_of(tenant: Tenant, user) -> PartnerProfile | None:  # type: ignore[no-untyped-def]
    with tenant_scope(tenant):
        return PartnerProfile.objects.filter(user=user).first()


def close_signup(tenant: Tenant) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(partner_signup_open=False)


def listed(response) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(p.user.email for p in response.context["page"].object_list)


# The cabinet's home


def test_an_anonymous_visitor_sees_the_welcome_page(client_for, acme):
    response = client_for(None).get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Partner program of Acme" in html
    assert 'href="/accounts/signup/"' in html
    assert 'href="/accounts/login/"' in html


def test_the_welcome_page_offers_no_sign_up_when_it_is_closed(client_for, acme):
    close_signup(acme)
    html = client_for(None).get("/").content.decode()
    assert 'href="/accounts/signup/"' not in html
    assert 'href="/accounts/login/"' in html


def test_a_partner_sees_their_cabinet(client_for, acme, partner):
    response = client_for(partner).get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Hello, Partner" in html
    assert "You are an active partner of Acme." in html


@pytest.mark.parametrize(
    ("status", "notice"),
    [
        (PartnerProfile.Status.PENDING, "Your application is waiting for approval."),
        (PartnerProfile.Status.BLOCKED, "Your partner account is blocked."),
    ],
)
def test_a_pending_or_blocked_partner_is_told_so(client_for, acme, status, notice):
    user = PartnerFactory(tenant=acme, status=status).user
    html = client_for(user).get("/").content.decode()
    assert notice in html
    assert "You are an active partner" not in html


@pytest.mark.parametrize("persona", ["manager", "outsider"])
def test_someone_signed_in_without_a_profile_here_is_sent_to_join(
    client_for, acme, persona, request
):
    response = client_for(request.getfixturevalue(persona)).get("/")
    assert response.status_code == 302
    assert response["Location"] == "/join/"


def test_a_partner_of_another_tenant_is_sent_to_join(client_for, acme, globex):
    user = PartnerFactory(tenant=globex).user
    assert client_for(user).get("/")["Location"] == "/join/"


# Joining


def test_joining_needs_a_sign_in(client_for, acme):
    response = client_for(None).get("/join/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/join/"
    assert client_for(None).post("/join/")["Location"] == "/accounts/login/?next=/join/"


def test_the_join_page_invites_to_join(client_for, acme):
    user = UserFactory()
    response = client_for(user).get("/join/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Join the partner program of Acme" in html
    assert "Join as a partner" in html
    assert "You are on this workspace" not in html


def test_the_join_page_reminds_staff_of_the_console(client_for, acme, manager):
    html = client_for(manager).get("/join/").content.decode()
    assert "You are on this workspace" in html
    assert 'href="/manage/"' in html


def test_joining_an_open_program_makes_an_active_partner(client_for, acme):
    user = UserFactory(email="newbie@example.test", first_name="Nina", last_name="New")
    response = client_for(user).post("/join/")
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert messages_of(response) == ["Welcome to the partner program of Acme!"]
    profile = profile_of(acme, user)
    assert profile is not None
    assert profile.status == PartnerProfile.Status.ACTIVE
    assert profile.display_name == "Nina New"
    assert "You are an active partner of Acme." in client_for(user).get("/").content.decode()


def test_joining_a_closed_program_makes_a_pending_application(client_for, acme):
    close_signup(acme)
    user = UserFactory()
    client = client_for(user)
    assert "Applications are reviewed by the team." in client.get("/join/").content.decode()
    client.post("/join/")
    assert profile_of(acme, user).status == PartnerProfile.Status.PENDING
    assert "waiting for approval" in client.get("/").content.decode()


def test_joining_twice_keeps_one_profile(client_for, acme, partner):
    client = client_for(partner)
    assert client.get("/join/")["Location"] == "/"
    assert client.post("/join/")["Location"] == "/"
    with tenant_scope(acme):
        assert PartnerProfile.objects.filter(user=partner).count() == 1


def test_a_blocked_partner_cannot_rejoin_to_become_active(client_for, acme):
    user = PartnerFactory(tenant=acme, status=PartnerProfile.Status.BLOCKED).user
    client_for(user).post("/join/")
    assert profile_of(acme, user).status == PartnerProfile.Status.BLOCKED


def test_joining_one_tenant_does_not_touch_another(client_for, acme, globex, outsider):
    client_for(outsider).post("/join/")
    assert profile_of(acme, outsider) is not None
    assert profile_of(globex, outsider) is None


# The console's partner list


def test_it_lists_the_tenants_partners(client_for, acme, owner, partner, globex):
    PartnerFactory(tenant=globex, user=UserFactory(email="globex-partner@example.test"))
    response = client_for(owner).get("/manage/partners/")
    assert response.status_code == 200
    assert listed(response) == ["partner@acme.test"]
    assert "globex-partner@example.test" not in response.content.decode()


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("ALICE@", ["alice@example.test"]),
        ("bobby", ["bob@example.test"]),
        ("initech", ["carol@example.test"]),
        ("example.test", ["alice@example.test", "bob@example.test", "carol@example.test"]),
        ("  bobby  ", ["bob@example.test"]),
        ("nobody-matches", []),
    ],
)
def test_it_searches_partners_by_e_mail_name_or_company(client_for, acme, owner, q, expected):
    PartnerFactory(tenant=acme, user=UserFactory(email="alice@example.test"), display_name="A")
    PartnerFactory(tenant=acme, user=UserFactory(email="bob@example.test"), display_name="Bobby")
    PartnerFactory(tenant=acme, user=UserFactory(email="carol@example.test"), company="Initech")
    response = client_for(owner).get(f"/manage/partners/?{urlencode({'q': q})}")
    assert listed(response) == expected


def test_it_filters_partners_by_status(client_for, acme, owner):
    for status in PartnerProfile.Status:
        PartnerFactory(tenant=acme, status=status, user=UserFactory(email=f"{status}@x.test"))
    client = client_for(owner)
    assert listed(client.get("/manage/partners/?status=pending")) == ["pending@x.test"]
    assert listed(client.get("/manage/partners/?status=blocked")) == ["blocked@x.test"]
    assert len(listed(client.get("/manage/partners/?status=whatever"))) == len(
        PartnerProfile.Status
    )


def test_it_combines_search_and_status(client_for, acme, owner):
    for email, name, status in [
        ("a1@x.test", "Ann", "pending"),
        ("a2@x.test", "Ann", "active"),
        ("b1@x.test", "Bee", "pending"),
    ]:
        PartnerFactory(tenant=acme, user=UserFactory(email=email), display_name=name, status=status)
    response = client_for(owner).get("/manage/partners/?q=a&status=pending")
    assert listed(response) == ["a1@x.test"]


def test_a_search_with_a_nul_character_finds_nothing_instead_of_failing(client_for, acme, owner):
    PartnerFactory(tenant=acme)
    response = client_for(owner).get("/manage/partners/?q=a%00b&status=%00")
    assert response.status_code == 200
    assert listed(response) == []


def test_it_paginates_partners(client_for, acme, owner):
    for i in range(55):
        PartnerFactory(tenant=acme, user=UserFactory(email=f"p{i:02}@x.test"))
    client = client_for(owner)
    first = client.get("/manage/partners/")
    assert len(first.context["page"].object_list) == 50
    assert "Page 1 of 2" in first.content.decode()
    assert len(client.get("/manage/partners/?page=2").context["page"].object_list) == 5
    assert len(client.get("/manage/partners/?page=nope").context["page"].object_list) == 50


@pytest.mark.parametrize("persona", ["owner", "admin", "manager", "finance", "analyst"])
def test_every_staff_role_sees_the_partner_list(client_for, acme, persona, request):
    assert client_for(request.getfixturevalue(persona)).get("/manage/partners/").status_code == 200


@pytest.mark.parametrize("persona", ["finance", "analyst"])
def test_roles_that_cannot_manage_partners_get_no_buttons(client_for, acme, persona, request):
    PartnerFactory(tenant=acme, status=PartnerProfile.Status.PENDING)
    html = client_for(request.getfixturevalue(persona)).get("/manage/partners/").content.decode()
    assert "/status/" not in html


def test_the_partner_list_stays_within_its_query_budget(
    client_for, acme, owner, django_assert_max_num_queries
):
    for _ in range(30):
        PartnerFactory(tenant=acme)
    client = client_for(owner)
    client.get("/manage/partners/")  # warm the tenant host cache
    # + the tag and group filters (one query each, whatever the number of rows).
    with django_assert_max_num_queries(8):
        response = client.get("/manage/partners/?q=partner&status=active")
    assert len(response.context["page"].object_list) == 30


# Approving and blocking


def test_it_approves_a_pending_partner_with_an_audit_row(client_for, acme, owner):
    profile = PartnerFactory(tenant=acme, status=PartnerProfile.Status.PENDING, display_name="Pia")
    response = client_for(owner).post(
        f"/manage/partners/{profile.pk}/status/", {"status": "active"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/manage/partners/"
    assert messages_of(response) == ["Partner Pia updated."]
    profile.refresh_from_db()
    assert profile.status == PartnerProfile.Status.ACTIVE
    entry = AuditEntry.all_tenants_unscoped.get(action="partner.status")
    assert entry.tenant == acme
    assert entry.actor == owner
    assert entry.object_type == "partnerprofile"
    assert entry.object_id == str(profile.pk)
    assert (entry.before, entry.after) == ({"status": "pending"}, {"status": "active"})


def test_a_manager_blocks_a_partner(client_for, acme, manager, partner):
    profile = profile_of(acme, partner)
    client_for(manager).post(f"/manage/partners/{profile.pk}/status/", {"status": "blocked"})
    assert profile_of(acme, partner).status == PartnerProfile.Status.BLOCKED
    entry = AuditEntry.all_tenants_unscoped.get(action="partner.status")
    assert entry.actor == manager
    assert (entry.before, entry.after) == ({"status": "active"}, {"status": "blocked"})
    assert "Your partner account is blocked." in client_for(partner).get("/").content.decode()


def test_setting_the_same_status_writes_no_audit_row(client_for, acme, admin, partner):
    profile = profile_of(acme, partner)
    response = client_for(admin).post(
        f"/manage/partners/{profile.pk}/status/", {"status": "active"}
    )
    assert response.status_code == 302
    assert not AuditEntry.all_tenants_unscoped.filter(action="partner.status").exists()


@pytest.mark.parametrize("status", ["", "deleted", "ACTIVE"])
def test_it_refuses_an_unknown_status(client_for, acme, owner, partner, status):
    profile = profile_of(acme, partner)
    response = client_for(owner).post(f"/manage/partners/{profile.pk}/status/", {"status": status})
    assert response.status_code == 302
    assert messages_of(response) == ["Choose a valid status."]
    assert profile_of(acme, partner).status == PartnerProfile.Status.ACTIVE
    assert not AuditEntry.all_tenants_unscoped.exists()


@pytest.mark.parametrize("persona", ["finance", "analyst"])
def test_finance_and_analysts_may_not_change_a_partners_status(
    client_for, acme, partner, persona, request
):
    profile = profile_of(acme, partner)
    response = client_for(request.getfixturevalue(persona)).post(
        f"/manage/partners/{profile.pk}/status/", {"status": "blocked"}
    )
    assert response.status_code == 403
    assert profile_of(acme, partner).status == PartnerProfile.Status.ACTIVE
    assert not AuditEntry.all_tenants_unscoped.exists()


def test_changing_a_status_needs_a_post(client_for, acme, owner, partner):
    profile = profile_of(acme, partner)
    response = client_for(owner).get(f"/manage/partners/{profile.pk}/status/")
    # The form's nearest page: the partner's own.
    assert (response.status_code, response["Location"]) == (
        302,
        f"/manage/partners/{profile.pk}/",
    )
