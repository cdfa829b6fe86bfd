"""Tags (create, bulk assign and unassign from the partners list, filter) and groups as
console pages (create with default programs, members, edit)."""

from __future__ import annotations

from partners.models import PartnerProfile, PartnerTag
from prm.models import AuditEntry
from prm.tenancy import tenant_scope
from programs.models import Program
from rewards.models import PartnerGroup
from tests.factories import PartnerFactory, UserFactory
from tests.programs.factories import ProgramFactory


def listed(response) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(p.user.email for p in response.context["page"].object_list)


def three(acme):  # type: ignore[no-untyped-def]
    return [PartnerFactory(tenant=acme, user=UserFactory(email=f"{n}@x.test")) for n in "abc"]


def test_tags_are_created_once_per_name(client_for, acme, owner):
    client = client_for(owner)
    assert client.post("/manage/tags/new/", {"name": "VIP"}).status_code == 302
    again = client.post("/manage/tags/new/", {"name": "vip "})
    assert again.status_code == 200 and "name" in again.context["form"].errors
    with tenant_scope(acme):
        assert list(PartnerTag.objects.values_list("name", flat=True)) == ["VIP"]


def test_bulk_tagging_from_the_list_and_filtering_by_tag(client_for, acme, owner):
    a, b, c = three(acme)
    with tenant_scope(acme):
        tag = PartnerTag.objects.create(tenant=acme, name="VIP")
    client = client_for(owner)
    response = client.post(
        "/manage/partners/bulk/",
        {"action": "tag", "tag": str(tag.pk), "partners": [str(a.pk), str(b.pk)]},
    )
    assert response.status_code == 302
    assert listed(client.get(f"/manage/partners/?tag={tag.pk}")) == ["a@x.test", "b@x.test"]
    # Tagging again changes nothing (and audits nothing).
    client.post(
        "/manage/partners/bulk/",
        {"action": "tag", "tag": str(tag.pk), "partners": [str(a.pk), str(c.pk)]},
    )
    assert listed(client.get(f"/manage/partners/?tag={tag.pk}")) == [
        "a@x.test",
        "b@x.test",
        "c@x.test",
    ]
    client.post(
        "/manage/partners/bulk/",
        {"action": "untag", "tag": str(tag.pk), "partners": [str(a.pk)]},
    )
    assert listed(client.get(f"/manage/partners/?tag={tag.pk}")) == ["b@x.test", "c@x.test"]
    audit = AuditEntry.all_tenants_unscoped.filter(action__startswith="partner.tag")
    assert sorted(audit.values_list("action", flat=True)) == ["partner.tag_add"] * 3 + [
        "partner.tag_remove"
    ]
    assert listed(client.get("/manage/partners/?tag=not-a-uuid")) == [
        "a@x.test",
        "b@x.test",
        "c@x.test",
    ]


def test_bulk_actions_refuse_another_tenants_partners_and_tags(client_for, acme, globex, owner):
    (a, *_) = three(acme)
    theirs = PartnerFactory(tenant=globex)
    with tenant_scope(acme):
        mine = PartnerTag.objects.create(tenant=acme, name="VIP")
    with tenant_scope(globex):
        their_tag = PartnerTag.objects.create(tenant=globex, name="VIP")
    client = client_for(owner)
    client.post(
        "/manage/partners/bulk/",
        {"action": "tag", "tag": str(mine.pk), "partners": [str(a.pk), str(theirs.pk)]},
    )
    client.post(
        "/manage/partners/bulk/",
        {"action": "tag", "tag": str(their_tag.pk), "partners": [str(a.pk)]},
    )
    assert not AuditEntry.all_tenants_unscoped.filter(action="partner.tag_add").exists()
    assert client.get(f"/manage/tags/{their_tag.pk}/").status_code == 404


def test_bulk_moves_to_a_group_only_for_those_who_may(client_for, acme, owner, manager):
    a, b, _ = three(acme)
    with tenant_scope(acme):
        group = PartnerGroup.objects.create(tenant=acme, name="Gold")
    data = {"action": "group", "group": str(group.pk), "partners": [str(a.pk), str(b.pk)]}
    client_for(manager).post("/manage/partners/bulk/", data)
    with tenant_scope(acme):
        assert not PartnerProfile.objects.filter(group=group).exists()
    client_for(owner).post("/manage/partners/bulk/", data)
    with tenant_scope(acme):
        assert set(PartnerProfile.objects.filter(group=group)) == {a, b}


def test_groups_are_created_with_their_default_programs(client_for, acme, owner):
    pro, basic = ProgramFactory(tenant=acme, name="Pro"), ProgramFactory(tenant=acme, name="Basic")
    client = client_for(owner)
    bad = client.post("/manage/groups/new/", {"name": "", "hold_days": "-1"})
    assert bad.status_code == 200 and {"name", "hold_days"} <= set(bad.context["form"].errors)
    response = client.post(
        "/manage/groups/new/", {"name": "Gold", "hold_days": "7", "default_for": [str(pro.pk)]}
    )
    assert response.status_code == 302
    with tenant_scope(acme):
        group = PartnerGroup.objects.get()
        assert group.hold_days == 7
        assert list(Program.objects.filter(default_group=group)) == [pro]
    client.post(
        f"/manage/groups/{group.pk}/edit/",
        {"name": "Gold", "hold_days": "", "default_for": [str(basic.pk)]},
    )
    with tenant_scope(acme):
        assert list(Program.objects.filter(default_group=group)) == [basic]
    actions = set(AuditEntry.all_tenants_unscoped.values_list("action", flat=True))
    assert {"partner_group.create", "partner_group.update", "partner_group.default_for"} <= actions


def test_a_groups_members_are_paginated(client_for, acme, owner):
    with tenant_scope(acme):
        group = PartnerGroup.objects.create(tenant=acme, name="Gold")
    for _ in range(55):
        PartnerFactory(tenant=acme, group=group)
    client = client_for(owner)
    first = client.get(f"/manage/groups/{group.pk}/")
    assert len(first.context["page"].object_list) == 50
    second = client.get(f"/manage/groups/{group.pk}/?page=2")
    assert len(second.context["page"].object_list) == 5
    assert "55" in client.get("/manage/groups/").content.decode()


def test_another_tenants_group_is_a_404(client_for, acme, globex, owner):
    with tenant_scope(globex):
        theirs = PartnerGroup.objects.create(tenant=globex, name="Gold")
    client = client_for(owner)
    assert client.get(f"/manage/groups/{theirs.pk}/").status_code == 404
    assert client.get(f"/manage/groups/{theirs.pk}/edit/").status_code == 404
