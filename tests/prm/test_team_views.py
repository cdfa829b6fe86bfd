from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.utils import timezone

from partners.models import PartnerProfile
from prm.adapters import INVITATION_SESSION_KEY
from prm.models import AuditEntry, Invitation, Membership, Role, Tenant, User
from prm.services.errors import (
    ALREADY_INVITED,
    ALREADY_MEMBER,
    INVITATION_WRONG_EMAIL,
    LAST_OWNER,
    ONLY_OWNER_GRANTS_OWNER,
)
from prm.tenancy import tenant_scope
from tests.factories import PASSWORD, InvitationFactory, MembershipFactory, UserFactory


def messages_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in get_messages(response.wsgi_request)]


def membership_of(tenant, user) -> Membership:  # type: ignore[no-untyped-def]
    with tenant_scope(tenant):
        return Membership.objects.get(user=user)


def actions(tenant) -> list[str]:  # type: ignore[no-untyped-def]
    return list(
        AuditEntry.all_tenants_unscoped.filter(tenant=tenant).values_list("action", flat=True)
    )


# The team page


def test_it_lists_members_and_pending_invitations(client_for, acme, owner, analyst):
    InvitationFactory(tenant=acme, email="pending@example.test")
    InvitationFactory(tenant=acme, email="gone@example.test", status=Invitation.Status.REVOKED)
    response = client_for(owner).get("/manage/team/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-email="owner@acme.test"' in html
    assert 'data-email="analyst@acme.test"' in html
    assert "pending@example.test" in html
    assert "gone@example.test" not in html
    assert 'id="invite-form"' in html


def test_it_does_not_show_other_tenants_people(client_for, acme, owner, outsider, globex):
    InvitationFactory(tenant=globex, email="globex-invitee@example.test")
    html = client_for(owner).get("/manage/team/").content.decode()
    assert "owner@globex.test" not in html
    assert "globex-invitee@example.test" not in html


@pytest.mark.parametrize("persona", ["manager", "finance", "analyst"])
def test_other_roles_have_no_team_page_and_never_see_pending_invitations(
    client_for, acme, owner, persona, request
):
    InvitationFactory(tenant=acme, email="pending@example.test")
    client = client_for(request.getfixturevalue(persona))
    response = client.get("/manage/team/")
    assert response.status_code == 403
    assert "pending@example.test" not in response.content.decode()
    overview = client.get("/manage/").content.decode()
    assert 'href="/manage/team/"' not in overview
    assert "pending@example.test" not in overview


def test_an_admin_is_not_offered_the_owner_role(client_for, acme, owner, admin):
    html = client_for(admin).get("/manage/team/").content.decode()
    assert 'value="admin"' in html
    assert 'value="owner"' not in html


def test_the_team_page_stays_within_its_query_budget(
    client_for, acme, owner, django_assert_max_num_queries
):
    for _ in range(15):
        MembershipFactory(tenant=acme, role=Role.ANALYST)
        InvitationFactory(tenant=acme)
    client = client_for(owner)
    client.get("/manage/team/")  # warm the tenant host cache
    with django_assert_max_num_queries(6):
        response = client.get("/manage/team/")
    assert response.status_code == 200


# Inviting


def test_it_invites_a_colleague_and_e_mails_the_link(
    client_for, acme, owner, run_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(owner).post(
            "/manage/team/invite/", {"email": "new@example.test", "role": "manager"}
        )
    assert response.status_code == 302
    assert response["Location"] == "/manage/team/"
    assert messages_of(response) == ["Invitation sent to new@example.test."]
    run_jobs()
    with tenant_scope(acme):
        invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.invited_by) == (
        "new@example.test",
        Role.MANAGER,
        owner,
    )
    assert [m.to for m in mail.outbox] == [["new@example.test"]]
    assert f"http://acme.localhost/invite/{invitation.token}/" in mail.outbox[0].body
    entry = AuditEntry.all_tenants_unscoped.get(action="team.invite")
    assert entry.tenant == acme
    assert entry.actor == owner
    assert entry.after == {"email": "new@example.test", "role": "manager"}
    assert entry.ip == "127.0.0.1"


def test_an_admin_may_invite(client_for, acme, admin):
    response = client_for(admin).post(
        "/manage/team/invite/", {"email": "new@example.test", "role": "analyst"}
    )
    assert response.status_code == 302
    assert actions(acme) == ["team.invite"]


def test_it_shows_an_error_for_a_second_invitation_to_the_same_address(
    client_for, acme, owner, run_jobs, django_capture_on_commit_callbacks
):
    InvitationFactory(tenant=acme, email="new@example.test")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(owner).post(
            "/manage/team/invite/", {"email": "new@example.test", "role": "manager"}
        )
    run_jobs()
    assert response.status_code == 200
    assert str(ALREADY_INVITED) in response.content.decode()
    with tenant_scope(acme):
        assert Invitation.objects.count() == 1
    assert actions(acme) == []
    assert mail.outbox == []


def test_it_shows_an_error_when_inviting_an_existing_member(client_for, acme, owner, manager):
    response = client_for(owner).post(
        "/manage/team/invite/", {"email": "manager@acme.test", "role": "analyst"}
    )
    assert response.status_code == 200
    assert str(ALREADY_MEMBER) in response.content.decode()
    with tenant_scope(acme):
        assert not Invitation.objects.exists()


def test_it_shows_an_error_for_an_invalid_e_mail(client_for, acme, owner):
    response = client_for(owner).post(
        "/manage/team/invite/", {"email": "not-an-address", "role": "analyst"}
    )
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
    with tenant_scope(acme):
        assert not Invitation.objects.exists()


def test_an_admin_cannot_invite_an_owner(client_for, acme, owner, admin):
    response = client_for(admin).post(
        "/manage/team/invite/", {"email": "boss@example.test", "role": "owner"}
    )
    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()
    with tenant_scope(acme):
        assert not Invitation.objects.exists()


def test_an_owner_may_invite_an_owner(client_for, acme, owner):
    response = client_for(owner).post(
        "/manage/team/invite/", {"email": "boss@example.test", "role": "owner"}
    )
    assert response.status_code == 302
    with tenant_scope(acme):
        assert Invitation.objects.get().role == Role.OWNER


def test_inviting_needs_a_post(client_for, acme, owner):
    # A reload of the action goes back to the team page (no blank 405); nothing is sent.
    response = client_for(owner).get("/manage/team/invite/")
    assert (response.status_code, response["Location"]) == (302, "/manage/team/")
    with tenant_scope(acme):
        assert not Invitation.objects.exists()


# Changing roles


def test_it_changes_a_members_role(client_for, acme, owner, manager):
    target = membership_of(acme, manager)
    response = client_for(owner).post(f"/manage/team/{target.pk}/role/", {"role": "finance"})
    assert response.status_code == 302
    assert response["Location"] == "/manage/team/"
    assert messages_of(response) == ["Role of manager@acme.test changed."]
    assert membership_of(acme, manager).role == Role.FINANCE
    entry = AuditEntry.all_tenants_unscoped.get(action="team.role_change")
    assert entry.actor == owner
    assert entry.object_id == str(target.pk)
    assert (entry.before, entry.after) == ({"role": "manager"}, {"role": "finance"})


def test_it_refuses_an_unknown_role(client_for, acme, owner, manager):
    target = membership_of(acme, manager)
    response = client_for(owner).post(f"/manage/team/{target.pk}/role/", {"role": "emperor"})
    assert response.status_code == 302
    assert messages_of(response) == ["Choose a valid role."]
    assert membership_of(acme, manager).role == Role.MANAGER
    assert actions(acme) == []


def test_only_an_owner_grants_the_owner_role(client_for, acme, owner, admin, manager):
    target = membership_of(acme, manager)
    response = client_for(admin).post(f"/manage/team/{target.pk}/role/", {"role": "owner"})
    assert messages_of(response) == [str(ONLY_OWNER_GRANTS_OWNER)]
    assert membership_of(acme, manager).role == Role.MANAGER
    response = client_for(owner).post(f"/manage/team/{target.pk}/role/", {"role": "owner"})
    assert membership_of(acme, manager).role == Role.OWNER


def test_an_admin_cannot_demote_an_owner(client_for, acme, owner, admin):
    target = membership_of(acme, owner)
    response = client_for(admin).post(f"/manage/team/{target.pk}/role/", {"role": "analyst"})
    assert messages_of(response) == [str(ONLY_OWNER_GRANTS_OWNER)]
    assert membership_of(acme, owner).role == Role.OWNER
    assert actions(acme) == []


def test_the_last_owner_cannot_demote_themselves(client_for, acme, owner):
    target = membership_of(acme, owner)
    response = client_for(owner).post(f"/manage/team/{target.pk}/role/", {"role": "admin"})
    assert response.status_code == 302
    assert messages_of(response) == [str(LAST_OWNER)]
    assert membership_of(acme, owner).role == Role.OWNER
    assert actions(acme) == []


def test_an_owner_may_step_down_when_another_owner_remains(client_for, acme, owner):
    MembershipFactory(tenant=acme, role=Role.OWNER)
    target = membership_of(acme, owner)
    client_for(owner).post(f"/manage/team/{target.pk}/role/", {"role": "admin"})
    assert membership_of(acme, owner).role == Role.ADMIN


# Removing members


def test_it_removes_a_member(client_for, acme, owner, manager):
    target = membership_of(acme, manager)
    response = client_for(owner).post(f"/manage/team/{target.pk}/remove/")
    assert response.status_code == 302
    assert response["Location"] == "/manage/team/"
    assert messages_of(response) == ["manager@acme.test was removed from the team."]
    with tenant_scope(acme):
        assert not Membership.objects.filter(user=manager).exists()
    entry = AuditEntry.all_tenants_unscoped.get(action="team.remove")
    assert entry.actor == owner
    assert entry.object_id == str(target.pk)
    assert entry.before == {"email": "manager@acme.test", "role": "manager"}


def test_a_removed_member_loses_the_console(client_for, acme, owner, manager):
    target = membership_of(acme, manager)
    client_for(owner).post(f"/manage/team/{target.pk}/remove/")
    assert client_for(manager).get("/manage/").status_code == 404


def test_the_last_owner_cannot_be_removed(client_for, acme, owner):
    target = membership_of(acme, owner)
    response = client_for(owner).post(f"/manage/team/{target.pk}/remove/")
    assert messages_of(response) == [str(LAST_OWNER)]
    with tenant_scope(acme):
        assert Membership.objects.filter(user=owner).exists()
    assert actions(acme) == []


def test_an_admin_cannot_remove_an_owner(client_for, acme, owner, admin):
    target = membership_of(acme, owner)
    response = client_for(admin).post(f"/manage/team/{target.pk}/remove/")
    assert messages_of(response) == [str(ONLY_OWNER_GRANTS_OWNER)]
    with tenant_scope(acme):
        assert Membership.objects.filter(user=owner).exists()


# Revoking invitations


def test_it_revokes_an_invitation(client_for, acme, owner):
    invitation = InvitationFactory(tenant=acme, email="new@example.test")
    response = client_for(owner).post(f"/manage/team/invitations/{invitation.pk}/revoke/")
    assert response.status_code == 302
    assert response["Location"] == "/manage/team/"
    assert messages_of(response) == ["Invitation revoked."]
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.REVOKED
    entry = AuditEntry.all_tenants_unscoped.get(action="team.invite_revoke")
    assert entry.actor == owner
    assert (entry.before, entry.after) == ({"status": "pending"}, {"status": "revoked"})


def test_revoking_twice_says_the_invitation_is_no_longer_valid(client_for, acme, owner):
    invitation = InvitationFactory(tenant=acme, status=Invitation.Status.REVOKED)
    response = client_for(owner).post(f"/manage/team/invitations/{invitation.pk}/revoke/")
    assert messages_of(response) == ["This invitation is no longer valid."]
    assert actions(acme) == []


def test_a_revoked_invitation_link_is_gone(client_for, acme, owner):
    invitation = InvitationFactory(tenant=acme, email="new@example.test")
    client_for(owner).post(f"/manage/team/invitations/{invitation.pk}/revoke/")
    user = UserFactory(email="new@example.test")
    assert client_for(user).get(f"/invite/{invitation.token}/").status_code == 410


# Accepting an invitation


def test_an_anonymous_visitor_is_asked_to_sign_in_and_the_token_is_remembered(client_for, acme):
    invitation = InvitationFactory(tenant=acme, email="new@example.test", role=Role.FINANCE)
    client = client_for(None)
    response = client.get(f"/invite/{invitation.token}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "new@example.test" in html
    assert "Finance" in html
    assert client.client.session[INVITATION_SESSION_KEY] == invitation.token


def test_the_addressee_sees_the_invitation_and_accepts_it(client_for, acme, owner):
    invitation = InvitationFactory(
        tenant=acme, email="new@example.test", role=Role.ANALYST, invited_by=owner
    )
    user = UserFactory(email="new@example.test")
    client = client_for(user)
    page = client.get(f"/invite/{invitation.token}/")
    assert page.status_code == 200
    assert "Accept invitation" in page.content.decode()
    response = client.post(f"/invite/{invitation.token}/")
    assert response.status_code == 302
    assert response["Location"] == "/manage/"
    assert membership_of(acme, user).role == Role.ANALYST
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.ACCEPTED
    assert invitation.accepted_at is not None
    entry = AuditEntry.all_tenants_unscoped.get(action="team.join")
    assert entry.tenant == acme
    assert entry.actor == user
    assert entry.after == {"email": "new@example.test", "role": "analyst"}
    assert client.get("/manage/").status_code == 200


def test_accepting_forgets_the_remembered_token(client_for, acme):
    invitation = InvitationFactory(tenant=acme, email="new@example.test")
    user = UserFactory(email="new@example.test")
    client = client_for(user)
    session = client.client.session
    session[INVITATION_SESSION_KEY] = invitation.token
    session.save()
    client.post(f"/invite/{invitation.token}/")
    assert INVITATION_SESSION_KEY not in client.client.session


def test_someone_signed_in_with_another_address_cannot_accept(client_for, acme):
    invitation = InvitationFactory(tenant=acme, email="new@example.test")
    intruder = UserFactory(email="intruder@example.test")
    response = client_for(intruder).post(f"/invite/{invitation.token}/")
    assert response.status_code == 302
    assert response["Location"] == f"/invite/{invitation.token}/"
    assert messages_of(response) == [str(INVITATION_WRONG_EMAIL)]
    with tenant_scope(acme):
        assert not Membership.objects.filter(user=intruder).exists()
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING
    assert actions(acme) == []


@pytest.mark.parametrize("status", [Invitation.Status.ACCEPTED, Invitation.Status.REVOKED])
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_used_invitation_answers_410_gone(client_for, acme, status, method):
    invitation = InvitationFactory(tenant=acme, email="new@example.test", status=status)
    user = UserFactory(email="new@example.test")
    response = getattr(client_for(user), method)(f"/invite/{invitation.token}/")
    assert response.status_code == 410
    assert "This invitation is no longer valid" in response.content.decode()
    with tenant_scope(acme):
        assert not Membership.objects.filter(user=user).exists()


def test_an_anonymous_visitor_with_a_used_invitation_gets_410(client_for, acme):
    invitation = InvitationFactory(tenant=acme, status=Invitation.Status.ACCEPTED)
    client = client_for(None)
    assert client.get(f"/invite/{invitation.token}/").status_code == 410
    assert INVITATION_SESSION_KEY not in client.client.session


def test_an_invitation_is_accepted_only_once_in_a_second_session(client_for, acme):
    invitation = InvitationFactory(tenant=acme, email="new@example.test")
    user = UserFactory(email="new@example.test")
    first, second = client_for(user), client_for(user)
    assert second.get(f"/invite/{invitation.token}/").status_code == 200
    first.post(f"/invite/{invitation.token}/")
    assert second.post(f"/invite/{invitation.token}/").status_code == 410
    assert actions(acme) == ["team.join"]


@pytest.mark.parametrize("token", ["nope", "x" * 200, "%00", "..%2F..", "%F0%9F%98%80"])
def test_an_unknown_or_malformed_token_is_a_404(client_for, acme, token):
    assert client_for(None).get(f"/invite/{token}/").status_code == 404


def test_an_invitee_who_signs_in_comes_back_to_the_invitation(client_for, acme):
    invitation = InvitationFactory(tenant=acme, email="new@example.test")
    UserFactory(email="new@example.test")
    client = client_for(None)
    client.get(f"/invite/{invitation.token}/")
    response = client.post("/accounts/login/", {"login": "new@example.test", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == f"/invite/{invitation.token}/"


def test_an_invitee_may_sign_up_where_partner_sign_up_is_closed_without_becoming_a_partner(
    client_for, acme
):
    Tenant.objects.filter(pk=acme.pk).update(partner_signup_open=False)
    invitation = InvitationFactory(tenant=acme, email="new@example.test")
    client = client_for(None)
    assert client.get("/accounts/signup/").status_code == 200
    assert "Sign Up Closed" in client.get("/accounts/signup/").content.decode()
    client.get(f"/invite/{invitation.token}/")
    assert "Sign Up Closed" not in client.get("/accounts/signup/").content.decode()
    response = client.post(
        "/accounts/signup/",
        {"email": "new@example.test", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    user = User.objects.get(email="new@example.test")
    with tenant_scope(acme):
        assert not PartnerProfile.objects.filter(user=user).exists()
        assert not Membership.objects.filter(user=user).exists()


# Expiry and re-sending


def expire(invitation: Invitation) -> None:
    Invitation.all_tenants_unscoped.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(hours=1)
    )
    invitation.refresh_from_db()


def test_the_team_page_shows_each_invitations_expiry(client_for, acme, owner):
    fresh = InvitationFactory(tenant=acme, email="fresh@example.test")
    old = InvitationFactory(tenant=acme, email="old@example.test")
    expire(old)
    html = client_for(owner).get("/manage/team/").content.decode()
    rows = dict(re.findall(r'<tr data-invitation="([^"]+)">(.*?)</tr>', html, re.S))
    assert fresh.expires_at.strftime("%Y-%m-%d %H:%M") in rows["fresh@example.test"]
    assert "expired" not in rows["fresh@example.test"]
    assert "expired" in rows["old@example.test"]
    assert old.expires_at.strftime("%Y-%m-%d %H:%M") in rows["old@example.test"]
    for invitation in (fresh, old):
        assert f"/manage/team/invitations/{invitation.pk}/resend/" in html


def test_an_analyst_is_not_offered_re_sending(client_for, acme, owner, analyst):
    InvitationFactory(tenant=acme)
    assert "/resend/" not in client_for(analyst).get("/manage/team/").content.decode()


def test_it_re_sends_an_expired_invitation_and_the_new_link_works(
    client_for, acme, owner, run_jobs, django_capture_on_commit_callbacks
):
    invitation = InvitationFactory(tenant=acme, email="new@example.test", invited_by=owner)
    expire(invitation)
    old_token = invitation.token
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(owner).post(f"/manage/team/invitations/{invitation.pk}/resend/")
    assert (response.status_code, response["Location"]) == (302, "/manage/team/")
    assert messages_of(response) == ["Invitation sent again to new@example.test."]
    run_jobs()
    invitation.refresh_from_db()
    assert not invitation.is_expired
    [message] = mail.outbox
    assert f"http://acme.localhost/invite/{invitation.token}/" in message.body
    assert actions(acme) == ["team.invite_resend"]

    user = UserFactory(email="new@example.test")
    client = client_for(user)
    assert client.get(f"/invite/{old_token}/").status_code == 404  # the old link is dead
    assert client.post(f"/invite/{invitation.token}/")["Location"] == "/manage/"
    assert membership_of(acme, user).role == Role.MANAGER


def test_re_sending_a_revoked_invitation_says_it_is_no_longer_valid(client_for, acme, owner):
    invitation = InvitationFactory(tenant=acme, status=Invitation.Status.REVOKED)
    response = client_for(owner).post(f"/manage/team/invitations/{invitation.pk}/resend/")
    assert messages_of(response) == ["This invitation is no longer valid."]
    assert actions(acme) == []


def test_re_sending_is_for_team_managers_only(client_for, acme, owner, analyst, manager):
    invitation = InvitationFactory(tenant=acme)
    for user in (analyst, manager):
        response = client_for(user).post(f"/manage/team/invitations/{invitation.pk}/resend/")
        assert response.status_code == 403
    assert actions(acme) == []


def test_re_sending_another_workspaces_invitation_is_a_404(client_for, acme, owner, globex):
    invitation = InvitationFactory(tenant=globex)
    response = client_for(owner).post(f"/manage/team/invitations/{invitation.pk}/resend/")
    assert response.status_code == 404


def test_re_sending_needs_a_post(client_for, acme, owner):
    invitation = InvitationFactory(tenant=acme)
    response = client_for(owner).get(f"/manage/team/invitations/{invitation.pk}/resend/")
    # A GET (a reload) goes back to the team page and re-sends nothing (prm.post_only).
    assert response.status_code == 302 and response["Location"] == "/manage/team/"
    assert len(mail.outbox) == 0


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_expired_link_says_to_ask_for_a_new_one(client_for, acme, method):
    invitation = InvitationFactory(tenant=acme, email="new@example.test")
    expire(invitation)
    user = UserFactory(email="new@example.test")
    response = getattr(client_for(user), method)(f"/invite/{invitation.token}/")
    assert response.status_code == 410
    html = response.content.decode()
    assert "This invitation has expired" in html
    assert "Ask the person who invited you to send it again" in html
    with tenant_scope(acme):
        assert not Membership.objects.filter(user=user).exists()


def test_an_anonymous_visitor_with_an_expired_link_is_not_remembered(client_for, acme):
    invitation = InvitationFactory(tenant=acme)
    expire(invitation)
    client = client_for(None)
    response = client.get(f"/invite/{invitation.token}/")
    assert response.status_code == 410
    assert "This invitation has expired" in response.content.decode()
    assert INVITATION_SESSION_KEY not in client.client.session


def test_an_expired_invitation_does_not_open_closed_sign_up(client_for, acme):
    Tenant.objects.filter(pk=acme.pk).update(partner_signup_open=False)
    invitation = InvitationFactory(tenant=acme, email="new@example.test")
    client = client_for(None)
    client.get(f"/invite/{invitation.token}/")  # remembered while valid
    expire(invitation)
    assert "Sign Up Closed" in client.get("/accounts/signup/").content.decode()
