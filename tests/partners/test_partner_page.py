"""The console's partner page and what staff do there: edit, status with a reason,
notes, tags, group; adding a partner by hand."""

from __future__ import annotations

from django.core import mail

from partners.models import PartnerNote, PartnerProfile, PartnerTag, PartnerTagging
from prm.models import AuditEntry, User
from prm.tenancy import tenant_scope
from rewards.models import PartnerGroup
from tests.factories import PartnerFactory, UserFactory
from tests.partners.people_world import busy_partner, reload
from tests.programs.factories import ProgramFactory


def page(client, partner):  # type: ignore[no-untyped-def]
    return client.get(f"/manage/partners/{partner.pk}/")


def audited(tenant, action: str) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    return list(AuditEntry.all_tenants_unscoped.filter(tenant=tenant, action=action))


def test_it_shows_the_partner_with_programs_stats_and_money(client_for, acme, owner):
    partner = busy_partner(acme, 3)
    html = page(client_for(owner), partner).content.decode()
    assert "busy@example.test" in html
    assert "Program busy@example.test" in html
    assert 'data-stat="clicks">3<' in html
    assert 'data-stat="leads">3<' in html
    assert 'data-stat="conversions">3<' in html
    assert f'href="/manage/partners/{partner.pk}/ledger/"' in html
    assert f"/manage/antifraud/?partner={partner.pk}" in html


def test_a_manager_sees_no_money_and_no_history(client_for, acme, manager):
    partner = busy_partner(acme, 1)
    response = page(client_for(manager), partner)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="money"' not in html and "/ledger/" not in html
    assert 'id="history"' not in html
    assert 'id="notes"' in html


def test_the_partner_list_links_names_to_the_partner_page(client_for, acme, owner, partner):
    with tenant_scope(acme):
        profile = PartnerProfile.objects.get(user=partner)
    html = client_for(owner).get("/manage/partners/").content.decode()
    assert f'href="/manage/partners/{profile.pk}/"' in html


def test_another_tenants_partner_is_a_404(client_for, acme, globex, owner):
    theirs = PartnerFactory(tenant=globex)
    for path in ("", "edit/", "change-status/"):
        assert client_for(owner).get(f"/manage/partners/{theirs.pk}/{path}").status_code == 404
    for path in ("notes/", "tags/", "group/"):
        assert client_for(owner).post(f"/manage/partners/{theirs.pk}/{path}").status_code == 404


def test_the_page_takes_the_same_number_of_queries_for_a_busy_partner(
    client_for, acme, owner, django_assert_num_queries
):
    quiet, busy = busy_partner(acme, 1, "quiet@x.test"), busy_partner(acme, 12, "busy@x.test")
    client = client_for(owner)
    for p in (quiet, busy):
        with tenant_scope(acme):
            tag = PartnerTag.objects.create(tenant=acme, name=f"t-{p.pk}")
            PartnerTagging.objects.create(tenant=acme, partner=p, tag=tag)
            for n in range(3 if p is quiet else 15):
                PartnerNote.objects.create(tenant=acme, partner=p, body=f"note {n}")
    page(client, quiet)  # warm the host cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for p in (quiet, busy):
        with CaptureQueriesContext(connection) as ctx:
            assert page(client, p).status_code == 200
        counts.append(len(ctx))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 30


def test_staff_edit_the_profile_and_it_is_audited(client_for, acme, owner, partner):
    with tenant_scope(acme):
        profile = PartnerProfile.objects.get(user=partner)
    response = client_for(owner).post(
        f"/manage/partners/{profile.pk}/edit/",
        {
            "display_name": "Dana D.",
            "company": "Dana Ltd",
            "country": "ru",
            "websites": "https://www.Dana.example/blog\ndana.example",
            "social_links": "https://t.me/dana",
        },
    )
    assert response.status_code == 302
    profile = reload(acme, profile)
    assert (profile.display_name, profile.company, profile.country) == ("Dana D.", "Dana Ltd", "RU")
    assert profile.websites == ["dana.example"]
    assert profile.social_links == ["https://t.me/dana"]
    (entry,) = audited(acme, "partner.update")
    assert entry.after["country"] == "RU" and entry.actor == owner


def test_bad_profile_input_gets_form_errors(client_for, acme, owner, partner):
    with tenant_scope(acme):
        profile = PartnerProfile.objects.get(user=partner)
    response = client_for(owner).post(
        f"/manage/partners/{profile.pk}/edit/",
        {"country": "Russia", "websites": "not a site", "social_links": "javascript:alert(1)"},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"country", "websites", "social_links"}
    assert not audited(acme, "partner.update")


def test_blocking_asks_to_confirm_with_a_reason(client_for, acme, owner, partner):
    with tenant_scope(acme):
        profile = PartnerProfile.objects.get(user=partner)
    client = client_for(owner)
    url = f"/manage/partners/{profile.pk}/change-status/"
    confirm = client.get(url + "?to=blocked")
    assert confirm.status_code == 200 and "Block" in confirm.content.decode()
    refused = client.post(url, {"status": "blocked", "reason": " "})
    assert refused.status_code == 200 and "reason" in refused.context["form"].errors
    assert reload(acme, profile).status == "active"
    assert client.post(url, {"status": "blocked", "reason": "spam"}).status_code == 302
    profile = reload(acme, profile)
    assert (profile.status, profile.status_reason) == ("blocked", "spam")
    (entry,) = audited(acme, "partner.status")
    assert entry.after == {"status": "blocked", "reason": "spam"}
    assert client.post(url, {"status": "active", "reason": ""}).status_code == 302
    assert reload(acme, profile).status == "active"


def test_approving_and_rejecting_an_application_emails_the_applicant(
    client_for, acme, owner, run_jobs, django_capture_on_commit_callbacks
):
    ann = PartnerFactory(tenant=acme, status="pending", user=UserFactory(email="ann@x.test"))
    bob = PartnerFactory(tenant=acme, status="pending", user=UserFactory(email="bob@x.test"))
    client = client_for(owner)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/manage/partners/{ann.pk}/change-status/", {"status": "active"})
        client.post(
            f"/manage/partners/{bob.pk}/change-status/",
            {"status": "rejected", "reason": "No website yet"},
        )
    run_jobs()
    by_to = {m.to[0]: m for m in mail.outbox}
    assert "you are in" in by_to["ann@x.test"].subject  # the notification (prm.notifications)
    assert "not accepted" in by_to["bob@x.test"].subject
    assert "No website yet" in by_to["bob@x.test"].body
    assert reload(acme, bob).status == "rejected"


def test_notes_are_added_and_audited(client_for, acme, owner, partner):
    with tenant_scope(acme):
        profile = PartnerProfile.objects.get(user=partner)
    client = client_for(owner)
    assert client.post(f"/manage/partners/{profile.pk}/notes/", {"body": ""}).status_code == 200
    client.post(f"/manage/partners/{profile.pk}/notes/", {"body": "Called, wants a banner"})
    with tenant_scope(acme):
        assert [n.body for n in PartnerNote.objects.filter(partner=profile)] == [
            "Called, wants a banner"
        ]
    assert len(audited(acme, "partner.note")) == 1
    assert "Called, wants a banner" in page(client, profile).content.decode()


def test_a_tag_and_a_group_are_set_from_the_page(client_for, acme, owner, partner):
    with tenant_scope(acme):
        profile = PartnerProfile.objects.get(user=partner)
        tag = PartnerTag.objects.create(tenant=acme, name="VIP")
        group = PartnerGroup.objects.create(tenant=acme, name="Gold")
    client = client_for(owner)
    client.post(f"/manage/partners/{profile.pk}/tags/", {"tag": str(tag.pk)})
    client.post(f"/manage/partners/{profile.pk}/group/", {"group": str(group.pk)})
    profile = reload(acme, profile)
    assert profile.group == group
    with tenant_scope(acme):
        assert list(profile.tags.all()) == [tag]
    client.post(f"/manage/partners/{profile.pk}/tags/", {"tag": str(tag.pk), "remove": "1"})
    with tenant_scope(acme):
        assert not profile.tags.exists()
    assert [e.action for e in AuditEntry.all_tenants_unscoped.order_by("created_at")] == [
        "partner.tag_add",
        "partner.group",
        "partner.tag_remove",
    ]


def test_staff_add_a_partner_who_gets_a_link_to_set_a_password(
    client_for, acme, owner, run_jobs, django_capture_on_commit_callbacks
):
    program = ProgramFactory(tenant=acme, name="Pro")
    with tenant_scope(acme):
        group = PartnerGroup.objects.create(tenant=acme, name="Gold")
    client = client_for(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/manage/partners/new/",
            {
                "email": "New@Example.test",
                "display_name": "Newton",
                "programs": [str(program.pk)],
                "group": str(group.pk),
            },
        )
    assert response.status_code == 302
    run_jobs()
    user = User.objects.get(email="new@example.test")
    assert not user.has_usable_password()
    with tenant_scope(acme):
        profile = PartnerProfile.objects.get(user=user)
        assert profile.status == "active" and profile.group == group
        assert [e.program for e in profile.enrollments.all()] == [program]
    (message,) = mail.outbox
    assert message.to == ["new@example.test"] and "/join/invite/" in message.body
    again = client.post("/manage/partners/new/", {"email": "new@example.test"})
    assert again.status_code == 200 and "email" in again.context["form"].errors
    # The link lets them choose a password, once, and signs them in.
    link = message.body.split("http://acme.localhost", 1)[1].split()[0]
    visitor = client_for(None)
    password = "a-long-passphrase-1"
    set_it = visitor.post(link, {"password1": password, "password2": password})
    assert (set_it.status_code, set_it["Location"]) == (302, "/")
    user.refresh_from_db()
    assert user.check_password(password)
    assert visitor.get("/").status_code == 200
    assert client_for(None).get(link).status_code == 410
