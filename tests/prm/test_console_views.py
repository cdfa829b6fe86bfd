from __future__ import annotations

import pytest

from partners.models import PartnerProfile
from prm.audit import audit_record
from prm.models import Role
from tests.factories import MembershipFactory, PartnerFactory


def test_the_overview_counts_the_tenants_partners_and_team(client_for, acme, owner, globex):
    for status, n in [("active", 3), ("pending", 2), ("blocked", 1)]:
        for _ in range(n):
            PartnerFactory(tenant=acme, status=status)
    PartnerFactory(tenant=globex)
    MembershipFactory(tenant=acme, role=Role.ANALYST)
    MembershipFactory(tenant=globex)
    response = client_for(owner).get("/manage/")
    assert response.status_code == 200
    assert response.context["partners_active"] == 3
    assert response.context["partners_pending"] == 2
    assert response.context["team_size"] == 2
    assert '<span class="stat-value" id="stat-partners">3</span>' in response.content.decode()


def test_the_overview_links_the_partner_cabinet(client_for, acme, owner):
    html = client_for(owner).get("/manage/").content.decode()
    assert 'href="http://acme.localhost/"' in html


@pytest.mark.parametrize("persona", ["owner", "admin"])
def test_those_who_read_the_audit_log_see_recent_changes(client_for, acme, persona, request):
    user = request.getfixturevalue(persona)
    audit_record(tenant=acme, actor=user, action="settings.update", after={"name": "Acme"})
    html = client_for(user).get("/manage/").content.decode()
    assert "Recent changes" in html
    assert "<code>settings.update</code>" in html


@pytest.mark.parametrize("persona", ["manager", "finance", "analyst"])
def test_others_do_not_see_recent_changes(client_for, acme, persona, request):
    user = request.getfixturevalue(persona)
    audit_record(tenant=acme, actor=user, action="settings.update", after={"name": "Acme"})
    html = client_for(user).get("/manage/").content.decode()
    assert "Recent changes" not in html
    assert "settings.update" not in html


def test_the_overview_shows_only_the_five_latest_changes_of_this_tenant(
    client_for, acme, owner, globex, outsider
):
    for i in range(7):
        audit_record(tenant=acme, actor=owner, action=f"acme.n{i}")
    audit_record(tenant=globex, actor=outsider, action="globex.secret")
    response = client_for(owner).get("/manage/")
    assert len(response.context["recent"]) == 5
    assert "globex.secret" not in response.content.decode()


def test_the_overview_shows_the_signed_in_persons_role(client_for, acme, finance):
    html = client_for(finance).get("/manage/").content.decode()
    assert "Your role: Finance" in html


def test_the_overview_stays_within_its_query_budget(
    client_for, acme, owner, django_assert_max_num_queries
):
    for _ in range(10):
        PartnerFactory(tenant=acme, status=PartnerProfile.Status.PENDING)
        audit_record(tenant=acme, actor=owner, action="team.invite")
    client = client_for(owner)
    client.get("/manage/")  # warm the tenant host cache
    # 8: the getting-started checklist is one more query than the old counters.
    with django_assert_max_num_queries(8):
        assert client.get("/manage/").status_code == 200
