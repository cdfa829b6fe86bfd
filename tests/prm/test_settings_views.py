from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator

from prm.models import AuditEntry, Tenant, TenantDomain, User
from prm.services.errors import DOMAIN_TAKEN, ServiceError
from prm.services.tenants import domain_add
from prm.tenancy import tenant_scope

GENERAL = {
    "name": "Acme",
    "default_currency": "USD",
    "language": "en",
    "timezone": "UTC",
    "partner_signup_open": "on",
}


def add_totp(user: User) -> Authenticator:
    """What allauth stores once someone has set up an authenticator app."""
    return Authenticator.objects.create(
        user=user, type=Authenticator.Type.TOTP, data={"secret": "JBSWY3DPEHPK3PXP"}
    )


def audit(tenant: Tenant, action: str) -> list[AuditEntry]:
    return list(AuditEntry.all_tenants_unscoped.filter(tenant=tenant, action=action))


def domains(tenant: Tenant) -> list[str]:
    with tenant_scope(tenant):
        return list(TenantDomain.objects.values_list("domain", flat=True))


@pytest.fixture
def requiring_2fa(acme: Tenant) -> Tenant:
    Tenant.objects.filter(pk=acme.pk).update(require_staff_2fa=True)
    acme.refresh_from_db()
    return acme


# General settings


def test_it_shows_the_settings_with_the_security_form_to_the_owner(client_for, acme, owner):
    response = client_for(owner).get("/manage/settings/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="settings-form"' in html
    assert 'id="security-form"' in html


def test_an_admin_sees_the_settings_but_not_the_security_form(client_for, acme, admin):
    response = client_for(admin).get("/manage/settings/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="settings-form"' in html
    assert 'id="security-form"' not in html
    assert "Only an owner can change this." in html


def test_it_saves_the_settings_and_audits_only_what_changed(
    client_for, acme, owner, django_capture_on_commit_callbacks
):
    client = client_for(owner)
    client.get("/manage/settings/")  # the tenant is now cached for its host
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/manage/settings/",
            {**GENERAL, "name": "Acme Corp", "default_currency": "EUR", "timezone": "Europe/Paris"},
        )
    assert response.status_code == 302
    assert response["Location"] == "/manage/settings/"
    acme.refresh_from_db()
    assert (acme.name, acme.default_currency, acme.timezone) == ("Acme Corp", "EUR", "Europe/Paris")
    [entry] = audit(acme, "settings.update")
    assert entry.actor == owner
    assert entry.object_type == "tenant"
    assert entry.object_id == str(acme.pk)
    assert entry.before == {"name": "Acme", "default_currency": "USD", "timezone": "UTC"}
    assert entry.after == {
        "name": "Acme Corp",
        "default_currency": "EUR",
        "timezone": "Europe/Paris",
    }
    # The cached tenant of the host was dropped, so the next page shows the new name.
    assert "Acme Corp" in client.get("/manage/settings/").content.decode()


def test_an_unchecked_box_closes_partner_sign_up(client_for, acme, admin):
    data = {k: v for k, v in GENERAL.items() if k != "partner_signup_open"}
    client_for(admin).post("/manage/settings/", data)
    acme.refresh_from_db()
    assert acme.partner_signup_open is False
    [entry] = audit(acme, "settings.update")
    assert (entry.before, entry.after) == (
        {"partner_signup_open": True},
        {"partner_signup_open": False},
    )


def test_saving_unchanged_settings_writes_no_audit_row(client_for, acme, owner):
    response = client_for(owner).post("/manage/settings/", GENERAL)
    assert response.status_code == 302
    assert audit(acme, "settings.update") == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", "x" * 121),
        ("default_currency", "XYZ"),
        ("language", "tlh"),
        ("timezone", "Mars/Olympus_Mons"),
    ],
)
def test_invalid_settings_show_errors_and_save_nothing(client_for, acme, owner, field, value):
    response = client_for(owner).post(
        "/manage/settings/", {**GENERAL, "name": "Renamed", field: value}
    )
    assert response.status_code == 200
    assert 'class="error"' in response.content.decode()
    acme.refresh_from_db()
    assert (acme.name, acme.default_currency, acme.language, acme.timezone) == (
        "Acme",
        "USD",
        "en",
        "UTC",
    )
    assert audit(acme, "settings.update") == []


def test_a_failed_form_does_not_leak_into_the_rest_of_the_page(client_for, acme, owner):
    response = client_for(owner).post(
        "/manage/settings/", {**GENERAL, "name": "Half Edited", "timezone": "nope"}
    )
    # The page title comes from the request's tenant, which must stay as stored.
    assert "<title>Settings · Acme</title>" in response.content.decode()


def test_the_general_form_cannot_switch_the_2fa_requirement(client_for, acme, admin):
    client_for(admin).post("/manage/settings/", {**GENERAL, "require_staff_2fa": "on"})
    acme.refresh_from_db()
    assert acme.require_staff_2fa is False


# Security


def test_the_owner_requires_2fa_for_all_staff(
    client_for, acme, owner, admin, django_capture_on_commit_callbacks
):
    add_totp(owner)
    add_totp(admin)
    client = client_for(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/manage/settings/security/", {"require_staff_2fa": "on"})
    assert response.status_code == 302
    assert response["Location"] == "/manage/settings/"
    acme.refresh_from_db()
    assert acme.require_staff_2fa is True
    [entry] = audit(acme, "settings.update")
    assert entry.actor == owner
    assert (entry.before, entry.after) == (
        {"require_staff_2fa": False},
        {"require_staff_2fa": True},
    )
    page = client_for(admin).get("/manage/settings/").content.decode()
    assert "Two-factor authentication is required for all staff." in page


def test_the_owner_lifts_the_2fa_requirement(client_for, requiring_2fa, owner):
    add_totp(owner)
    response = client_for(owner).post("/manage/settings/security/", {})
    assert response.status_code == 302
    requiring_2fa.refresh_from_db()
    assert requiring_2fa.require_staff_2fa is False


def test_an_admin_may_not_change_security_settings(client_for, acme, admin):
    response = client_for(admin).post("/manage/settings/security/", {"require_staff_2fa": "on"})
    assert response.status_code == 403
    acme.refresh_from_db()
    assert acme.require_staff_2fa is False
    assert audit(acme, "settings.update") == []


@pytest.mark.parametrize("persona", ["owner", "admin", "manager", "finance", "analyst"])
def test_staff_without_an_authenticator_are_sent_to_set_one_up(
    client_for, requiring_2fa, persona, request
):
    client = client_for(request.getfixturevalue(persona))
    for path in ["/manage/", "/manage/team/", "/manage/settings/", "/manage/audit/"]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == "/security/2fa-required/"
    page = client.get("/security/2fa-required/")
    assert page.status_code == 200
    assert "/accounts/2fa/totp/activate/" in page.content.decode()


def test_staff_without_an_authenticator_cannot_post_either(client_for, requiring_2fa, owner, admin):
    response = client_for(admin).post("/manage/settings/", {**GENERAL, "name": "Sneaky"})
    assert response["Location"] == "/security/2fa-required/"
    requiring_2fa.refresh_from_db()
    assert requiring_2fa.name == "Acme"


def test_staff_with_an_authenticator_get_through(client_for, requiring_2fa, manager):
    add_totp(manager)
    assert client_for(manager).get("/manage/").status_code == 200


def test_recovery_codes_alone_do_not_count_as_an_authenticator(client_for, requiring_2fa, manager):
    Authenticator.objects.create(
        user=manager, type=Authenticator.Type.RECOVERY_CODES, data={"seed": "x", "used_mask": 0}
    )
    assert client_for(manager).get("/manage/")["Location"] == "/security/2fa-required/"


def test_the_2fa_rule_leaves_the_cabinet_and_account_pages_alone(
    client_for, requiring_2fa, manager, partner
):
    client = client_for(manager)
    assert client.get("/accounts/2fa/").status_code == 200
    assert client.get("/join/").status_code == 200
    assert client_for(partner).get("/").status_code == 200


def test_the_2fa_rule_does_not_hide_that_partners_and_outsiders_have_no_console(
    client_for, requiring_2fa, partner, outsider
):
    assert client_for(partner).get("/manage/").status_code == 403
    assert client_for(outsider).get("/manage/").status_code == 404


def test_the_2fa_rule_of_one_tenant_does_not_apply_in_another(client_for, requiring_2fa, outsider):
    assert client_for(outsider, "globex.localhost").get("/manage/").status_code == 200


def test_the_2fa_rule_applies_as_soon_as_the_owner_saves_it(
    client_for, acme, owner, manager, django_capture_on_commit_callbacks
):
    add_totp(owner)
    client = client_for(manager)
    assert client.get("/manage/").status_code == 200  # the tenant is cached for its host
    with django_capture_on_commit_callbacks(execute=True):
        client_for(owner).post("/manage/settings/security/", {"require_staff_2fa": "on"})
    assert client.get("/manage/")["Location"] == "/security/2fa-required/"


# Custom domains


def test_it_adds_a_custom_domain_waiting_for_verification(client_for, acme, owner):
    response = client_for(owner).post("/manage/settings/domains/", {"domain": "Partners.Acme.COM."})
    assert response.status_code == 302
    assert response["Location"] == "/manage/settings/"
    with tenant_scope(acme):
        domain = TenantDomain.objects.get()
    assert (domain.domain, domain.is_verified) == ("partners.acme.com", False)
    [entry] = audit(acme, "domain.add")
    assert entry.actor == owner
    assert entry.object_id == str(domain.pk)
    assert entry.after == {"domain": "partners.acme.com"}
    page = client_for(owner).get("/manage/settings/").content.decode()
    assert "partners.acme.com" in page
    assert "waiting for verification" in page


@pytest.mark.parametrize(
    "domain",
    ["localhost", "acme.localhost", "globex.localhost", "deep.acme.localhost", "ACME.LOCALHOST"],
)
def test_it_refuses_platform_domains(client_for, acme, admin, domain):
    response = client_for(admin).post("/manage/settings/domains/", {"domain": domain})
    assert response.status_code == 200
    html = response.content.decode()
    assert "This domain belongs to the platform." in html or "Enter a domain name" in html
    assert domains(acme) == []
    assert audit(acme, "domain.add") == []


def test_it_refuses_the_platform_host_under_a_real_base_domain(client_for, acme, owner, settings):
    settings.PRM_BASE_DOMAIN = "prm.example.com"
    settings.PRM_PLATFORM_HOST = "prm.example.com"
    client = client_for(owner, "acme.prm.example.com")
    for domain in ["prm.example.com", "acme.prm.example.com", "other.prm.example.com"]:
        response = client.post("/manage/settings/domains/", {"domain": domain})
        assert "This domain belongs to the platform." in response.content.decode()
    assert domains(acme) == []


@pytest.mark.parametrize("domain", ["", "not a domain", "-bad-.com", "a..com", "http://x.com"])
def test_it_refuses_what_is_not_a_domain_name(client_for, acme, owner, domain):
    response = client_for(owner).post("/manage/settings/domains/", {"domain": domain})
    assert response.status_code == 200
    assert 'class="error"' in response.content.decode()
    assert domains(acme) == []


def test_a_domain_of_another_tenant_is_refused(client_for, acme, owner, globex):
    TenantDomain.all_tenants_unscoped.create(tenant=globex, domain="partners.globex.com")
    response = client_for(owner).post(
        "/manage/settings/domains/", {"domain": "PARTNERS.globex.com"}
    )
    assert response.status_code == 200
    assert str(DOMAIN_TAKEN) in response.content.decode()
    assert domains(acme) == []
    assert domains(globex) == ["partners.globex.com"]
    assert "partners.globex.com" not in client_for(owner).get("/manage/settings/").content.decode()


def test_the_service_also_refuses_a_taken_domain(in_acme, owner, globex):
    # The form checks first; the unique constraint settles a race between two tenants.
    TenantDomain.all_tenants_unscoped.create(tenant=globex, domain="partners.globex.com")
    with pytest.raises(ServiceError) as exc:
        domain_add(tenant=in_acme, actor=owner, domain="partners.globex.com")
    assert exc.value.message == DOMAIN_TAKEN
    assert domains(in_acme) == []


def test_it_removes_a_custom_domain(client_for, acme, owner):
    domain = TenantDomain.all_tenants_unscoped.create(
        tenant=acme, domain="partners.acme.com", is_verified=True
    )
    response = client_for(owner).post(f"/manage/settings/domains/{domain.pk}/remove/")
    assert response.status_code == 302
    assert response["Location"] == "/manage/settings/"
    assert domains(acme) == []
    [entry] = audit(acme, "domain.remove")
    assert entry.actor == owner
    assert entry.before == {"domain": "partners.acme.com", "is_verified": True}


def test_a_verified_custom_domain_serves_the_tenant(client_for, acme, owner):
    TenantDomain.all_tenants_unscoped.create(
        tenant=acme, domain="partners.acme.com", is_verified=True
    )
    welcome = client_for(None, "partners.acme.com").get("/")
    assert welcome.status_code == 200
    assert "Partner program of Acme" in welcome.content.decode()
    assert client_for(owner, "partners.acme.com").get("/manage/").status_code == 200


def test_an_unverified_custom_domain_serves_nothing(client_for, acme, owner):
    client_for(owner).post("/manage/settings/domains/", {"domain": "partners.acme.com"})
    response = client_for(None, "partners.acme.com").get("/")
    assert response.status_code == 404
    assert "There is no workspace here" in response.content.decode()


def test_a_removed_custom_domain_stops_serving_the_tenant(
    client_for, acme, owner, django_capture_on_commit_callbacks
):
    domain = TenantDomain.all_tenants_unscoped.create(
        tenant=acme, domain="partners.acme.com", is_verified=True
    )
    visitor = client_for(None, "partners.acme.com")
    assert visitor.get("/").status_code == 200  # now cached for the host
    with django_capture_on_commit_callbacks(execute=True):
        client_for(owner).post(f"/manage/settings/domains/{domain.pk}/remove/")
    assert visitor.get("/").status_code == 404
