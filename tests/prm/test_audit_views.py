from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from prm.audit import audit_record
from prm.models import AuditEntry, Tenant, User


def record(
    tenant: Tenant,
    actor: User | None,
    action: str,
    *,
    when: datetime | None = None,
    object_type: str = "tenant",
) -> AuditEntry:
    entry = audit_record(
        tenant=tenant,
        actor=actor,
        action=action,
        object_type=object_type,
        after={"note": action},
    )
    if when is not None:
        AuditEntry.all_tenants_unscoped.filter(pk=entry.pk).update(created_at=when)
    return entry


def shown_actions(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [entry.action for entry in response.context["page"].object_list]


def test_it_lists_the_tenants_changes_newest_first(client_for, acme, owner):
    now = timezone.now()
    record(acme, owner, "settings.update", when=now - timedelta(hours=2))
    record(acme, owner, "team.invite", when=now - timedelta(hours=1))
    response = client_for(owner).get("/manage/audit/")
    assert response.status_code == 200
    assert shown_actions(response) == ["team.invite", "settings.update"]
    html = response.content.decode()
    assert "<code>team.invite</code>" in html
    assert "owner@acme.test" in html


def test_it_shows_before_and_after(client_for, acme, owner):
    audit_record(
        tenant=acme,
        actor=owner,
        action="settings.update",
        obj=acme,
        before={"name": "Acme"},
        after={"name": "Acme Corp"},
    )
    html = client_for(owner).get("/manage/audit/").content.decode()
    assert "<del>Acme</del> → Acme Corp" in html


def test_it_does_not_show_other_tenants_changes(client_for, acme, owner, globex, outsider):
    record(globex, outsider, "globex.secret")
    response = client_for(owner).get("/manage/audit/")
    assert shown_actions(response) == []
    assert "globex.secret" not in response.content.decode()
    assert "Nothing recorded yet." in response.content.decode()


def test_it_filters_by_action_prefix(client_for, acme, owner):
    for action in ["team.invite", "team.remove", "settings.update", "partner.status"]:
        record(acme, owner, action)
    response = client_for(owner).get("/manage/audit/?action=team")
    assert sorted(shown_actions(response)) == ["team.invite", "team.remove"]
    response = client_for(owner).get("/manage/audit/?action=settings.update")
    assert shown_actions(response) == ["settings.update"]


def test_it_filters_by_actor_e_mail(client_for, acme, owner, admin):
    record(acme, owner, "by.owner")
    record(acme, admin, "by.admin")
    record(acme, None, "by.nobody")
    response = client_for(owner).get("/manage/audit/?actor=ADMIN@acme")
    assert shown_actions(response) == ["by.admin"]


def test_it_filters_by_object_type(client_for, acme, owner):
    record(acme, owner, "a", object_type="invitation")
    record(acme, owner, "b", object_type="membership")
    response = client_for(owner).get("/manage/audit/?object_type=membership")
    assert shown_actions(response) == ["b"]


def test_it_filters_by_date_range_inclusively(client_for, acme, owner):
    record(acme, owner, "too.early", when=timezone.make_aware(datetime(2026, 1, 9, 23, 0)))
    record(acme, owner, "first.day", when=timezone.make_aware(datetime(2026, 1, 10, 0, 30)))
    record(acme, owner, "last.day", when=timezone.make_aware(datetime(2026, 1, 20, 23, 30)))
    record(acme, owner, "too.late", when=timezone.make_aware(datetime(2026, 1, 21, 0, 30)))
    client = client_for(owner)
    response = client.get("/manage/audit/?since=2026-01-10&until=2026-01-20")
    assert shown_actions(response) == ["last.day", "first.day"]
    assert shown_actions(client.get("/manage/audit/?since=2026-01-21")) == ["too.late"]
    assert shown_actions(client.get("/manage/audit/?until=2026-01-09")) == ["too.early"]


def test_it_combines_filters(client_for, acme, owner, admin):
    day = timezone.make_aware(datetime(2026, 3, 1, 12, 0))
    record(acme, admin, "team.invite", when=day)
    record(acme, owner, "team.invite", when=day)
    record(acme, admin, "team.invite", when=day - timedelta(days=3))
    record(acme, admin, "settings.update", when=day)
    response = client_for(owner).get(
        "/manage/audit/?action=team&actor=admin&since=2026-03-01&until=2026-03-01"
    )
    assert len(shown_actions(response)) == 1
    assert response.context["page"].object_list[0].actor == admin


def test_an_invalid_date_shows_an_error_instead_of_failing(client_for, acme, owner):
    record(acme, owner, "team.invite")
    response = client_for(owner).get("/manage/audit/?since=2026-13-45&actor=%00")
    assert response.status_code == 200
    assert "Enter a valid date." in response.content.decode()


def test_it_paginates_fifty_a_page_and_keeps_the_filters(client_for, acme, owner):
    start = timezone.now() - timedelta(days=1)
    for i in range(60):
        record(acme, owner, f"team.n{i:02}", when=start + timedelta(minutes=i))
    record(acme, owner, "settings.update")
    client = client_for(owner)
    first = client.get("/manage/audit/?action=team")
    assert len(shown_actions(first)) == 50
    assert shown_actions(first)[0] == "team.n59"
    assert "Page 1 of 2" in first.content.decode()
    # Next carries the keyset cursor of the last row shown (prm/pagination.py) ...
    link = re.search(
        r'href="(\?action=team&amp;page=2&amp;page_after=[^"]+)"', first.content.decode()
    )
    assert link is not None
    by_link = client.get("/manage/audit/" + html.unescape(link[1]))
    # ... and lands where the page number does.
    second = client.get("/manage/audit/?action=team&page=2")
    assert shown_actions(second) == [f"team.n{i:02}" for i in range(9, -1, -1)]
    assert shown_actions(by_link) == shown_actions(second)
    assert 'href="?action=team&amp;page=1&amp;page_before=' in second.content.decode()


@pytest.mark.parametrize("page", ["0", "999", "abc", "-1", "%00"])
def test_an_out_of_range_or_malformed_page_number_still_answers(client_for, acme, owner, page):
    record(acme, owner, "team.invite")
    response = client_for(owner).get(f"/manage/audit/?page={page}")
    assert response.status_code == 200
    assert shown_actions(response) == ["team.invite"]


@pytest.mark.parametrize("persona", ["owner", "admin"])
def test_owners_and_admins_read_the_audit_log(client_for, acme, persona, request):
    response = client_for(request.getfixturevalue(persona)).get("/manage/audit/")
    assert response.status_code == 200


# It names team members and invited addresses: team data (README, Roles).
@pytest.mark.parametrize("persona", ["manager", "finance", "analyst"])
def test_managers_finance_and_analysts_may_not_read_the_audit_log(
    client_for, acme, persona, request
):
    assert client_for(request.getfixturevalue(persona)).get("/manage/audit/").status_code == 403


@pytest.mark.parametrize("persona", ["manager", "finance", "analyst"])
def test_the_console_does_not_link_the_audit_log_for_those_who_cannot_read_it(
    client_for, acme, persona, request
):
    html = client_for(request.getfixturevalue(persona)).get("/manage/").content.decode()
    assert 'href="/manage/audit/"' not in html


def test_the_audit_page_stays_within_its_query_budget(
    client_for, acme, owner, admin, django_assert_max_num_queries
):
    for i in range(50):
        record(acme, owner if i % 2 else admin, f"team.n{i}")
    client = client_for(owner)
    client.get("/manage/audit/")  # warm the tenant host cache
    with django_assert_max_num_queries(6):
        response = client.get("/manage/audit/?action=team&page=1")
    assert len(shown_actions(response)) == 50
