from __future__ import annotations

from django.core.management import call_command

from partners.models import PartnerProfile
from prm.models import Membership, Role, Tenant, User
from prm.tenancy import tenant_scope


def test_the_demo_is_idempotent_and_has_the_documented_logins(db, capsys):
    call_command("prm_demo")
    call_command("prm_demo")
    tenant = Tenant.objects.get(slug="acme")
    owner = User.objects.get(email="owner@acme.test")
    partner = User.objects.get(email="partner@acme.test")
    assert owner.check_password("prm-demo-2026")
    assert partner.check_password("prm-demo-2026")
    with tenant_scope(tenant):
        assert Membership.objects.get(user=owner).role == Role.OWNER
        assert PartnerProfile.objects.get(user=partner).status == PartnerProfile.Status.ACTIVE
        assert Membership.objects.count() == 5
    out = capsys.readouterr().out
    assert "http://acme.localhost" in out
    assert "owner@acme.test" in out


def test_the_demo_owner_can_sign_in_and_reach_the_console(db, client):
    call_command("prm_demo")
    response = client.post(
        "/accounts/login/",
        {"login": "owner@acme.test", "password": "prm-demo-2026"},
        HTTP_HOST="acme.localhost",
    )
    assert response.status_code == 302
    assert response["Location"] == "/manage/"
    assert client.get("/manage/", HTTP_HOST="acme.localhost").status_code == 200


def test_the_banner_follows_the_public_port(db, capsys, settings):
    # bin/run exports PRM_PUBLIC_PORT=$PORT, so `PORT=8101 make run` prints 8101 links.
    settings.PRM_PUBLIC_PORT = "8101"
    call_command("prm_demo")
    out = capsys.readouterr().out
    links = [word for word in out.split() if word.startswith("http")]
    assert len(links) == 5
    assert all(":8101/" in link for link in links), links
    assert "8000" not in out
