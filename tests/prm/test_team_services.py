from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from prm.models import AuditEntry, Invitation, Job, Membership, Role
from prm.services import team
from prm.services.errors import (
    ALREADY_INVITED,
    ALREADY_MEMBER,
    INVITATION_EXPIRED,
    INVITATION_NOT_PENDING,
    INVITATION_WRONG_EMAIL,
    LAST_OWNER,
    ONLY_OWNER_GRANTS_OWNER,
    ServiceError,
)
from tests.factories import InvitationFactory, MembershipFactory, UserFactory


def member(user) -> Membership:  # type: ignore[no-untyped-def]
    return Membership.objects.get(user=user)


def audit(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action))


# invitation_send


def test_it_sends_an_invitation_by_e_mail_once_the_transaction_commits(
    in_acme, owner, run_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = team.invitation_send(
            tenant=in_acme, actor=member(owner), email=" New@Example.TEST ", role=Role.MANAGER
        )
        assert mail.outbox == []  # nothing leaves before commit
    run_jobs()
    assert invitation.email == "new@example.test"
    assert invitation.status == Invitation.Status.PENDING
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new@example.test"]
    assert "Acme" in message.subject
    assert f"http://acme.localhost/invite/{invitation.token}/" in message.body
    assert "owner@acme.test" in message.body
    job = Job.objects.get(func="prm.emails.send_invitation")
    assert job.tenant == in_acme
    assert job.kwargs == {"invitation_id": str(invitation.pk)}
    assert job.status == Job.Status.DONE


def test_it_records_who_invited_whom_in_the_audit_log(in_acme, owner):
    invitation = team.invitation_send(
        tenant=in_acme, actor=member(owner), email="new@example.test", role=Role.ANALYST
    )
    [entry] = audit("team.invite")
    assert entry.actor == owner
    assert entry.actor_email == "owner@acme.test"
    assert entry.object_type == "invitation"
    assert entry.object_id == str(invitation.pk)
    assert entry.before == {}
    assert entry.after == {"email": "new@example.test", "role": "analyst"}


def test_it_does_not_mail_a_revoked_invitation(
    in_acme, owner, run_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = team.invitation_send(
            tenant=in_acme, actor=member(owner), email="new@example.test", role=Role.MANAGER
        )
    team.invitation_revoke(tenant=in_acme, actor=owner, invitation=invitation)
    run_jobs()
    assert mail.outbox == []


def test_it_refuses_a_second_pending_invitation_to_the_same_address(in_acme, owner):
    team.invitation_send(
        tenant=in_acme, actor=member(owner), email="new@example.test", role=Role.MANAGER
    )
    with pytest.raises(ServiceError) as exc:
        team.invitation_send(
            tenant=in_acme, actor=member(owner), email="NEW@example.test", role=Role.ANALYST
        )
    assert exc.value.message == ALREADY_INVITED
    assert Invitation.objects.count() == 1
    assert len(audit("team.invite")) == 1
    assert Job.objects.count() == 1


def test_it_invites_the_address_again_after_a_revocation(in_acme, owner):
    first = team.invitation_send(
        tenant=in_acme, actor=member(owner), email="new@example.test", role=Role.MANAGER
    )
    team.invitation_revoke(tenant=in_acme, actor=owner, invitation=first)
    second = team.invitation_send(
        tenant=in_acme, actor=member(owner), email="new@example.test", role=Role.MANAGER
    )
    assert second.pk != first.pk


def test_the_same_address_may_be_invited_by_two_tenants(in_acme, owner, globex):
    InvitationFactory(tenant=globex, email="new@example.test")
    team.invitation_send(
        tenant=in_acme, actor=member(owner), email="new@example.test", role=Role.MANAGER
    )
    assert Invitation.objects.get().email == "new@example.test"


def test_it_refuses_to_invite_someone_already_on_the_team(in_acme, owner, manager):
    with pytest.raises(ServiceError) as exc:
        team.invitation_send(
            tenant=in_acme, actor=member(owner), email="Manager@Acme.test", role=Role.ANALYST
        )
    assert exc.value.message == ALREADY_MEMBER
    assert not Invitation.objects.exists()
    assert not audit("team.invite")


def test_a_member_of_another_tenant_may_be_invited(in_acme, owner, outsider):
    invitation = team.invitation_send(
        tenant=in_acme, actor=member(owner), email="owner@globex.test", role=Role.ANALYST
    )
    assert invitation.email == "owner@globex.test"


def test_only_an_owner_invites_an_owner(in_acme, owner, admin):
    with pytest.raises(ServiceError) as exc:
        team.invitation_send(
            tenant=in_acme, actor=member(admin), email="boss@example.test", role=Role.OWNER
        )
    assert exc.value.message == ONLY_OWNER_GRANTS_OWNER
    assert not Invitation.objects.exists()
    invitation = team.invitation_send(
        tenant=in_acme, actor=member(owner), email="boss@example.test", role=Role.OWNER
    )
    assert invitation.role == Role.OWNER


# invitation_revoke


def test_it_revokes_a_pending_invitation_with_an_audit_row(in_acme, owner):
    invitation = InvitationFactory(tenant=in_acme)
    team.invitation_revoke(tenant=in_acme, actor=owner, invitation=invitation)
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.REVOKED
    [entry] = audit("team.invite_revoke")
    assert entry.actor == owner
    assert entry.object_id == str(invitation.pk)
    assert entry.before == {"status": "pending"}
    assert entry.after == {"status": "revoked"}


@pytest.mark.parametrize("status", [Invitation.Status.ACCEPTED, Invitation.Status.REVOKED])
def test_it_refuses_to_revoke_an_invitation_that_is_not_pending(in_acme, owner, status):
    invitation = InvitationFactory(tenant=in_acme, status=status)
    with pytest.raises(ServiceError) as exc:
        team.invitation_revoke(tenant=in_acme, actor=owner, invitation=invitation)
    assert exc.value.message == INVITATION_NOT_PENDING
    invitation.refresh_from_db()
    assert invitation.status == status
    assert not audit("team.invite_revoke")


# invitation_accept


def test_accepting_an_invitation_makes_the_user_a_member_with_its_role(in_acme, owner):
    invitation = InvitationFactory(tenant=in_acme, email="new@example.test", role=Role.FINANCE)
    user = UserFactory(email="new@example.test")
    membership = team.invitation_accept(tenant=in_acme, user=user, invitation=invitation)
    assert membership.role == Role.FINANCE
    assert member(user) == membership
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.ACCEPTED
    assert invitation.accepted_at is not None
    [entry] = audit("team.join")
    assert entry.actor == user
    assert entry.object_id == str(membership.pk)
    assert entry.before == {}
    assert entry.after == {"email": "new@example.test", "role": "finance"}


def test_the_invitation_e_mail_is_compared_without_case(in_acme):
    invitation = InvitationFactory(tenant=in_acme, email="New@Example.test")
    user = UserFactory(email="new@example.test")
    team.invitation_accept(tenant=in_acme, user=user, invitation=invitation)
    assert Membership.objects.filter(user=user).exists()


def test_an_invitation_is_accepted_only_by_its_addressee(in_acme):
    invitation = InvitationFactory(tenant=in_acme, email="new@example.test")
    intruder = UserFactory(email="intruder@example.test")
    with pytest.raises(ServiceError) as exc:
        team.invitation_accept(tenant=in_acme, user=intruder, invitation=invitation)
    assert exc.value.message == INVITATION_WRONG_EMAIL
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING
    assert not Membership.objects.filter(user=intruder).exists()


@pytest.mark.parametrize("status", [Invitation.Status.ACCEPTED, Invitation.Status.REVOKED])
def test_an_invitation_is_accepted_only_once(in_acme, status):
    invitation = InvitationFactory(tenant=in_acme, email="new@example.test", status=status)
    user = UserFactory(email="new@example.test")
    with pytest.raises(ServiceError) as exc:
        team.invitation_accept(tenant=in_acme, user=user, invitation=invitation)
    assert exc.value.message == INVITATION_NOT_PENDING
    assert not Membership.objects.filter(user=user).exists()


def test_accepting_as_an_existing_member_keeps_the_current_role(in_acme, analyst):
    invitation = InvitationFactory(tenant=in_acme, email="analyst@acme.test", role=Role.ADMIN)
    membership = team.invitation_accept(tenant=in_acme, user=analyst, invitation=invitation)
    assert membership.role == Role.ANALYST
    assert not audit("team.join")


# membership_change_role


def test_it_changes_a_role_with_before_and_after_in_the_audit_log(in_acme, owner, manager):
    changed = team.membership_change_role(
        tenant=in_acme, actor=member(owner), membership=member(manager), role=Role.FINANCE
    )
    assert changed.role == Role.FINANCE
    assert member(manager).role == Role.FINANCE
    [entry] = audit("team.role_change")
    assert entry.actor == owner
    assert entry.object_id == str(changed.pk)
    assert entry.before == {"role": "manager"}
    assert entry.after == {"role": "finance"}


def test_setting_the_same_role_changes_nothing(in_acme, owner, manager):
    team.membership_change_role(
        tenant=in_acme, actor=member(owner), membership=member(manager), role=Role.MANAGER
    )
    assert not audit("team.role_change")


def test_an_admin_may_not_make_someone_an_owner(in_acme, owner, admin, manager):
    with pytest.raises(ServiceError) as exc:
        team.membership_change_role(
            tenant=in_acme, actor=member(admin), membership=member(manager), role=Role.OWNER
        )
    assert exc.value.message == ONLY_OWNER_GRANTS_OWNER
    assert member(manager).role == Role.MANAGER


def test_an_admin_may_not_demote_an_owner(in_acme, owner, admin):
    with pytest.raises(ServiceError) as exc:
        team.membership_change_role(
            tenant=in_acme, actor=member(admin), membership=member(owner), role=Role.ANALYST
        )
    assert exc.value.message == ONLY_OWNER_GRANTS_OWNER
    assert member(owner).role == Role.OWNER
    assert not audit("team.role_change")


def test_an_admin_may_change_other_roles(in_acme, owner, admin, analyst):
    team.membership_change_role(
        tenant=in_acme, actor=member(admin), membership=member(analyst), role=Role.MANAGER
    )
    assert member(analyst).role == Role.MANAGER


def test_an_owner_may_promote_someone_to_owner(in_acme, owner, admin):
    team.membership_change_role(
        tenant=in_acme, actor=member(owner), membership=member(admin), role=Role.OWNER
    )
    assert member(admin).role == Role.OWNER


def test_the_last_owner_cannot_step_down(in_acme, owner, admin):
    with pytest.raises(ServiceError) as exc:
        team.membership_change_role(
            tenant=in_acme, actor=member(owner), membership=member(owner), role=Role.ADMIN
        )
    assert exc.value.message == LAST_OWNER
    assert member(owner).role == Role.OWNER
    assert not audit("team.role_change")


def test_one_of_two_owners_may_step_down(in_acme, owner):
    second = MembershipFactory(tenant=in_acme, role=Role.OWNER)
    team.membership_change_role(
        tenant=in_acme, actor=member(owner), membership=member(owner), role=Role.ADMIN
    )
    assert member(owner).role == Role.ADMIN
    assert Membership.objects.get(pk=second.pk).role == Role.OWNER


def test_owners_of_other_tenants_do_not_count_towards_the_last_owner(in_acme, owner, outsider):
    with pytest.raises(ServiceError) as exc:
        team.membership_change_role(
            tenant=in_acme, actor=member(owner), membership=member(owner), role=Role.ADMIN
        )
    assert exc.value.message == LAST_OWNER


# membership_remove


def test_it_removes_a_member_with_an_audit_row(in_acme, owner, manager):
    removed_id = member(manager).pk
    team.membership_remove(tenant=in_acme, actor=member(owner), membership=member(manager))
    assert not Membership.objects.filter(user=manager).exists()
    [entry] = audit("team.remove")
    assert entry.actor == owner
    assert entry.object_id == str(removed_id)
    assert entry.before == {"email": "manager@acme.test", "role": "manager"}
    assert entry.after == {}


def test_the_last_owner_cannot_be_removed(in_acme, owner):
    with pytest.raises(ServiceError) as exc:
        team.membership_remove(tenant=in_acme, actor=member(owner), membership=member(owner))
    assert exc.value.message == LAST_OWNER
    assert member(owner).role == Role.OWNER
    assert not audit("team.remove")


def test_an_owner_may_remove_another_owner(in_acme, owner):
    second = MembershipFactory(tenant=in_acme, role=Role.OWNER)
    team.membership_remove(tenant=in_acme, actor=member(owner), membership=second)
    assert not Membership.objects.filter(pk=second.pk).exists()


def test_an_admin_may_not_remove_an_owner(in_acme, owner, admin):
    with pytest.raises(ServiceError) as exc:
        team.membership_remove(tenant=in_acme, actor=member(admin), membership=member(owner))
    assert exc.value.message == ONLY_OWNER_GRANTS_OWNER
    assert Membership.objects.filter(user=owner).exists()


def test_removing_a_member_keeps_their_account(in_acme, owner, manager):
    team.membership_remove(tenant=in_acme, actor=member(owner), membership=member(manager))
    manager.refresh_from_db()
    assert manager.is_active


# Expiry and re-sending


def expire(invitation: Invitation) -> None:
    Invitation.all_tenants_unscoped.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    invitation.refresh_from_db()


def test_an_invitation_expires_after_the_configured_days(in_acme, owner, settings):
    settings.PRM_INVITATION_DAYS = 3
    before = timezone.now()
    invitation = team.invitation_send(
        tenant=in_acme, actor=member(owner), email="new@example.test", role=Role.ANALYST
    )
    assert before + timedelta(days=3) <= invitation.expires_at <= timezone.now() + timedelta(days=3)
    assert not invitation.is_expired


def test_the_default_is_seven_days(in_acme, owner):
    invitation = team.invitation_send(
        tenant=in_acme, actor=member(owner), email="new@example.test", role=Role.ANALYST
    )
    assert timedelta(days=7) - (invitation.expires_at - invitation.created_at) < timedelta(
        seconds=5
    )


def test_an_expired_invitation_cannot_be_accepted(in_acme):
    invitation = InvitationFactory(tenant=in_acme, email="new@example.test")
    expire(invitation)
    user = UserFactory(email="new@example.test")
    with pytest.raises(ServiceError) as exc:
        team.invitation_accept(tenant=in_acme, user=user, invitation=invitation)
    assert exc.value.message == INVITATION_EXPIRED
    assert not Membership.objects.filter(user=user).exists()
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING


def test_it_re_sends_with_a_new_token_a_new_expiry_an_audit_row_and_an_e_mail_after_commit(
    in_acme, owner, run_jobs, django_capture_on_commit_callbacks
):
    invitation = InvitationFactory(tenant=in_acme, email="new@example.test", invited_by=owner)
    expire(invitation)
    old_token, old_expiry = invitation.token, invitation.expires_at
    with django_capture_on_commit_callbacks(execute=True):
        renewed = team.invitation_resend(tenant=in_acme, actor=member(owner), invitation=invitation)
        assert mail.outbox == []  # nothing leaves before commit
    run_jobs()
    renewed.refresh_from_db()
    assert renewed.pk == invitation.pk
    assert renewed.token != old_token
    assert renewed.expires_at > timezone.now() + timedelta(days=6)
    assert renewed.status == Invitation.Status.PENDING
    [message] = mail.outbox
    assert f"http://acme.localhost/invite/{renewed.token}/" in message.body
    assert old_token not in message.body
    [entry] = audit("team.invite_resend")
    assert entry.actor == owner
    assert entry.object_id == str(invitation.pk)
    assert entry.before == {"expires_at": old_expiry.isoformat()}
    assert entry.after == {"expires_at": renewed.expires_at.isoformat()}


@pytest.mark.parametrize("status", [Invitation.Status.ACCEPTED, Invitation.Status.REVOKED])
def test_a_used_invitation_is_not_re_sent(in_acme, owner, status):
    invitation = InvitationFactory(tenant=in_acme, status=status)
    with pytest.raises(ServiceError) as exc:
        team.invitation_resend(tenant=in_acme, actor=member(owner), invitation=invitation)
    assert exc.value.message == INVITATION_NOT_PENDING
    assert audit("team.invite_resend") == []


def test_an_admin_cannot_re_send_an_owner_invitation(in_acme, owner, admin):
    invitation = InvitationFactory(tenant=in_acme, role=Role.OWNER)
    with pytest.raises(ServiceError) as exc:
        team.invitation_resend(tenant=in_acme, actor=member(admin), invitation=invitation)
    assert exc.value.message == ONLY_OWNER_GRANTS_OWNER


def test_inviting_an_address_again_replaces_its_expired_invitation(in_acme, owner):
    old = InvitationFactory(tenant=in_acme, email="new@example.test")
    expire(old)
    new = team.invitation_send(
        tenant=in_acme, actor=member(owner), email="new@example.test", role=Role.FINANCE
    )
    old.refresh_from_db()
    assert old.status == Invitation.Status.REVOKED
    assert (new.status, new.role, new.is_expired) == (Invitation.Status.PENDING, "finance", False)
    [withdrawn] = audit("team.invite_revoke")
    assert withdrawn.object_id == str(old.pk)


def test_an_invitation_that_expired_before_its_e_mail_left_is_not_sent(
    in_acme, owner, run_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = team.invitation_send(
            tenant=in_acme, actor=member(owner), email="new@example.test", role=Role.ANALYST
        )
        expire(invitation)
    run_jobs()
    assert mail.outbox == []
